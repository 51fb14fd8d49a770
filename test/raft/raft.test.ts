/**
 * The consensus core in small clusters, step by step: elections, replication, the commit rule,
 * PreVote and CheckQuorum, log conflicts, restarts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { prng } from '../support/prng.ts';
import { TestCluster } from './cluster.ts';

function elect(c: TestCluster, id: number): void {
  c.raft(id).campaign();
  c.stabilize();
  assert.equal(c.leader(), id);
}

/**
 * Member 1, leading and cut off, steps down (CheckQuorum); once 2 and 3's lease on it lapses one of
 * them leads and commits 'b'; then 1 returns and its uncommitted tail is replaced. The new leader.
 */
function outvoteIsolated(c: TestCluster): number {
  c.tickAll(30);
  const leader = c.leader()!;
  assert.ok(leader === 2 || leader === 3);
  c.propose(leader, 'b');
  c.stabilize();
  c.heal();
  c.tickAll(30);
  return leader;
}

describe('raft core', () => {
  it('a single member elects itself and commits its proposals', () => {
    const c = new TestCluster([1]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    assert.deepEqual(c.payloads(1), ['a']);
  });

  it('three members elect one leader by timeout, and every member applies the same entries', () => {
    const c = new TestCluster([1, 2, 3]);
    c.tickAll(40);
    const leader = c.leader();
    assert.ok(leader !== null, 'a leader within 40 ticks');
    for (const id of [1, 2, 3]) if (id !== leader) assert.equal(c.raft(id).role, 'follower');
    for (const p of ['a', 'b', 'c']) c.propose(leader, p);
    c.stabilize();
    c.tickAll(2);
    for (const id of [1, 2, 3]) assert.deepEqual(c.payloads(id), ['a', 'b', 'c'], `member ${id}`);
  });

  it('a follower refuses to propose; a leader\'s first entry of its term is a no-op', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    assert.equal(c.propose(2, 'x'), false);
    c.tickAll(1);
    assert.deepEqual(c.applied(2).map((e) => e.data), [null]);
  });

  it('CheckQuorum: a leader cut off from the others steps down; the majority elects another', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(1);
    c.propose(1, 'lost');
    c.tickAll(30);
    assert.notEqual(c.raft(1).role, 'leader', 'the isolated leader stepped down');
    const leader = c.leader();
    assert.ok(leader === 2 || leader === 3);
    c.propose(leader, 'kept');
    c.stabilize();
    c.heal();
    c.tickAll(30);
    for (const id of [1, 2, 3]) assert.deepEqual(c.payloads(id), ['kept'], `member ${id}: the uncommitted tail is replaced`);
  });

  it('PreVote: a member that was cut off does not disrupt the leader when it returns', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 50; i++) {
      c.tick(3);
      c.tickAll(1);
    }
    assert.equal(c.raft(3).term, term, 'pre-votes do not raise its term');
    c.heal();
    c.tickAll(5);
    assert.equal(c.leader(), 1);
    assert.equal(c.raft(1).term, term);
  });

  it('without PreVote, that member\'s return costs the leader its term', () => {
    const c = new TestCluster([1, 2, 3], { preVote: false, checkQuorum: false });
    elect(c, 1);
    const term = c.raft(1).term;
    c.isolate(3);
    for (let i = 0; i < 50; i++) c.tick(3);
    c.stabilize();
    assert.ok(c.raft(3).term > term);
    c.heal();
    c.tickAll(40);
    assert.ok(c.raft(c.leader()!).term > term, 'a new election happened');
  });

  it('random partitions, elections and proposals: one leader per term, commits only onto its own term, same applied prefix', () => {
    // The cluster checks at every step that no term has two leaders and that a leader moves its
    // commit index only onto an entry of its own term (figure 8 of the Raft paper).
    for (let seed = 1; seed <= Number(process.env.RAFT_SEEDS ?? 40); seed++) {
      const next = prng(seed);
      const rand = (n: number): number => Math.floor(next() * n);
      const ids = [1, 2, 3, 4, 5];
      const c = new TestCluster(ids, { preVote: seed % 2 === 0, checkQuorum: seed % 2 === 0 });
      for (let step = 0; step < 300; step++) {
        const roll = rand(10);
        if (roll < 2) c.isolate(ids[rand(5)]);
        else if (roll < 3) c.heal();
        else if (roll < 5) {
          const l = c.leader();
          if (l !== null) c.propose(l, `s${seed}-${step}`);
        } else c.tickAll(1);
      }
      c.heal();
      c.tickAll(60);
      const leader = c.leader();
      assert.ok(leader !== null, `seed ${seed}: a leader after healing`);
      c.propose(leader, 'last');
      c.stabilize();
      c.tickAll(3);
      const reference = c.payloads(leader);
      for (const id of ids) assert.deepEqual(c.payloads(id), reference, `seed ${seed}: member ${id} applied the same`);
      assert.equal(reference.at(-1), 'last');
    }
  });

  it('a follower with a conflicting tail has it replaced by the leader\'s log', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.isolate(1);
    for (const p of ['x1', 'x2', 'x3']) c.propose(1, p);
    c.stabilize();
    const leader = outvoteIsolated(c);
    for (const id of [1, 2, 3]) assert.deepEqual(c.payloads(id), ['a', 'b'], `member ${id}`);
    assert.equal(c.raft(1).log.lastIndex, c.raft(leader).log.lastIndex);
  });

  it('a restarted member keeps its term, vote and log, and catches up', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    for (const p of ['a', 'b']) c.propose(1, p);
    c.stabilize();
    c.tickAll(1);
    const { term, vote } = c.raft(3);
    c.restart(3);
    assert.equal(c.raft(3).term, term);
    assert.equal(c.raft(3).vote, vote);
    c.propose(1, 'c');
    c.stabilize();
    c.tickAll(3);
    assert.deepEqual(c.payloads(3), ['a', 'b', 'c']);
  });

  it('flow control: a slow follower gets at most maxInflight appends at a time', () => {
    const c = new TestCluster([1, 2, 3], { maxInflight: 2, maxEntriesPerMessage: 1 });
    elect(c, 1);
    c.tickAll(1);
    for (let i = 0; i < 10; i++) c.propose(1, `p${i}`);
    const out = c.raft(1).ready();
    const toTwo = out.messages.filter((m) => m.to === 2 && m.type === 'app');
    assert.equal(toTwo.length, 2);
    c.raft(1).advance(out);
  });

  it('flow control by bytes: appends carry at most maxMessageBytes, and maxInflightBytes bound what is unanswered', () => {
    const c = new TestCluster([1, 2, 3], { maxInflight: 100, maxEntriesPerMessage: 100, maxMessageBytes: 250, maxInflightBytes: 400 });
    elect(c, 1);
    c.tickAll(1);
    for (let i = 0; i < 10; i++) c.propose(1, 'x'.repeat(100));
    const out = c.raft(1).ready();
    const toTwo = out.messages.filter((m) => m.to === 2 && m.type === 'app');
    assert.deepEqual(toTwo.map((m) => m.entries!.length), [2, 2], 'two entries per append, two appends (400 bytes) in flight');
    c.raft(1).advance(out);
    c.stabilize();
    c.tickAll(2);
    assert.equal(c.payloads(2).length, 10, 'and all of it arrives');
  });

  it('a single entry larger than maxMessageBytes still goes', () => {
    const c = new TestCluster([1, 2, 3], { maxMessageBytes: 10 });
    elect(c, 1);
    c.propose(1, 'y'.repeat(50));
    c.stabilize();
    assert.deepEqual(c.payloads(2), ['y'.repeat(50)]);
  });

  it('ReadIndex: a leader serves a read at its commit index once a quorum confirms it still leads', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    const committed = c.raft(1).log.committed;
    c.raft(1).readIndex('r1');
    c.stabilize();
    assert.deepEqual(c.reads(1), [`r1@${committed}`]);
  });

  it('ReadIndex through a follower: it asks the leader and gets the leader\'s commit index', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.raft(3).readIndex('from-3');
    c.stabilize();
    assert.deepEqual(c.reads(3), [`from-3@${c.raft(1).log.committed}`]);
    assert.deepEqual(c.reads(1), []);
  });

  it('shareAcks: followers commit on each other\'s acknowledgements without the leader\'s word', () => {
    for (const shareAcks of [true, false]) {
      const c = new TestCluster([1, 2, 3], { shareAcks });
      elect(c, 1);
      // From now on the leader's word on its commit index never arrives: only its appends do.
      c.drop = (m) => m.from === 1 && (m.type === 'heartbeat' || (m.type === 'app' && (m.entries?.length ?? 0) === 0));
      c.propose(1, 'a');
      c.stabilize();
      assert.deepEqual(c.payloads(1), ['a']);
      const expected = shareAcks ? ['a'] : [];
      assert.deepEqual(c.payloads(2), expected, `shareAcks ${shareAcks}: follower 2`);
      assert.deepEqual(c.payloads(3), expected, `shareAcks ${shareAcks}: follower 3`);
    }
  });

  it('shareAcks: a follower alone does not commit, and the leader\'s read point is its log\'s end', () => {
    const c = new TestCluster([1, 2, 3], { shareAcks: true });
    elect(c, 1);
    c.isolate(3);
    c.drop = (m) => m.from === 1 && (m.type === 'heartbeat' || (m.type === 'app' && (m.entries?.length ?? 0) === 0));
    c.propose(1, 'a');
    c.stabilize();
    // 2 has 'a' on disk, but no other follower acknowledged it: only the leader could count a quorum.
    assert.deepEqual(c.payloads(2), []);
    c.drop = () => false;
    c.heal();
    c.propose(1, 'b');
    c.raft(1).readIndex('r');
    c.stabilize();
    assert.deepEqual(c.reads(1), [`r@${c.raft(1).log.lastIndex}`]);
  });

  it('ReadIndex: a leader cut off from the quorum never confirms a read', () => {
    const c = new TestCluster([1, 2, 3], { checkQuorum: false });
    elect(c, 1);
    c.isolate(1);
    c.raft(1).readIndex('stale');
    c.stabilize();
    c.tick(1, 5);
    c.stabilize();
    assert.equal(c.raft(1).role, 'leader', 'it still believes it leads');
    assert.deepEqual(c.reads(1), []);
    assert.equal(c.raft(1).pendingReadCount, 1, 'the read waits (mntr: zk_pending_syncs)');
    c.heal();
    c.tick(1, 2);
    c.stabilize();
    assert.equal(c.reads(1).length, 1);
    assert.equal(c.raft(1).pendingReadCount, 0);
  });

  it('ReadIndex on a single member is answered at once', () => {
    const c = new TestCluster([1]);
    elect(c, 1);
    c.raft(1).readIndex('solo');
    c.stabilize();
    assert.deepEqual(c.reads(1), [`solo@${c.raft(1).log.committed}`]);
  });
});

