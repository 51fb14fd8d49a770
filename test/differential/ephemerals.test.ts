/**
 * Differential: a session's ephemerals in ZooKeeper's order — as getEphemerals lists them, and as
 * closeSession deletes them (so the order in which watchers hear of it) — and what a close deletes
 * when writes are still in flight.
 */
import { CreateFlag } from '../../src/protocol/constants.ts';
import type { Call } from './harness.ts';
import { differential } from './harness.ts';

const NAMES = ['a', 'b', 'c', 'zz', 'q1', 'node-7', 'x/y', 'ab', 'ba', 'worker-10', 'worker-3', 'e', 'f', 'g', 'h'];

differential('ephemerals', {}, ({ scenario }) => {
  scenario('closeSession deletes in the order of the session\'s set', async (t) => {
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
    await t.events(w, NAMES.length + 2);
    await t.close(c);
    await t.events(w, NAMES.length);
  });

  // Which of the writes pipelined before a close are applied when ZooKeeper prepares it is a race,
  // and it decides where their paths fall in the order: the set of deletions is compared.
  scenario('closeSession with writes in flight deletes what they leave', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(w, 'tryCreate', r, '');
    for (const n of NAMES.slice(0, 6)) await t.op(c, 'tryCreate', `${r}/${n}`, '', { flags: CreateFlag.ephemeral });
    await t.op(w, 'tryAddWatch', r, 1);
    const inFlight: Call[] = [
      ['tryCreate', `${r}/late-1`, '', { flags: CreateFlag.ephemeral }],
      ['tryDelete', `${r}/b`],
      ['tryCreate', `${r}/b`, '', { flags: CreateFlag.ephemeral }],
      ['tryCreate', `${r}/late-2`, '', { flags: CreateFlag.ephemeralSequential }],
      ['tryDelete', `${r}/zz`],
      ['tryClose'],
    ];
    await t.pipelined(c, inFlight);
    await w.waitForEvents(12, 15_000).catch(() => undefined);
    t.note('events, as a set', w.events().map((e) => `${e.type} ${e.path}`).sort());
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
    await t.events(w, 40);
    await t.op(c, 'tryGetEphemerals', r);
    for (let i = 0; i < 40; i += 3) await t.op(c, 'tryDelete', `${r}/n${(i * 7919) % 1000}`);
    await t.op(c, 'tryGetEphemerals', r);
    await t.events(w, 14);
    await t.op(c, 'tryCreate', `${r}/last`, '', { flags: CreateFlag.ephemeral });
    await t.close(c);
    await t.events(w, 28);
  });
});
