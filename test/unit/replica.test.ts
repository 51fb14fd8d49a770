/**
 * The replica core driven by hand: requests and committed Txns in, proposals, replies keyed by
 * (sessionId, cxid), handshake answers, ended sessions and watch events out; time only as given.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Err, EventType, OpCode } from '../../src/protocol/constants.ts';
import { Replica, type ReplicaOutput } from '../../src/server/replica/replica.ts';
import { DataTree, type ApplyResult } from '../../src/server/tree/data-tree.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';
import type { Watcher } from '../../src/server/watches/watches.ts';
import { writeCreateRequest, writeMultiRequest, writeSetDataRequest } from '../../src/protocol/requests.ts';
import { JuteReader, JuteWriter } from '../../src/protocol/jute.ts';

const OPEN = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

/** A create as a client sends it (flags 1: ephemeral). */
const create = (path: string, flags = 0): [number, JuteReader] => [OpCode.create, new JuteReader(writeCreateRequest(new JuteWriter(64), { path, data: null, acl: OPEN, flags }).bytes())];
const setData = (path: string): [number, JuteReader] => [OpCode.setData, new JuteReader(writeSetDataRequest(new JuteWriter(64), { path, data: null, version: -1 }).bytes())];

interface Out {
  proposed: TxnEntry[];
  replies: Array<{ sessionId: bigint; cxid: number; zxid: number; result: ApplyResult; failed: boolean }>;
  opened: Array<{ sessionId: bigint; passwd: Buffer }>;
  closed: bigint[];
  moved: bigint[];
}

function member(serverId: number, tree = new DataTree({ sessionSecret: Buffer.alloc(32, 7) })) {
  let time = 1_000;
  const out: Out = { proposed: [], replies: [], opened: [], closed: [], moved: [] };
  const output: ReplicaOutput = {
    propose: (e) => void out.proposed.push(e),
    reply: (sessionId, cxid, zxid, result, failed) => void out.replies.push({ sessionId, cxid, zxid, result, failed }),
    sessionOpened: (sessionId, passwd) => void out.opened.push({ sessionId, passwd }),
    sessionClosed: (sessionId) => void out.closed.push(sessionId),
    sessionMoved: (sessionId) => void out.moved.push(sessionId),
  };
  const replica = new Replica(tree, {
    serverId, tickTimeMs: 100, maxDataBytes: 1 << 20, enforceQuota: false,
    clock: { now: () => 1_700_000_000_000 + time, monotonic: () => time },
    log: { info() {} },
  }, output);
  /** The commit stage: everything proposed so far, committed in order. */
  const commitAll = (): void => {
    for (const e of out.proposed.splice(0)) replica.committed(e);
  };
  return { replica, out, commitAll, advance: (ms: number) => { time += ms; }, tree };
}

function watcher(sessionId: bigint): Watcher & { events: Array<[number, string]> } {
  const events: Array<[number, string]> = [];
  return { sessionId, authInfo: [], events, notify: (type, path) => void events.push([type, path]) };
}

