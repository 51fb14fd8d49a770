/**
 * Zxids at the boundary where Txns become entries: term in the high half, the place in the term in
 * the low half, the no-op at 0; derived alike on every member, after a restart, and by a leader
 * predicting the zxid of the entry it appends.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EntryZxids, zxidAt } from '../../src/server/quorum/entry-zxid.ts';
import type { Entry } from '../../src/server/quorum/core/types.ts';
import { TWO_32 } from '../../src/server/tree/zxid.ts';
import { TestCluster } from './cluster.ts';

const noop = (term: number, index: number): Entry => ({ term, index, data: null });
const txn = (term: number, index: number): Entry => ({ term, index, data: Buffer.from('t') });

describe('entry zxids', () => {
  it('count from each term\'s no-op', () => {
    const z = new EntryZxids(0, 0);
    const log = [noop(1, 1), txn(1, 2), txn(1, 3), noop(3, 4), txn(3, 5)];
    assert.deepEqual(log.map((e) => z.next(e)), [TWO_32, TWO_32 + 1, TWO_32 + 2, 3 * TWO_32, 3 * TWO_32 + 1]);
  });

  it('carry on after a restart from the last zxid and index applied', () => {
    const z = new EntryZxids(3 * TWO_32 + 1, 5);
    assert.equal(z.next(txn(3, 6)), 3 * TWO_32 + 2);
    assert.equal(z.next(noop(4, 7)), 4 * TWO_32);
  });

  it('refuse a term that does not open with its no-op, or goes back', () => {
    const z = new EntryZxids(0, 0);
    z.next(noop(2, 1));
    assert.throws(() => z.next(txn(3, 2)), /cannot start a term/);
    assert.throws(() => z.next(noop(1, 2)), /cannot start a term/);
  });

  it('run out at the end of a term\'s counter, as the leader must see before appending', () => {
    assert.equal(zxidAt(2, 10, 10 + TWO_32 - 1), 2 * TWO_32 + TWO_32 - 1);
    assert.equal(zxidAt(2, 10, 10 + TWO_32), null);
  });

  it('a leader\'s prediction matches what every member derives on apply', () => {
    const c = new TestCluster([1, 2, 3]);
    c.raft(1).campaign();
    c.stabilize();
    const predicted: number[] = [];
    for (const p of ['a', 'b']) {
      const r = c.raft(1);
      predicted.push(zxidAt(r.term, r.termStart, r.log.lastIndex + 1)!);
      c.propose(1, p);
    }
    c.stabilize();
    c.tickAll(1);
    for (const id of [1, 2, 3]) {
      const z = new EntryZxids(0, 0);
      const zxids = c.applied(id).map((e) => z.next(e));
      assert.deepEqual(zxids.slice(1), predicted, `member ${id}`);
    }
  });
});
