/**
 * The watch tables when a connection goes: none of its watches fires from then on, and they leave
 * the tables a slice at a time (sweep), so that a session with a great many watches does not stall
 * the event loop when it disconnects.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EventType } from '../../src/protocol/constants.ts';
import { WatchMode, WatchTable, type Watcher } from '../../src/server/watches/watch-table.ts';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

function watcher(sessionId: bigint): Watcher & { events: string[] } {
  const events: string[] = [];
  return { sessionId, authInfo: [], events, notify: (type, path) => void events.push(`${type} ${path}`) };
}

describe('watch table: a watcher that leaves', () => {
  it('is heard no more at once, and its watches leave a slice at a time', () => {
    const t = new WatchTable();
    const gone = watcher(1n);
    const stays = watcher(2n);
    for (let i = 0; i < 1000; i++) t.add(`/n${i}`, gone);
    t.add('/', gone, WatchMode.PersistentRecursive);
    t.add('/n5', stays);
    t.removeWatcher(gone);
    assert.equal(t.watcherCount, 1);
    assert.deepEqual([...t.bySession().keys()], [2n]);
    t.trigger('/n5', EventType.NodeDataChanged, 10, OPEN);
    t.trigger('/n7', EventType.NodeDataChanged, 11, OPEN);
    assert.deepEqual(gone.events, [], 'no event reaches a watcher that left, recursive or not');
    assert.deepEqual(stays.events, [`${EventType.NodeDataChanged} /n5`]);
    assert.deepEqual([...t.byPathSessions().keys()], [], 'wchp no longer lists it');
    let slices = 0;
    while (t.sweep(300)) slices++;
    assert.equal(slices, 3, '1001 watches in slices of 300');
    assert.equal(t.pathCount, 0);
    // With the recursive watch swept, a change elsewhere looks at the path alone again.
    t.add('/x', stays);
    t.trigger('/x/y', EventType.NodeCreated, 12, OPEN);
    assert.deepEqual(stays.events, [`${EventType.NodeDataChanged} /n5`]);
  });
});