describe('replica core', () => {
  it('answers its own writes by (sessionId, cxid) once their Txn is committed, in order', () => {
    const m = member(1);
    const id = m.replica.newSessionId();
    m.replica.openSession(id, 5_000);
    m.commitAll();
    assert.equal(m.out.opened.length, 1);
    m.replica.submit(id, 1, [], ...create('/a'));
    m.replica.submit(id, 2, [], ...create('/a'));
    assert.equal(m.out.replies.length, 0, 'nothing is answered before it is committed');
    m.commitAll();
    assert.deepEqual(m.out.replies.map((r) => [r.sessionId, r.cxid, r.result.err, r.failed]), [[id, 1, 0, false], [id, 2, Err.NODEEXISTS, true]]);
    assert.deepEqual(m.out.replies.map((r) => r.zxid), [2, 3]);
  });

  it('applies a Txn committed through another member: its watches fire, nobody here is answered', () => {
    const a = member(1);
    const b = member(2);
    const id = a.replica.newSessionId();
    a.replica.openSession(id, 5_000);
    a.replica.submit(id, 1, [], ...create('/x'));
    const w = watcher(99n);
    b.replica.watches.data.add('/x', w);
    b.replica.watches.child.add('/', w);
    const entries = [...a.out.proposed];
    a.commitAll();
    for (const e of entries) b.replica.committed(e);
    assert.equal(b.out.replies.length, 0);
    assert.equal(b.out.opened.length, 0);
    assert.deepEqual(w.events, [[EventType.NodeCreated, '/x'], [EventType.NodeChildrenChanged, '/']]);
    assert.equal(b.tree.lastProcessedZxid, a.tree.lastProcessedZxid);
  });

  it('session ids carry the member id in the top byte; any member with the same state checks the password', () => {
    const a = member(3);
    const id = a.replica.newSessionId();
    assert.equal(BigInt.asUintN(64, id) >> 56n, 3n);
    a.replica.openSession(id, 5_000);
    const entries = [...a.out.proposed];
    a.commitAll();
    const passwd = a.out.opened[0].passwd;
    const b = member(4);
    for (const e of entries) b.replica.committed(e);
    assert.equal(b.replica.reopenSession(id, passwd, 5_000), true);
    assert.equal(b.replica.reopenSession(id, Buffer.alloc(16), 5_000), false);
    const other = member(4, new DataTree({ sessionSecret: Buffer.alloc(32, 8) }));
    for (const e of entries) other.replica.committed(e);
    assert.equal(other.replica.reopenSession(id, passwd, 5_000), false, 'another ensemble secret, another password');
  });

  it('a write through a member that no longer holds the session fails SESSIONMOVED', () => {
    const m = member(1);
    const id = m.replica.newSessionId();
    m.replica.openSession(id, 5_000);
    m.commitAll();
    m.replica.sessions.add(id, 5_000, 0, 2);
    m.replica.submit(id, 1, [], ...setData('/'));
    m.commitAll();
    assert.deepEqual(m.out.replies, [], 'not answered: its connection is closed instead (ZOOKEEPER-710)');
    assert.deepEqual(m.out.moved, [id]);
    // A multi too: prep checks the session at each op, and the first fails the multi.
    const multi = new JuteReader(writeMultiRequest(new JuteWriter(64), [{ type: OpCode.setData, req: { path: '/', data: null, version: -1 } }]).bytes());
    m.replica.submit(id, 2, [], OpCode.multi, multi);
    m.commitAll();
    assert.deepEqual(m.out.replies, []);
    assert.deepEqual(m.out.moved, [id, id]);
  });

  it('a session a follower asked for is known to the leader once prepped: its next write may come before the leader applied it', () => {
    const leader = member(1);
    leader.replica.lead(leader.tree.lastProcessedZxid);
    const id = (2n << 56n) | 7n;
    const timeout = Buffer.alloc(4);
    timeout.writeInt32BE(5_000);
    leader.replica.submitForwarded(2, id, 0, [], OpCode.createSession, timeout);
    const [type, body] = create('/n');
    leader.replica.submitForwarded(2, id, 1, [], type, body.buf.subarray(body.offset, body.end));
    assert.deepEqual(leader.out.proposed.map((e) => e.txn.kind), ['createSession', 'create']);
  });

  it('a session whose expiry a leader began, and lost with its term, is live when the member leads again', () => {
    const m = member(1);
    const id = m.replica.newSessionId();
    m.replica.openSession(id, 1_000);
    m.commitAll();
    m.replica.lead(m.tree.lastProcessedZxid);
    m.advance(5_000);
    m.replica.tick();
    assert.equal(m.out.proposed.at(-1)?.header.type, OpCode.closeSession, 'it began the expiry');
    m.out.proposed.length = 0;
    // The closeSession is lost with the term; later the member leads again, its log applied.
    m.replica.follow(true);
    m.replica.lead(m.tree.lastProcessedZxid);
    assert.equal(m.replica.sessions.isLive(id), true);
    m.replica.submit(id, 1, [], ...create('/after'));
    assert.deepEqual(m.out.proposed.map((e) => e.txn.kind), ['create']);
  });

  it('a session moves to another member when its client reopens it there, not when that member only touches it', () => {
    const leader = member(1);
    const id = leader.replica.newSessionId();
    leader.replica.openSession(id, 5_000);
    leader.commitAll();
    leader.replica.lead(leader.tree.lastProcessedZxid);
    const forwardedSetData = (cxid: number): void => {
      const [type, body] = setData('/');
      leader.replica.submitForwarded(2, id, cxid, [], type, body.buf.subarray(body.offset, body.end));
    };
    leader.replica.touchFrom(id);
    forwardedSetData(1);
    leader.replica.reopenedOn(2, id);
    forwardedSetData(2);
    // A late touch from the member the client left changes nothing.
    leader.replica.touchFrom(id);
    forwardedSetData(3);
    const kinds = leader.out.proposed.map((e) => (e.txn.kind === 'error' ? e.txn.err : e.txn.kind));
    assert.deepEqual(kinds, [Err.SESSIONMOVED, 'setData', 'setData']);
  });

  it('expires a session only when a tick finds it past its deadline, through a closeSession Txn', () => {
    const m = member(1);
    const id = m.replica.newSessionId();
    m.replica.openSession(id, 1_000);
    m.replica.submit(id, 1, [], ...create('/e', 1));
    m.commitAll();
    assert.ok(m.tree.get('/e'));
    m.advance(900);
    m.replica.tick();
    assert.equal(m.out.proposed.length, 0, 'not yet');
    m.advance(500);
    m.replica.tick();
    assert.deepEqual(m.out.proposed.map((e) => e.header.type), [OpCode.closeSession]);
    m.commitAll();
    assert.deepEqual(m.out.closed, [id]);
    assert.equal(m.tree.get('/e'), undefined);
    assert.equal(m.out.replies.length, 1, 'the expiry itself is nobody\'s request');
  });
});
