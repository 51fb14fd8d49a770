/** Differential: one-shot, persistent and recursive watches, removal, and re-arming on reconnect. */
import assert from 'node:assert/strict';
import { EventType, WatcherType } from '../../src/protocol/constants.ts';
import { differential } from './harness.ts';

/** How long a due watch event may take to arrive: generous, for a busy machine (the wait ends once it has). */
const EVENT_WAIT_MS = 15_000;

differential('watches', {}, ({ scenario }) => {
  scenario('one-shot data, exist and child watches, and their order against replies', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/a`, '1');
    await t.op(w, 'tryGetData', `${r}/a`, true);
    await t.op(w, 'tryGetData', `${r}/a`, true); // the same watch twice fires once
    await t.op(w, 'tryExists', `${r}/b`, true);
    await t.op(w, 'tryGetChildren', r, true);
    await t.op(w, 'tryExists', `${r}/a`, true);
    // The writer's own watch fires before its reply.
    await t.op(c, 'tryGetData', `${r}/a`, true);
    const own = await t.op(c, 'trySetData', `${r}/a`, '2');
    assert.equal(own.err, 0);
    const ev = c.events();
    assert.equal(ev.length, 1);
    assert.equal(ev[0].type, EventType.NodeDataChanged);
    assert.ok(c.log.indexOf(ev[0]) < c.log.length - 1, 'event before the reply');
    await t.events(w, 1, EVENT_WAIT_MS);
    await t.op(c, 'tryCreate', `${r}/b`, '');
    await t.events(w, 2, EVENT_WAIT_MS);
    await t.op(c, 'trySetData', `${r}/a`, '3'); // no watch left
    await t.op(c, 'tryCreate', `${r}/c`, ''); // child watch consumed
    await t.op(w, 'tryGetChildren2', r, true);
    await t.op(c, 'tryDelete', `${r}/c`);
    await t.events(w, 1, EVENT_WAIT_MS);
  });

  scenario('delete fires NodeDeleted once and NodeChildrenChanged on the parent', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryCreate', `${r}/x`, '');
    await t.op(w, 'tryGetData', `${r}/x`, true);
    await t.op(w, 'tryGetChildren', `${r}/x`, true);
    await t.op(w, 'tryExists', `${r}/x`, true);
    await t.op(w, 'tryGetChildren', r, true);
    await t.op(c, 'tryDelete', `${r}/x`);
    await t.events(w, 2, EVENT_WAIT_MS);
    const types = w.events().map((e) => e.type);
    assert.deepEqual([...types].sort(), [EventType.NodeDeleted, EventType.NodeChildrenChanged].sort());
    // exists-watch on a missing node, then created and deleted
    await t.op(w, 'tryExists', `${r}/y`, true);
    await t.op(c, 'tryCreate', `${r}/y`, '');
    await t.op(c, 'tryDelete', `${r}/y`);
    await t.events(w, 1, EVENT_WAIT_MS);
    // a watch left on a node that failed to be read (NONODE getData sets none)
    await t.op(w, 'tryGetData', `${r}/z`, true);
    await t.op(c, 'tryCreate', `${r}/z`, '');
  });

  scenario('notification header zxid', async (t) => {
    const c = await t.client();
    await t.op(c, 'tryCreate', t.root, '');
    await t.op(c, 'tryExists', t.root, true);
    await t.op(c, 'trySetData', t.root, 'x');
    const ev = c.events()[0];
    t.note('notification zxid (raw)', ev.zxid);
  });

  scenario('persistent and recursive watches', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(w, 'tryAddWatch', r, 0);
    await t.op(w, 'tryAddWatch', `${r}/deep`, 1);
    await t.op(c, 'tryCreate', `${r}/deep`, '');
    await t.op(c, 'tryCreate', `${r}/deep/a`, '');
    await t.op(c, 'tryCreate', `${r}/deep/a/b`, '');
    await t.op(c, 'trySetData', `${r}/deep/a/b`, 'x');
    await t.op(c, 'trySetData', r, 'x');
    await t.op(c, 'trySetData', r, 'y');
    await t.op(c, 'tryDelete', `${r}/deep/a/b`);
    await t.events(w, 8, EVENT_WAIT_MS);
    await t.op(w, 'tryCheckWatches', r, WatcherType.Data);
    await t.op(w, 'tryCheckWatches', r, WatcherType.Children);
    await t.op(w, 'tryCheckWatches', `${r}/deep/a`, WatcherType.Any);
    await t.op(w, 'tryCheckWatches', r, WatcherType.Persistent);
    await t.op(w, 'tryRemoveWatches', r, WatcherType.Children);
    await t.op(c, 'tryCreate', `${r}/k`, '');
    await t.op(c, 'trySetData', r, 'z');
    await t.events(w, 1, EVENT_WAIT_MS);
    await t.op(w, 'tryRemoveWatches', r, WatcherType.Any);
    await t.op(w, 'tryRemoveWatches', `${r}/deep`, WatcherType.PersistentRecursive);
    await t.op(w, 'tryRemoveWatches', `${r}/deep`, WatcherType.Data);
    await t.op(c, 'tryCreate', `${r}/deep/q`, '');
    await t.op(c, 'trySetData', r, 'w');
    // a one-shot watch set over a persistent one
    await t.op(w, 'tryAddWatch', `${r}/k`, 0);
    await t.op(w, 'tryGetData', `${r}/k`, true);
    await t.op(c, 'trySetData', `${r}/k`, '1');
    await t.op(c, 'trySetData', `${r}/k`, '2');
    await t.events(w, 1, EVENT_WAIT_MS);
  });

  scenario('removeWatches and checkWatches', async (t) => {
    const c = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    await t.op(c, 'tryGetData', r, true);
    await t.op(c, 'tryGetChildren', r, true);
    await t.op(c, 'tryCheckWatches', r, WatcherType.Data);
    await t.op(c, 'tryCheckWatches', r, WatcherType.Children);
    await t.op(c, 'tryCheckWatches', r, WatcherType.Any);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.Data);
    await t.op(c, 'tryCheckWatches', r, WatcherType.Data);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.Data);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.Any);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.Any);
    await t.op(c, 'tryExists', `${r}/missing`, true);
    await t.op(c, 'tryCheckWatches', `${r}/missing`, WatcherType.Data);
    await t.op(c, 'tryRemoveWatches', `${r}/missing`, WatcherType.Children);
    await t.op(c, 'tryRemoveWatches', `${r}/missing`, WatcherType.Data);
    await t.op(c, 'tryCreate', `${r}/missing`, '');
    await t.op(c, 'tryAddWatch', r, 1);
    await t.op(c, 'tryCheckWatches', `${r}/missing`, WatcherType.Data);
    await t.op(c, 'tryCheckWatches', `${r}/missing`, WatcherType.PersistentRecursive);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.PersistentRecursive);
    await t.op(c, 'tryRemoveWatches', r, WatcherType.Any);
    await t.op(c, 'trySetData', r, 'x');
  });

  scenario('setWatches on reconnect delivers the missed events', async (t) => {
    const c = await t.client({ timeoutMs: 10_000 });
    const other = await t.client();
    const r = t.root;
    await t.op(other, 'tryCreate', r, '');
    for (const n of ['data', 'gone', 'kids', 'quiet', 'quietkids', 'persist']) await t.op(other, 'tryCreate', `${r}/${n}`, '');
    const last = await t.op(c, 'tryExists', r);
    const lastZxid = last.zxid;
    const { sessionId, passwd } = c.session;
    t.destroy(c);
    await t.op(other, 'trySetData', `${r}/data`, 'changed');
    await t.op(other, 'tryDelete', `${r}/gone`);
    await t.op(other, 'tryCreate', `${r}/kids/new`, '');
    await t.op(other, 'tryCreate', `${r}/born`, '');
    const c2 = await t.client({ sessionId, passwd, lastZxidSeen: lastZxid, timeoutMs: 10_000 });
    await t.op(c2, 'trySetWatches', {
      relativeZxid: lastZxid,
      dataWatches: [`${r}/data`, `${r}/gone`, `${r}/quiet`],
      existWatches: [`${r}/born`, `${r}/unborn`],
      childWatches: [`${r}/kids`, `${r}/quietkids`, `${r}/gone`],
    });
    const evs = c2.events();
    assert.ok(evs.length >= 4, 'missed events are delivered');
    await t.op(other, 'trySetData', `${r}/quiet`, 'now');
    await t.op(other, 'tryCreate', `${r}/quietkids/k`, '');
    await t.op(other, 'tryCreate', `${r}/unborn`, '');
    await t.events(c2, 3, EVENT_WAIT_MS);
    // SetWatches2 with persistent lists
    await t.op(c2, 'trySetWatches', { relativeZxid: 0, persistentWatches: [`${r}/persist`], persistentRecursiveWatches: [`${r}/kids`] }, true);
    await t.op(other, 'trySetData', `${r}/persist`, '1');
    await t.op(other, 'trySetData', `${r}/persist`, '2');
    await t.op(other, 'trySetData', `${r}/kids/new`, '1');
    await t.events(c2, 3, EVENT_WAIT_MS);
  });

  scenario('checkWatches and removeWatches on malformed paths, with and without recursive watches', async (t) => {
    const c = await t.client();
    const w = await t.client();
    const r = t.root;
    await t.op(c, 'tryCreate', r, '');
    const bad = ['rel', '', `${r}/`, `${r}//x`, `${r}/./x`];
    const probe = async (): Promise<void> => {
      for (const p of bad) {
        for (const type of [WatcherType.Children, WatcherType.Data, WatcherType.Any]) {
          await t.op(c, 'tryCheckWatches', p, type);
          await t.op(c, 'tryRemoveWatches', p, type);
        }
      }
    };
    await probe();
    await t.op(w, 'tryAddWatch', r, 0);
    await probe();
    await t.op(w, 'tryAddWatch', `${r}/deep`, 1);
    await probe();
    await t.op(w, 'tryRemoveWatches', `${r}/deep`, WatcherType.Any);
    await probe();
  });
});
