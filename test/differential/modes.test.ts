/** Differential: the seven create modes, TTL and container reaping, ephemeral rules. */
import assert from 'node:assert/strict';
import { CreateFlag, OpCode } from '../../src/protocol/constants.ts';
import { differential } from './harness.ts';

/** How long a due watch event may take to arrive: generous, for a busy machine (it returns once it has). */
const EVENT_WAIT_MS = 15_000;

differential('modes', { extendedTypesEnabled: true, containerCheckIntervalMs: 200 }, ({ scenario }) => {
  scenario('create in all seven modes', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    for (let flags = 0; flags <= 6; flags++) {
      const ttl = flags === 5 || flags === 6 ? 60_000 : undefined;
      const r = await t.op(c, 'tryCreate', `${t.root}/m${flags}-`, `mode ${flags}`, { flags, ttl });
      assert.equal(r.err, 0, `mode ${flags}`);
    }
    // opcode 1 (no stat) and 15 for each non-TTL mode; TTL flags through plain create are rejected
    for (const flags of [0, 1, 2, 3, 4, 5]) {
      await t.op(c, 'tryCreate', `${t.root}/p${flags}-`, '', { flags, opcode: OpCode.create });
      await t.op(c, 'tryCreate', `${t.root}/q${flags}-`, '', { flags, opcode: OpCode.create2 });
    }
    await t.op(c, 'tryCreate', `${t.root}/cc`, '', { flags: 0, opcode: OpCode.createContainer });
    await t.op(c, 'tryCreate', `${t.root}/tt`, '', { flags: 0, ttl: 1000, opcode: OpCode.createTTL });
    await t.op(c, 'tryCreate', `${t.root}/t0`, '', { flags: 5, ttl: 0 });
    await t.op(c, 'tryCreate', `${t.root}/tneg`, '', { flags: 5, ttl: -5 });
    await t.op(c, 'tryCreate', `${t.root}/tbig`, '', { flags: 5, ttl: 2 ** 41 });
    await t.op(c, 'tryCreate', `${t.root}/f7`, '', { flags: 7 });
    await t.op(c, 'tryCreate', `${t.root}/fneg`, '', { flags: -1 });
    const list = (await t.op(c, 'tryGetChildren', t.root)).value!;
    assert.ok(list.length >= 7);
    for (const name of list.filter((n) => n.startsWith('m'))) await t.op(c, 'tryExists', `${t.root}/${name}`);
  });

  scenario('ephemerals and containers cannot hold the wrong children', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/eph`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryCreate', `${t.root}/eph/child`, '');
    await t.op(c, 'tryCreate', `${t.root}/eph/child`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryCreate', `${t.root}/eph/seq`, '', { flags: CreateFlag.persistentSequential });
    await t.op(c, 'tryCreate', `${t.root}/ttl`, '', { flags: CreateFlag.persistentWithTtl, ttl: 60_000 });
    await t.op(c, 'tryCreate', `${t.root}/ttl/child`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryCreate', `${t.root}/con`, '', { flags: CreateFlag.container });
    await t.op(c, 'tryCreate', `${t.root}/con/child`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryCreate', `${t.root}/con/child2`, '', { flags: CreateFlag.container });
    await t.op(c, 'tryGetChildren2', `${t.root}/con`);
  });

  scenario('containers are reaped once emptied, never before having children', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/never`, '', { flags: CreateFlag.container });
    await t.op(c, 'tryCreate', `${t.root}/con`, '', { flags: CreateFlag.container });
    await t.op(c, 'tryCreate', `${t.root}/con/x`, '');
    await t.op(c, 'tryExists', `${t.root}/con`, true);
    await t.op(c, 'tryDelete', `${t.root}/con/x`);
    await t.events(c, 1, EVENT_WAIT_MS);
    const gone = await t.op(c, 'tryExists', `${t.root}/con`);
    assert.notEqual(gone.err, 0, 'the emptied container was reaped');
    await t.sleep(500);
    await t.op(c, 'tryExists', `${t.root}/never`);
    await t.op(c, 'tryGetChildren', t.root);
  });

  scenario('TTL nodes expire once idle and childless', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryCreate', `${t.root}/short`, '', { flags: CreateFlag.persistentWithTtl, ttl: 300 });
    await t.op(c, 'tryCreate', `${t.root}/parent`, '', { flags: CreateFlag.persistentWithTtl, ttl: 300 });
    await t.op(c, 'tryCreate', `${t.root}/parent/kid`, '');
    await t.op(c, 'tryCreate', `${t.root}/long`, '', { flags: CreateFlag.persistentSequentialWithTtl, ttl: 600_000 });
    await t.op(c, 'tryExists', `${t.root}/short`, true);
    await t.events(c, 1, EVENT_WAIT_MS);
    await t.op(c, 'tryExists', `${t.root}/short`);
    await t.op(c, 'tryExists', `${t.root}/parent`);
    await t.op(c, 'tryGetChildren', t.root);
  });
});
