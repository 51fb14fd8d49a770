/**
 * Differential: a session's ephemerals in ZooKeeper's order — as getEphemerals lists them, and as
 * closeSession deletes them (so the order in which watchers hear of it), with writes still in
 * flight when the close is prepared.
 */
import { CreateFlag } from '../../src/protocol/constants.ts';
import type { Call } from './harness.ts';
import { differential } from './harness.ts';

/** How long due watch events may take to arrive: generous, for a busy machine (the wait ends once they have). */
const EVENT_WAIT_MS = 15_000;

const NAMES = ['a', 'b', 'c', 'zz', 'q1', 'node-7', 'x/y', 'ab', 'ba', 'worker-10', 'worker-3', 'e', 'f', 'g', 'h'];

differential('ephemerals', {}, ({ scenario }) => {
  scenario('closeSession deletes in the order of its prepared set, writes in flight included', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(w, 'tryCreate', r, '');
    await t.op(w, 'tryCreate', `${r}/x`, '');
    await t.op(w, 'tryAddWatch', r, 1);
    for (const n of NAMES) await t.op(c, 'tryCreate', `${r}/${n}`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryGetEphemerals', r);
    await t.op(c, 'tryDelete', `${r}/c`);
    await t.op(c, 'tryCreate', `${r}/c`, '', { flags: CreateFlag.ephemeral });
    await t.op(c, 'tryGetEphemerals', '/');
    const inFlight: Call[] = [
      ['tryCreate', `${r}/late-1`, '', { flags: CreateFlag.ephemeral }],
      ['tryDelete', `${r}/b`],
      ['tryCreate', `${r}/b`, '', { flags: CreateFlag.ephemeral }],
      ['tryCreate', `${r}/late-2`, '', { flags: CreateFlag.ephemeralSequential }],
      ['tryDelete', `${r}/zz`],
      ['tryClose'],
    ];
    await t.pipelined(c, inFlight);
    // Every event, so that none is left to straggle in after the wait (ZooKeeper, on a busy
    // machine, delivers the close's deletions in more than one batch): NAMES created, c deleted and
    // created again, the five writes in flight, and the close's deletions (NAMES but zz, with
    // late-1 and late-2).
    const closed = NAMES.length - 1 + 2;
    await t.events(w, NAMES.length + 2 + 5 + closed, EVENT_WAIT_MS);
  });

  scenario('a session with many ephemerals (its table has grown)', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(w, 'tryCreate', r, '');
    await t.op(w, 'tryAddWatch', r, 1);
    const calls: Call[] = [];
    for (let i = 0; i < 40; i++) calls.push(['tryCreate', `${r}/n${(i * 7919) % 1000}`, '', { flags: CreateFlag.ephemeral }]);
    await t.pipelined(c, calls);
    await t.events(w, 40, EVENT_WAIT_MS);
    await t.op(c, 'tryGetEphemerals', r);
    for (let i = 0; i < 40; i += 3) await t.op(c, 'tryDelete', `${r}/n${(i * 7919) % 1000}`);
    await t.op(c, 'tryGetEphemerals', r);
    await t.events(w, 14, EVENT_WAIT_MS);
    await t.pipelined(c, [['tryCreate', `${r}/last`, '', { flags: CreateFlag.ephemeral }], ['tryClose']]);
    await t.events(w, 28, EVENT_WAIT_MS);
  });
});
