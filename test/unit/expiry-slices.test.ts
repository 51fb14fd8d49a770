/**
 * A storm of session expiries is ended a slice at a time: a tick marks every session past its
 * deadline closing at once (none is served from then on, as in SessionTrackerImpl), and proposes
 * the closeSession Txns of at most EXPIRIES_PER_SLICE of them; expireMore proposes the next slice.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Err, OpCode } from '../../src/protocol/constants.ts';
import { EXPIRIES_PER_SLICE, Replica } from '../../src/server/replica/replica.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';

const SESSIONS = EXPIRIES_PER_SLICE * 2 + 200;

function member() {
  let time = 1_000;
  const proposed: TxnEntry[] = [];
  const closed: bigint[] = [];
  const infoLines: object[] = [];
  const debugLines: object[] = [];
  const tree = new DataTree({ sessionSecret: Buffer.alloc(32, 7) });
  const replica = new Replica(tree, {
    serverId: 1, tickTimeMs: 100, maxDataBytes: 1 << 20, enforceQuota: false,
    clock: { now: () => 1_700_000_000_000 + time, monotonic: () => time },
    log: { info: (obj) => void infoLines.push(obj), debug: (obj) => void debugLines.push(obj) },
  }, {
    propose: (e) => void proposed.push(e),
    reply: () => {},
    sessionOpened: () => {},
    sessionClosed: (id) => void closed.push(id),
    sessionMoved: () => {},
  });
  const commitAll = (): void => {
    for (const e of proposed.splice(0)) replica.committed(e);
  };
  const ids: bigint[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const id = replica.newSessionId();
    replica.openSession(id, 1_000);
    ids.push(id);
  }
  commitAll();
  return { replica, tree, proposed, closed, infoLines, debugLines, commitAll, ids, advance: (ms: number) => { time += ms; } };
}

const closes = (proposed: TxnEntry[]): bigint[] => proposed.filter((e) => e.header.type === OpCode.closeSession).map((e) => e.header.sessionId);

describe('a storm of session expiries', () => {
  it('is proposed a slice per call, every session closing from the first', () => {
    const m = member();
    m.advance(5_000);
    assert.equal(m.replica.tick(), true, 'more are left');
    assert.equal(closes(m.proposed).length, EXPIRIES_PER_SLICE);
    for (const id of m.ids) {
      assert.equal(m.replica.sessions.isLive(id), false);
      assert.equal(m.replica.touch(id), false, 'a request of a session due is dropped');
      assert.throws(() => m.replica.sessions.check(id, 1), (e: { code?: number }) => e.code === Err.SESSIONEXPIRED);
    }
    // The first slice is applied before the next is proposed, as a turn of the event loop allows.
    m.commitAll();
    assert.equal(m.replica.expireMore(), true);
    assert.equal(m.replica.expireMore(), false, 'the last slice');
    assert.equal(m.replica.expireMore(), false, 'nothing is left');
    m.commitAll();
    assert.deepEqual([...m.closed].sort(), [...m.ids].sort(), 'each session ended once');
    assert.equal(m.replica.sessions.size, 0);
    assert.deepEqual(m.debugLines, [
      { sessions: EXPIRIES_PER_SLICE, left: SESSIONS - EXPIRIES_PER_SLICE },
      { sessions: EXPIRIES_PER_SLICE, left: SESSIONS - 2 * EXPIRIES_PER_SLICE },
      { sessions: SESSIONS - 2 * EXPIRIES_PER_SLICE, left: 0 },
    ], 'one debug line per slice');
    assert.equal(m.infoLines.length, SESSIONS, 'one info line per session, as ZooKeeper\'s "Expiring session"');
    assert.ok(m.infoLines.every((l) => /timeout of \d+ms exceeded/.test(String((l as { reason?: string }).reason))));
  });

  it('left unfinished by a leader that steps down: the sessions it did not end are live again', () => {
    const m = member();
    m.replica.lead(m.tree.lastProcessedZxid);
    m.advance(5_000);
    assert.equal(m.replica.tick(), true);
    const begun = closes(m.proposed);
    m.proposed.length = 0;
    m.replica.follow(true);
    assert.equal(m.replica.expireMore(), false, 'a follower proposes no end');
    assert.equal(m.proposed.length, 0);
    const notBegun = m.ids.filter((id) => !begun.includes(id));
    assert.equal(notBegun.length, SESSIONS - EXPIRIES_PER_SLICE);
    for (const id of notBegun) assert.equal(m.replica.sessions.isLive(id), true);
    // Leading again, with no new tick past their deadlines, it ends none of them.
    m.replica.lead(m.tree.lastProcessedZxid);
    assert.equal(m.replica.expireMore(), false);
    assert.equal(m.proposed.length, 0);
  });
});