describe('raft core: snapshots', () => {
  it('a follower behind the leader\'s compacted log is caught up by its snapshot, then by appends', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 10; i++) c.propose(1, `p${i}`);
    c.stabilize();
    const snap = c.compact(1);
    assert.equal(c.raft(1).log.firstIndex, snap.index + 1);
    c.heal();
    c.tickAll(3);
    assert.deepEqual(c.payloads(3), c.payloads(1));
    assert.equal(c.raft(3).log.snapshotIndex, snap.index, 'it installed the snapshot');
    c.propose(1, 'after');
    c.stabilize();
    c.tickAll(1);
    assert.deepEqual(c.payloads(3).at(-1), 'after');
  });

  it('a snapshot lost on the way is sent again', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    c.stabilize();
    c.compact(1);
    c.heal();
    let lost = 0;
    c.drop = (m) => m.type === 'snap' && lost++ === 0;
    c.tickAll(30);
    assert.equal(lost, 2, 'sent twice');
    assert.deepEqual(c.payloads(3), c.payloads(1));
  });

  it('a member restarts from its snapshot and the entries after it', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    for (const p of ['a', 'b']) c.propose(1, p);
    c.stabilize();
    c.tickAll(1);
    c.compact(2);
    c.propose(1, 'c');
    c.stabilize();
    c.tickAll(1);
    c.restart(2);
    assert.deepEqual(c.payloads(2), ['a', 'b', 'c']);
    c.propose(1, 'd');
    c.stabilize();
    c.tickAll(1);
    assert.deepEqual(c.payloads(2), ['a', 'b', 'c', 'd']);
  });

  it('a snapshot the follower\'s log already holds only moves its commit index', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    for (const p of ['a', 'b']) c.propose(1, p);
    c.stabilize();
    const r2 = c.raft(2);
    const before = r2.log.lastIndex;
    r2.step({ type: 'snap', from: 1, to: 2, term: r2.term, snapshot: { index: before, term: r2.log.term(before), conf: r2.conf, data: Buffer.from('[]') } });
    const ready = r2.ready();
    assert.equal(ready.snapshot, null);
    r2.advance(ready);
  });
});

