/**
 * Bugs the cluster simulation plants to prove it can catch them. Some live in the core (a Raft or
 * RaftLog subclass), some in the shell around it (see sim.ts).
 */
import { Raft, type RaftOptions } from '../../../src/server/quorum/core/raft.ts';
import { RaftLog } from '../../../src/server/quorum/core/raft-log.ts';
import type { Entry, NodeId, Snapshot } from '../../../src/server/quorum/core/types.ts';

export const RAFT_BUGS = [
  /** The shell sends vote and pre-vote answers before the hard state is durable. */
  'vote-before-sync',
  /** The shell sends append acknowledgements before the entries are durable. */
  'ack-before-sync',
  /** A leader commits whatever a quorum holds, whatever its term (figure 8). */
  'commit-by-counting',
  /** A leader answers a read at once, without a quorum confirming it still leads. */
  'read-without-quorum',
  /** A follower overwrites conflicting entries in place and keeps the stale tail after them. */
  'no-truncate',
  /** A member serves a read before it has applied up to the read index. */
  'stale-read',
  /** The shell writes the hard state before the log, so a crash can leave a commit index over stale entries. */
  'state-before-log',
  /** A member whose disk was wiped votes and campaigns again at once (as ZooKeeper's members do). */
  'wiped-votes',
  /**
   * The shell lets a member whose disk was wiped take messages before it has learned the newest
   * term of enough other members: a leader of an older term, paused, can bring it "up to date"
   * with a stale log and count it toward commits.
   */
  'wiped-trusts-stale-leader',
  /**
   * Followers share their acknowledgements and commit on them, and the leader still gives its own
   * commit index as a read point: a read can miss a write a follower has committed and answered.
   */
  'read-at-leader-commit',
] as const;
export type RaftBug = (typeof RAFT_BUGS)[number];

class CountingRaft extends Raft {
  protected override maybeCommit(): boolean {
    const index = this.quorumMatch();
    if (index <= this.log.committed) return false;
    this.log.commitTo(index);
    return true;
  }
}

class UnconfirmedReadRaft extends Raft {
  protected override handleReadIndex(context: string, from: NodeId): void {
    this.answerRead(context, this.log.committed, from);
  }
}

class CommitReadPointRaft extends Raft {
  protected override readPoint(): number {
    return this.log.committed;
  }
}

class NoTruncateLog extends RaftLog {
  override maybeAppend(index: number, logTerm: number, entries: readonly Entry[]): number | null {
    const before = this.slice(this.firstIndex, this.lastIndex + 1);
    const last = super.maybeAppend(index, logTerm, entries);
    // What the conflict cut off comes back after the new entries, at its old indexes.
    if (last !== null) for (const e of before) if (e.index > this.lastIndex) this.append(e.term, e.data);
    return last;
  }
}

class NoTruncateRaft extends Raft {
  protected override createLog(snapshot: Snapshot | undefined, entries: readonly Entry[], commit: number): RaftLog {
    return new NoTruncateLog(snapshot, entries, commit);
  }
}

/** A core, with the planted bug if it lives in the core. */
export function newRaft(options: RaftOptions, bug: RaftBug | null): Raft {
  switch (bug) {
    case 'commit-by-counting': return new CountingRaft(options);
    case 'read-without-quorum': return new UnconfirmedReadRaft(options);
    case 'no-truncate': return new NoTruncateRaft(options);
    case 'read-at-leader-commit': return new CommitReadPointRaft({ ...options, shareAcks: true });
    default: return new Raft(options);
  }
}
