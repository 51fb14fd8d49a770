/**
 * A member at the edges: restarting from what its disk holds after a crash in an awkward place (a
 * leader's snapshot kept, it is durable at once, while the log's reset after it was not yet, so the
 * log on disk is the one from before the snapshot); a leader at the end of its term's zxids.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { resolveConfig } from '../../src/server/config.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { Member } from '../../src/server/quorum/member.ts';
import { MemoryMemberSnapshots } from '../../src/server/quorum/member-snapshots.ts';
import { MemoryNetwork } from '../../src/server/quorum/memory-transport.ts';
import { MemoryRaftStorage } from '../../src/server/quorum/raft-storage.ts';
import type { Entry, HardState } from '../../src/server/quorum/core/types.ts';
import { encodeSnapshot } from '../../src/server/storage/snapshot.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import { zxidOf } from '../../src/server/tree/zxid.ts';
import { Err, OpCode } from '../../src/protocol/constants.ts';

/**
 * A single member restarted on a log holding `logged` (then cut by a crash) and a leader's snapshot
 * at index 10 of term 2: it elects itself and writes its no-op right after the snapshot.
 */
async function restartsAfterSnapshot(logged: Entry[], hardState: HardState): Promise<void> {
  const env = realEnvironment;
  const storage = new MemoryRaftStorage(env);
  storage.load();
  await new Promise<void>((done) => storage.persist(logged, hardState, done));
  storage.crash();
  const tree = new DataTree({ sessionSecret: Buffer.alloc(32, 3) });
  tree.advance(zxidOf(2, 7));
  const snapshots = new MemoryMemberSnapshots();
  snapshots.save({ index: 10, term: 2, data: encodeSnapshot(tree, { index: 10, term: 2, zxid: zxidOf(2, 7), timeMs: 0 }) });
  const config = resolveConfig({ clientPort: 0, clientPortAddress: '127.0.0.1', tickTimeMs: 200 });
  const m = new Member({ id: 1, voters: [1], config, transport: new MemoryNetwork(env.scheduler).join(1), storage, snapshots, log: pino({ level: 'silent' }) });
  try {
    for (let i = 0; i < 300 && !m.isLeader; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(m.isLeader, true, 'it elects itself and writes on after the snapshot');
    assert.equal(m.raft.log.lastIndex, 11, 'its no-op follows the snapshot');
    assert.equal(m.server.tree.lastProcessedZxid, zxidOf(m.raft.term, 0));
  } finally {
    await m.close();
  }
}

describe('a member restarting', () => {
  it('from a leader\'s snapshot whose log reset the crash cut off: the log starts over after the snapshot', async () => {
    // The log before the snapshot: two entries of term 1 (the member had learned of term 2 since).
    await restartsAfterSnapshot([{ term: 1, index: 1, data: null }, { term: 1, index: 2, data: null }], { term: 2, vote: 1, commit: 2 });
  });

  it('from a leader\'s snapshot with nothing logged (a wiped member that stopped before its log was reset): the log starts after the snapshot', async () => {
    await restartsAfterSnapshot([], { term: 2, vote: 1, commit: 0 });
  });
});

describe('a leader whose term has used up its zxids', () => {
  it('steps down rather than propose a Txn whose zxid would fall in the next epoch; a new term begins', async () => {
    const env = realEnvironment;
    const config = resolveConfig({ clientPort: 0, clientPortAddress: '127.0.0.1', tickTimeMs: 200 });
    const m = new Member({ id: 1, voters: [1], config, transport: new MemoryNetwork(env.scheduler).join(1), log: pino({ level: 'silent' }) });
    try {
      for (let i = 0; i < 300 && !m.isLeader; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(m.isLeader, true);
      const term = m.raft.term;
      const last = m.raft.log.lastIndex;
      // What prep makes of the write after the 2^32nd of a term: the counter wraps into the next epoch.
      m.submit({ header: { sessionId: 0n, cxid: 0, zxid: zxidOf(term + 1, 0), timeMs: 0, type: OpCode.error }, txn: { kind: 'error', err: Err.OK } });
      assert.equal(m.raft.role, 'follower', 'it gave way at once');
      assert.equal(m.raft.log.lastIndex, last, 'nothing was proposed');
      for (let i = 0; i < 300 && !(m.isLeader && m.raft.term > term); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(m.raft.term > term && m.isLeader, 'a new term, its zxids counted from 0 again');
      assert.equal(m.server.tree.lastProcessedZxid, zxidOf(m.raft.term, 0));
    } finally {
      await m.close();
    }
  });
});