describe('raft core: leadership transfer', () => {
  it('an up-to-date voter takes over at once, in the next term', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    const term = c.raft(1).term;
    assert.ok(c.raft(1).transferLeadership(3));
    c.stabilize();
    assert.equal(c.leader(), 3);
    assert.equal(c.raft(3).term, term + 1);
    c.propose(3, 'b');
    c.stabilize();
    c.tickAll(1);
    for (const id of [1, 2, 3]) assert.deepEqual(c.payloads(id), ['a', 'b']);
  });

  it('a lagging voter is brought up to date first; proposals are refused meanwhile', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(3);
    for (let i = 0; i < 5; i++) c.propose(1, `p${i}`);
    c.stabilize();
    c.heal();
    assert.ok(c.raft(1).transferLeadership(3));
    assert.equal(c.propose(1, 'refused'), false);
    // Appends lost while it was cut off fill its window; the next heartbeat answered reopens it.
    c.tickAll(2);
    assert.equal(c.leader(), 3);
    assert.equal(c.raft(3).log.lastIndex >= c.raft(1).log.lastIndex - 1, true);
  });

  it('a transfer to an unreachable voter is given up after an election timeout', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(3);
    c.propose(1, 'a');
    c.stabilize();
    assert.ok(c.raft(1).transferLeadership(3));
    c.tickAll(10);
    assert.equal(c.leader(), 1);
    assert.equal(c.propose(1, 'b'), true);
  });

  it('refused to itself, to a non-member, and by a follower', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    assert.equal(c.raft(1).transferLeadership(1), false);
    assert.equal(c.raft(1).transferLeadership(9), false);
    assert.equal(c.raft(2).transferLeadership(3), false);
  });
});

describe('raft core: learners and membership changes', () => {
  function withLearner(): TestCluster {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.addMember(4);
    assert.ok(c.raft(1).proposeConfChange({ type: 'addLearner', node: 4 }));
    c.stabilize();
    c.tickAll(2);
    return c;
  }

  it('a learner receives and applies the log, and learns the membership from it', () => {
    const c = withLearner();
    assert.deepEqual(c.payloads(4), ['a']);
    assert.deepEqual(c.raft(4).conf, { voters: [1, 2, 3], learners: [4] });
    assert.equal(c.raft(4).isVoter, false);
  });

  it('a learner never campaigns, and its acknowledgements make no quorum', () => {
    const c = withLearner();
    const term = c.raft(1).term;
    c.isolate(4);
    c.tick(4, 100);
    assert.equal(c.raft(4).role, 'follower');
    assert.equal(c.raft(4).term, term);
    c.heal();
    c.isolate(2);
    c.isolate(3);
    const committed = c.raft(1).log.committed;
    c.propose(1, 'b');
    c.stabilize();
    assert.equal(c.raft(4).log.lastIndex, c.raft(1).log.lastIndex, 'the learner has it');
    assert.equal(c.raft(1).log.committed, committed, 'but the leader alone and a learner are no quorum');
  });

  it('a learner promoted votes and counts toward the quorum', () => {
    const c = withLearner();
    assert.ok(c.raft(1).proposeConfChange({ type: 'addVoter', node: 4 }));
    c.stabilize();
    c.tickAll(2);
    for (const id of [1, 2, 3, 4]) assert.deepEqual(c.raft(id).conf, { voters: [1, 2, 3, 4], learners: [] }, `member ${id}`);
    // Four voters: a quorum is three; 1, 2 and the promoted 4 commit without 3.
    c.isolate(3);
    c.propose(1, 'b');
    c.stabilize();
    assert.deepEqual(c.payloads(1), ['a', 'b']);
    c.heal();
    c.isolate(2);
    c.propose(1, 'c');
    c.stabilize();
    assert.deepEqual(c.payloads(1), ['a', 'b', 'c']);
  });

  it('one change at a time, never before the leader committed in its term, never to the leader itself', () => {
    const c = new TestCluster([1, 2, 3]);
    c.raft(1).campaign();
    c.stabilize();
    c.addMember(4);
    c.addMember(5);
    c.isolate(2);
    c.isolate(3);
    assert.equal(c.raft(1).proposeConfChange({ type: 'addLearner', node: 4 }), true);
    assert.equal(c.raft(1).proposeConfChange({ type: 'addLearner', node: 5 }), false, 'the first is not committed');
    c.heal();
    c.tickAll(2);
    assert.equal(c.raft(1).proposeConfChange({ type: 'addLearner', node: 5 }), true);
    c.stabilize();
    assert.equal(c.raft(1).proposeConfChange({ type: 'remove', node: 1 }), false);
    assert.equal(c.raft(1).proposeConfChange({ type: 'addLearner', node: 5 }), false, 'already a learner');
    const fresh = new TestCluster([1, 2, 3]);
    fresh.raft(1).campaign();
    fresh.stabilize();
    fresh.isolate(1);
    assert.equal(fresh.raft(1).log.term(fresh.raft(1).log.committed), fresh.raft(1).term, 'its no-op committed');
  });

  it('a voter removed no longer counts: two voters commit with both', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    assert.ok(c.raft(1).proposeConfChange({ type: 'remove', node: 3 }));
    c.stabilize();
    c.tickAll(2);
    assert.deepEqual(c.raft(2).conf.voters, [1, 2]);
    c.isolate(3);
    c.propose(1, 'b');
    c.stabilize();
    assert.deepEqual(c.payloads(1), ['a', 'b']);
  });

  it('a change in a conflicting tail is undone when the tail is replaced', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.addMember(4);
    c.isolate(1);
    assert.ok(c.raft(1).proposeConfChange({ type: 'addLearner', node: 4 }));
    c.stabilize();
    assert.deepEqual(c.raft(1).conf.learners, [4], 'in effect once in the log');
    outvoteIsolated(c);
    assert.deepEqual(c.raft(1).conf, { voters: [1, 2, 3], learners: [] });
    assert.deepEqual(c.payloads(1), ['b']);
  });

  it('the membership survives a restart, and reaches a new member through a snapshot', () => {
    const c = withLearner();
    c.restart(2);
    assert.deepEqual(c.raft(2).conf, { voters: [1, 2, 3], learners: [4] });
    c.compact(1);
    c.addMember(5);
    c.stabilize();
    assert.ok(c.raft(1).proposeConfChange({ type: 'addLearner', node: 5 }));
    c.stabilize();
    c.tickAll(2);
    assert.deepEqual(c.raft(5).conf, { voters: [1, 2, 3], learners: [4, 5] });
    assert.deepEqual(c.payloads(5), ['a']);
    assert.ok(c.raft(5).log.snapshotIndex > 0, 'it came by snapshot');
  });
});

describe('raft core: a follower told its leader is gone', () => {
  it('campaigns within a few ticks instead of an election timeout', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.isolate(1);
    // Both followers lose their connection to it at once, as when its process dies.
    c.raft(2).leaderLost();
    c.raft(3).leaderLost();
    let leader = 1;
    // Well inside the 10 ticks an election timeout takes at the least.
    for (let i = 0; i < 5 && leader === 1; i++) {
      c.tick(2);
      c.tick(3);
      c.stabilize();
      leader = c.leader()!;
    }
    assert.ok(leader === 2 || leader === 3, `a new leader within 5 ticks (got ${leader})`);
  });

  it('does not disturb a leader the others still hear: its pre-vote fails', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    const term = c.raft(1).term;
    c.raft(2).leaderLost();
    for (let i = 0; i < 3; i++) {
      c.tick(2);
      c.stabilize();
    }
    c.tickAll(2);
    assert.equal(c.leader(), 1);
    assert.equal(c.raft(1).term, term);
  });
});

describe('raft core: a member that lost its data (recovering)', () => {
  it('neither campaigns nor votes until a leader has brought it up to date, then counts that term\'s vote as cast', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    for (const p of ['a', 'b', 'c']) c.propose(1, p);
    c.stabilize();
    c.isolate(3);
    c.wipe(3);
    const wiped = c.raft(3);
    assert.equal(wiped.recovering, true);
    c.tick(3, 50);
    c.stabilize();
    assert.equal(wiped.role, 'follower', 'it never campaigns');
    // A candidate asks it for a vote: refused, pre-vote or vote.
    const term = c.raft(1).term;
    wiped.step({ type: 'preVote', from: 2, to: 3, term: term + 1, index: 10, logTerm: term });
    wiped.step({ type: 'vote', from: 2, to: 3, term, index: 10, logTerm: term });
    const answers = wiped.ready().messages.filter((m) => m.type === 'voteResp' || m.type === 'preVoteResp');
    assert.deepEqual(answers.map((m) => m.reject), [true, true]);
    assert.equal(wiped.vote, 0);
    c.heal();
    c.tickAll(30);
    assert.deepEqual(c.payloads(3), ['a', 'b', 'c'], 'caught up from the leader');
    assert.equal(wiped.recovering, false);
    assert.equal(wiped.vote, 1, 'the vote of the term it joined counts as cast, for its leader');
  });

  it('a leader that counted it as holding entries forgets that and starts over with it', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    for (const p of ['a', 'b']) c.propose(1, p);
    c.stabilize();
    // Wiped and back within a heartbeat: the leader still counts it as matching its whole log.
    c.wipe(3);
    c.tickAll(2);
    assert.deepEqual(c.payloads(3), ['a', 'b']);
    // Its acknowledgements count again: with member 2 gone, 1 and 3 commit.
    c.isolate(2);
    c.propose(1, 'c');
    c.stabilize();
    assert.deepEqual(c.payloads(1), ['a', 'b', 'c']);
    assert.deepEqual(c.payloads(3), ['a', 'b', 'c']);
  });

  it('takes no commit index from heartbeats while recovering (the leader may count it as further along)', () => {
    const c = new TestCluster([1, 2, 3]);
    elect(c, 1);
    c.propose(1, 'a');
    c.stabilize();
    c.wipe(3);
    const wiped = c.raft(3);
    wiped.step({ type: 'app', from: 1, to: 3, term: c.raft(1).term, index: 0, logTerm: 0, entries: [{ term: 9, index: 1, data: Buffer.from('stale') }], commit: 0 });
    wiped.step({ type: 'heartbeat', from: 1, to: 3, term: c.raft(1).term, commit: 2 });
    assert.equal(wiped.log.committed, 0);
    const resp = wiped.ready().messages.find((m) => m.type === 'heartbeatResp');
    assert.equal(resp?.recovering, 1, 'its answers carry its last index');
  });

  it('ends recovery when told (a new cluster: every member found empty)', () => {
    const c = new TestCluster([1, 2, 3]);
    for (const id of [1, 2, 3]) c.wipe(id);
    c.tickAll(50);
    assert.equal(c.leader(), null, 'nobody campaigns');
    for (const id of [1, 2, 3]) {
      assert.equal(c.raft(id).pristine, true);
      c.raft(id).endRecovery();
    }
    c.tickAll(30);
    assert.notEqual(c.leader(), null);
  });
});
