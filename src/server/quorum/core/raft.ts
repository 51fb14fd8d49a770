/**
 * Raft as a pure state machine, in the shape of etcd-io/raft: no IO, no clock, no randomness of its
 * own. In: tick(), step(message), propose(payload), proposeConfChange(change), campaign(),
 * readIndex(context), transferLeadership(to), compact(index, data). Out: ready() — a snapshot, hard
 * state and entries to persist, messages to send once they are, committed entries to apply, read
 * states — acknowledged with advance(ready).
 *
 * Elections with randomized timeouts (from the injected random source), PreVote, CheckQuorum (and
 * the vote lease it implies), the leader's no-op on election; replication with probe/replicate
 * flow control and a bound on appends in flight, fast backtracking by term, truncation of a
 * follower's conflicting tail; commit only by counting replicas of an entry of the leader's own
 * term; ReadIndex; log compaction and snapshots sent to followers that fell behind it; leadership
 * transfer; learners, and membership changes one member at a time; members that lost their data
 * (recovering) kept out of elections until a leader has brought them up to date.
 */
import { Progress } from './progress.ts';
import { RaftLog } from './raft-log.ts';
import { NONE, TRANSFER, type ConfChange, type ConfState, type Entry, type HardState, type Message, type NodeId, type ReadState, type Ready, type Role, type Snapshot } from './types.ts';

export interface RaftOptions {
  id: NodeId;
  /**
   * The membership the cluster started with (a snapshot's, and then configuration entries in the
   * log, take over). A member joining an existing cluster starts with none and learns it.
   */
  voters: readonly NodeId[];
  learners?: readonly NodeId[];
  /** Ticks without a leader before a follower campaigns (randomized up to twice this). */
  electionTick: number;
  /** Ticks between a leader's heartbeats. */
  heartbeatTick: number;
  preVote: boolean;
  checkQuorum: boolean;
  /** Appends a leader keeps in flight to one follower in the replicate state. */
  maxInflight: number;
  /** Entries in one append. */
  maxEntriesPerMessage: number;
  /** Payload bytes in one append (at least one entry goes); unbounded when absent. */
  maxMessageBytes?: number;
  /** Payload bytes of appends in flight to one follower; unbounded when absent. */
  maxInflightBytes?: number;
  /** A number in [0, 1): the election timeout's randomization. */
  random: () => number;
  /** What the shell recovered from its disk: the state machine is as of hardState.commit. */
  hardState?: HardState;
  snapshot?: Snapshot;
  entries?: readonly Entry[];
  /**
   * This member lost what it had made durable (its data wiped or damaged), or has never had any:
   * it may have voted, and acknowledged entries, that it no longer remembers. See `recovering`.
   */
  recovering?: boolean;
  /**
   * A voter following a leader sends its acknowledgements of appends to the other voters too, and
   * commits an entry of the leader's term once a quorum of voters (itself among them) has
   * acknowledged it durable in that term, without waiting for the leader to say so: one hop less
   * between a follower's durable write and its answer to a client.
   */
  shareAcks?: boolean;
}

export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = NONE;
  lead: NodeId = NONE;
  role: Role = 'follower';
  readonly log: RaftLog;
  protected voters: readonly NodeId[] = [];
  protected learners: readonly NodeId[] = [];
  /** The membership up to the log's first entry (the snapshot's), and the last configuration entry after it. */
  private baseConf: ConfState;
  private confEntry: Entry | null = null;
  /** The latest snapshot, sent to followers that need compacted entries. */
  private snapshot: Snapshot | null;
  /** A snapshot from the leader, installed and not yet handed to the shell. */
  private unstableSnapshot: Snapshot | null = null;
  /** A leader handing over to this member: no proposals meanwhile; given up after an election timeout. */
  leadTransferee: NodeId = NONE;
  /**
   * A member that lost its data neither campaigns nor votes, and takes no commit index from
   * heartbeats, until a leader has brought it up to date: its log holds the leader's up to a commit
   * index at an entry of the leader's term (so every entry committed before is in it). It then
   * counts the vote of that term as cast (it may have cast one before). Meanwhile its answers carry
   * its last index, so that a leader that counted it as further along starts over with it. The
   * shell may end it sooner with endRecovery(): every member was found empty, a new cluster.
   */
  recovering: boolean;
  /** As leader: the index of the no-op that opened its term (where its zxids count from). */
  termStart = 0;
  private transferElapsed = 0;
  protected readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  private msgs: Message[] = [];
  /**
   * A leader's appends wait for the next ready(): everything proposed meanwhile goes in one append
   * per follower, and commit index moves in one announcement. `'commit'`: send even empty ones.
   */
  private broadcastPending: 'none' | 'entries' | 'commit' = 'none';
  private readStates: ReadState[] = [];
  /** A leader's reads waiting for a quorum to confirm it still leads, in the order asked. */
  private readonly pendingReads = new Map<string, { index: number; from: NodeId; acks: Set<NodeId> }>();
  /** Reads asked of a leader before it committed an entry of its term (its commit index may be stale). */
  private waitingForCommit: Array<{ context: string; from: NodeId }> = [];
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** As follower (shareAcks): the last index it acknowledged to the leader of this term. */
  private ackedInTerm = 0;
  /** As follower (shareAcks): the last index each other voter acknowledged in this term. */
  private readonly peerAcks = new Map<NodeId, number>();
  private persisted: HardState;

  constructor(private readonly options: RaftOptions) {
    this.id = options.id;
    const hs = options.hardState ?? { term: 0, vote: NONE, commit: 0 };
    this.snapshot = options.snapshot ?? null;
    this.log = this.createLog(this.snapshot ?? undefined, options.entries ?? [], hs.commit);
    this.baseConf = this.snapshot?.conf ?? { voters: [...options.voters], learners: [...(options.learners ?? [])] };
    this.refreshConf();
    this.persisted = { ...hs };
    this.becomeFollower(hs.term, NONE);
    this.vote = hs.vote;
    this.recovering = options.recovering ?? false;
  }

  /** The log this member keeps (a seam for the simulator's planted bugs). */
  protected createLog(snapshot: Snapshot | undefined, entries: readonly Entry[], commit: number): RaftLog {
    return new RaftLog(snapshot, entries, commit);
  }

  protected get quorum(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  /** The membership as this member's log has it. */
  get conf(): ConfState {
    return { voters: this.voters, learners: this.learners };
  }

  /** As leader: what it knows of each other member's log; empty anywhere else. */
  followers(): Array<{ id: NodeId; match: number; state: Progress['state'] }> {
    const out: Array<{ id: NodeId; match: number; state: Progress['state'] }> = [];
    if (this.role !== 'leader') return out;
    for (const [id, pr] of this.progress) if (id !== this.id) out.push({ id, match: pr.match, state: pr.state });
    return out;
  }

  /** As leader: reads (ReadIndex) not yet confirmed by a quorum, or waiting for a commit of its term. */
  get pendingReadCount(): number {
    return this.pendingReads.size + this.waitingForCommit.length;
  }

  /** Only voters campaign; a learner or a member removed (or not yet added) waits to be told. */
  get isVoter(): boolean {
    return this.voters.includes(this.id);
  }

  /** Nothing ever reached this member's log: no term, no entry, no snapshot. */
  get pristine(): boolean {
    return this.term === 0 && this.log.lastIndex === 0;
  }

  /**
   * A recovering member learned the newest term a sample of the other members has seen, a sample
   * large enough to include one that took part in every election this member may have voted in
   * before it lost its data. It takes that term, so that a leader of an older term cut off from the
   * others (still leading, as far as it knows) cannot bring it "up to date" with a stale log, nor
   * count its acknowledgements toward a commit.
   */
  learnTerm(term: number): void {
    if (term > this.term) this.becomeFollower(term, NONE);
  }

  /** Recovery is over: this member votes and campaigns again. */
  endRecovery(): void {
    if (!this.recovering) return;
    this.recovering = false;
    // It may have voted in this term before it lost its data: count that vote as cast.
    if (this.vote === NONE && this.lead !== NONE) this.vote = this.lead;
  }

  // ---- inputs ----

  tick(): void {
    this.electionElapsed++;
    if (this.role !== 'leader') {
      if (this.isVoter && !this.recovering && this.electionElapsed >= this.randomizedElectionTimeout) {
        this.electionElapsed = 0;
        this.campaign();
      }
      return;
    }
    this.heartbeatElapsed++;
    if (this.leadTransferee !== NONE && ++this.transferElapsed >= this.options.electionTick) this.leadTransferee = NONE;
    if (this.electionElapsed >= this.options.electionTick) {
      this.electionElapsed = 0;
      if (this.options.checkQuorum) {
        // A leader that has not heard from a quorum in an election timeout may be cut off: it steps
        // down rather than keep a lease nobody else honours.
        if (!this.quorumActive()) {
          this.becomeFollower(this.term, NONE);
          return;
        }
        for (const [id, pr] of this.progress) if (id !== this.id) pr.recentActive = false;
      }
    }
    if (this.heartbeatElapsed >= this.options.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** A leader gives way: a new term must begin (its zxid counter is spent); the members elect, perhaps it again. */
  stepDown(): void {
    if (this.role === 'leader') this.becomeFollower(this.term, NONE);
  }

  /**
   * The shell lost its connection to the leader (its process died, say): this member forgets it,
   * which ends the lease it granted, and campaigns within a few ticks instead of an election
   * timeout. A leader still alive and heard by a quorum is not disturbed: PreVote fails.
   */
  leaderLost(): void {
    if (this.role !== 'follower' || this.lead === NONE) return;
    this.lead = NONE;
    this.electionElapsed = Math.max(this.electionElapsed, this.randomizedElectionTimeout - 1 - Math.floor(this.options.random() * 3));
  }

  /** Start an election now (after a pre-vote round when PreVote is on). */
  campaign(): void {
    if (this.role === 'leader' || !this.isVoter) return;
    this.startCampaign(this.options.preVote);
  }

  /** A leader appends a payload and replicates it; false anywhere else, or while handing over. */
  propose(data: Buffer): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== NONE) return false;
    this.log.append(this.term, data);
    this.broadcast('entries');
    return true;
  }

  /**
   * A leader appends a membership change; it takes effect on every member once in its log. False
   * when refused: not the leader or handing over; no entry of this term committed yet, or an
   * earlier change not yet committed (one change at a time, §4.1 and its fix); a change to the
   * leader itself (transfer leadership first); or one that changes nothing.
   */
  proposeConfChange(change: ConfChange): boolean {
    if (this.role !== 'leader' || this.leadTransferee !== NONE || change.node === this.id) return false;
    if (this.log.term(this.log.committed) !== this.term) return false;
    if (this.confEntry !== null && this.confEntry.index > this.log.committed) return false;
    const conf = changed(this.conf, change);
    if (conf === null) return false;
    this.confEntry = this.log.append(this.term, null, conf);
    this.applyConf(conf);
    this.broadcast('entries');
    return true;
  }

  /**
   * A leader hands over to a voter: it stops taking proposals, brings the voter up to date and
   * tells it to campaign at once (its vote requests override the other voters' leader lease).
   * Given up after an election timeout. False when not the leader or `to` is not another voter.
   */
  transferLeadership(to: NodeId): boolean {
    if (this.role !== 'leader' || to === this.id || !this.voters.includes(to)) return false;
    this.leadTransferee = to;
    this.transferElapsed = 0;
    if (this.progress.get(to)!.match === this.log.lastIndex) this.send({ type: 'timeoutNow', to, term: this.term });
    else this.sendAppend(to, true);
    return true;
  }

  /**
   * The shell has made a snapshot of the state machine as of `index` (applied, at most): the log
   * up to it is dropped, and followers that need it get the snapshot instead. Returns it, with the
   * term and membership the shell persists with it.
   */
  compact(index: number, data: Buffer): Snapshot {
    if (index <= this.log.snapshotIndex) throw new Error(`already compacted to ${this.log.snapshotIndex}`);
    const conf = this.confAt(index);
    this.log.compact(index);
    if (this.confEntry !== null && this.confEntry.index <= index) this.confEntry = null;
    this.baseConf = conf;
    this.snapshot = { index, term: this.log.snapshotTerm, conf, data };
    return this.snapshot;
  }

  /**
   * Ask for a linearizable read point: a ReadState with this context comes out of ready() once a
   * quorum has confirmed the leader's commit index, on this member (a follower asks its leader).
   * Dropped when there is no leader or leadership changes: the caller asks again. Contexts must be
   * unique across the cluster (a leader keys the reads it confirms by them).
   */
  readIndex(context: string): void {
    if (this.role === 'leader') this.handleReadIndex(context, this.id);
    else if (this.lead !== NONE) this.send({ type: 'readIndex', to: this.lead, term: this.term, context });
  }

  step(m: Message): void {
    if (m.term > this.term) {
      if ((m.type === 'vote' || m.type === 'preVote') && m.context !== TRANSFER) {
        // CheckQuorum's lease: while a leader is heard from, a disruptive candidate is ignored.
        const inLease = this.options.checkQuorum && this.lead !== NONE && this.electionElapsed < this.options.electionTick;
        if (inLease) return;
      }
      if (m.type === 'preVote') {
        // A pre-vote changes no term.
      } else if (m.type === 'preVoteResp' && !m.reject) {
        // Granted for the term this member would campaign in; it takes that term once it has a quorum.
      } else if (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap') {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, NONE);
      }
    } else if (m.term < this.term) {
      if ((this.options.checkQuorum || this.options.preVote) && (m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap')) {
        // A leader cut off in an older term learns of the newer one and steps down.
        this.send({ type: 'appResp', to: m.from, term: this.term });
      } else if (m.type === 'preVote') {
        this.send({ type: 'preVoteResp', to: m.from, term: this.term, reject: true });
      }
      return;
    }

    if (m.type === 'vote' || m.type === 'preVote') {
      this.handleVote(m);
      return;
    }
    switch (this.role) {
      case 'leader': return this.stepLeader(m);
      case 'candidate':
      case 'preCandidate': return this.stepCandidate(m);
      case 'follower': return this.stepFollower(m);
    }
  }

  // ---- output ----

  hasReady(): boolean {
    return this.unstableSnapshot !== null || this.broadcastPending !== 'none' || this.msgs.length > 0 || this.readStates.length > 0 || this.log.hasUnstable || this.hardStateChanged() || this.log.hasToApply;
  }

  /**
   * The work for the shell: persist, then send, then apply (see Ready). Call advance() with it
   * once done, before taking the next one. Inputs may go on meanwhile (a shell that persists in the
   * background): what they cause comes in the next Ready.
   */
  ready(): Ready {
    this.flushBroadcast();
    const ready: Ready = {
      snapshot: this.unstableSnapshot,
      hardState: this.hardStateChanged() ? { term: this.term, vote: this.vote, commit: this.log.committed } : null,
      entries: this.log.unstable(),
      messages: this.msgs,
      committed: this.log.toApply(),
      readStates: this.readStates,
    };
    this.msgs = [];
    this.readStates = [];
    this.unstableSnapshot = null;
    return ready;
  }

  advance(ready: Ready): void {
    if (ready.hardState !== null) this.persisted = ready.hardState;
    const lastEntry = ready.entries.at(-1);
    if (lastEntry !== undefined && this.log.term(lastEntry.index) === lastEntry.term) {
      this.log.stable = Math.max(this.log.stable, lastEntry.index);
    }
    const lastApplied = ready.committed.at(-1);
    if (lastApplied !== undefined) this.log.applied = Math.max(this.log.applied, lastApplied.index);
    // The leader's own entries count toward a quorum once durable.
    if (this.role === 'leader' && lastEntry !== undefined && this.maybeCommit()) this.committedMore();
    else if (this.role === 'follower' && lastEntry !== undefined) this.commitByAcks();
  }

  // ---- roles ----

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = NONE;
    }
    this.lead = NONE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.options.electionTick + Math.floor(this.options.random() * this.options.electionTick);
    this.votes.clear();
    this.progress.clear();
    this.ackedInTerm = 0;
    this.peerAcks.clear();
    this.pendingReads.clear();
    this.waitingForCommit = [];
    this.leadTransferee = NONE;
    this.broadcastPending = 'none';
  }

  private becomeFollower(term: number, lead: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.lead = lead;
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = 'leader';
    this.lead = this.id;
    for (const v of [...this.voters, ...this.learners]) this.addProgress(v);
    // Its no-op: entries of earlier terms commit once an entry of this term does.
    this.termStart = this.log.append(this.term, null).index;
    this.broadcast('entries');
  }

  private addProgress(id: NodeId): void {
    const pr = new Progress(this.log.lastIndex, this.options.maxInflight, this.options.maxInflightBytes);
    pr.recentActive = true;
    this.progress.set(id, pr);
  }

  private startCampaign(pre: boolean, context?: string): void {
    let term: number;
    if (pre) {
      // A pre-candidate keeps its term and vote: it only asks whether it could win.
      this.role = 'preCandidate';
      this.lead = NONE;
      this.votes.clear();
      term = this.term + 1;
    } else {
      this.reset(this.term + 1);
      this.role = 'candidate';
      this.vote = this.id;
      term = this.term;
    }
    if (this.tally(this.id, true)) return;
    for (const v of this.voters) {
      if (v === this.id) continue;
      this.send({ type: pre ? 'preVote' : 'vote', to: v, term, index: this.log.lastIndex, logTerm: this.log.lastTerm, ...(context !== undefined && { context }) });
    }
  }

  /** Counts a vote; true when it decided the round (won or lost). */
  private tally(from: NodeId, vote: boolean): boolean {
    if (!this.voters.includes(from)) return false;
    if (!this.votes.has(from)) this.votes.set(from, vote);
    let yes = 0;
    let no = 0;
    for (const granted of this.votes.values()) {
      if (granted) yes++;
      else no++;
    }
    if (yes >= this.quorum) {
      if (this.role === 'preCandidate') this.startCampaign(false);
      else this.becomeLeader();
      return true;
    }
    if (no >= this.quorum) {
      this.becomeFollower(this.term, NONE);
      return true;
    }
    return false;
  }

  private handleVote(m: Message): void {
    const pre = m.type === 'preVote';
    const canVote = !this.recovering && (this.vote === m.from || (this.vote === NONE && this.lead === NONE) || (pre && m.term > this.term));
    const respType = pre ? 'preVoteResp' : 'voteResp';
    if (canVote && this.log.isUpToDate(m.index ?? 0, m.logTerm ?? 0)) {
      // The answer carries the term asked about, so a granted pre-vote is not mistaken for stale.
      this.send({ type: respType, to: m.from, term: m.term, reject: false });
      if (!pre) {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send({ type: respType, to: m.from, term: this.term, reject: true });
    }
  }

  private stepCandidate(m: Message): void {
    const expected = this.role === 'preCandidate' ? 'preVoteResp' : 'voteResp';
    switch (m.type) {
      case 'app':
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case 'heartbeat':
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case 'snap':
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      default:
        if (m.type === expected) this.tally(m.from, !m.reject);
    }
  }

  private stepFollower(m: Message): void {
    if (m.type === 'readIndexResp') {
      this.readStates.push({ context: m.context ?? '', index: m.index ?? 0 });
      return;
    }
    if (m.type === 'timeoutNow') {
      // The leader hands over: campaign now, without a pre-vote round.
      if (this.isVoter && !this.recovering) this.startCampaign(false, TRANSFER);
      return;
    }
    if (m.type === 'appResp') {
      // Another voter's acknowledgement in this term (shareAcks): its log is the leader's up to there.
      if (!m.reject && m.index !== undefined && m.from !== this.lead && this.voters.includes(m.from)) {
        this.peerAcks.set(m.from, Math.max(this.peerAcks.get(m.from) ?? 0, m.index));
        this.commitByAcks();
      }
      return;
    }
    if (m.type !== 'app' && m.type !== 'heartbeat' && m.type !== 'snap') return;
    this.electionElapsed = 0;
    this.lead = m.from;
    if (m.type === 'app') this.handleAppend(m);
    else if (m.type === 'snap') this.handleSnapshot(m);
    else this.handleHeartbeat(m);
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    if (pr === undefined) return;
    pr.recentActive = true;
    // It lost entries this leader counted it as holding: they no longer count, and it is probed anew.
    if (m.recovering !== undefined && m.recovering < pr.match) {
      pr.forget(m.recovering);
      this.sendAppend(m.from);
    }
    if (m.type === 'readIndex') {
      this.handleReadIndex(m.context ?? '', m.from);
      return;
    }
    if (m.type === 'heartbeatResp') {
      pr.heartbeatAnswered(Math.max(1, Math.floor(this.options.electionTick / this.options.heartbeatTick)));
      // Even an empty append: appends lost on the way leave a gap the follower reports by rejecting it.
      if (pr.match < this.log.lastIndex) this.sendAppend(m.from, true);
      if (m.context !== undefined) this.confirmRead(m.context, m.from);
      return;
    }
    if (m.type !== 'appResp') return;
    if (m.reject) {
      // Skip back past every entry of a term the follower cannot have.
      let hint = m.rejectHint ?? 0;
      if ((m.rejectHintTerm ?? 0) > 0) hint = this.log.conflictHint(hint, m.rejectHintTerm!);
      if (pr.rejected(m.index ?? 0, hint)) this.sendAppend(m.from);
      return;
    }
    const wasPaused = pr.isPaused;
    if (!pr.acked(m.index ?? 0)) return;
    if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) pr.becomeProbe();
    if (pr.state === 'probe') pr.becomeReplicate();
    if (pr.match > this.log.committed && this.maybeCommit()) {
      this.committedMore();
    } else {
      // A follower that was held back may have missed a commit index sent meanwhile.
      if (wasPaused && this.broadcastPending !== 'commit') this.sendAppend(m.from, true);
      while (pr.next <= this.log.lastIndex && this.sendAppend(m.from));
    }
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex) this.send({ type: 'timeoutNow', to: m.from, term: this.term });
  }

  // ---- replication ----

  private handleAppend(m: Message): void {
    const index = m.index ?? 0;
    if (index < this.log.committed) {
      this.send({ type: 'appResp', to: m.from, term: this.term, index: this.log.committed });
      return;
    }
    const last = this.log.maybeAppend(index, m.logTerm ?? 0, m.entries ?? []);
    if (last !== null) {
      this.confAppended(m.entries ?? []);
      const commit = m.commit ?? 0;
      this.log.commitTo(Math.min(commit, last));
      // Up to date once it holds the leader's commit index at an entry of the leader's own term.
      if (this.recovering && last >= commit && this.log.term(commit) === this.term) this.endRecovery();
      this.send({ type: 'appResp', to: m.from, term: this.term, index: last });
      if (this.options.shareAcks && last > this.ackedInTerm && this.isVoter) {
        for (const v of this.voters) if (v !== this.id && v !== m.from) this.send({ type: 'appResp', to: v, term: this.term, index: last });
      }
      this.ackedInTerm = Math.max(this.ackedInTerm, last);
      this.commitByAcks();
      return;
    }
    const hint = this.log.conflictHint(index, m.logTerm ?? 0);
    this.send({ type: 'appResp', to: m.from, term: this.term, index, reject: true, rejectHint: hint, rejectHintTerm: this.log.term(hint) });
  }

  /**
   * shareAcks: a follower commits what a quorum of voters has acknowledged in this term, itself
   * among them (its own acknowledgement counts once durable here, and caps what it commits, since
   * its log is the leader's only up to there). An entry of this term on a quorum is committed
   * whoever counts it (the leader's own copy is not counted here: it says nothing of it). Only
   * under a membership known committed: the leader's then differs from it by one change at most,
   * and quorums of the two overlap.
   */
  private commitByAcks(): void {
    if (!this.options.shareAcks || this.role !== 'follower' || this.lead === NONE || this.recovering || this.peerAcks.size === 0) return;
    if (this.confEntry !== null && this.confEntry.index > this.log.committed) return;
    const mine = Math.min(this.ackedInTerm, this.log.stable);
    if (mine <= this.log.committed) return;
    const acks = this.voters.map((v) => (v === this.id ? mine : v === this.lead ? 0 : this.peerAcks.get(v) ?? 0)).sort((a, b) => b - a);
    const index = Math.min(acks[this.quorum - 1] ?? 0, mine);
    if (index > this.log.committed && this.log.term(index) === this.term) this.log.commitTo(index);
  }

  /**
   * A leader's snapshot: installed unless this member has committed that far, or its log already
   * holds the snapshot's last entry (then only the commit index moves).
   */
  private handleSnapshot(m: Message): void {
    const s = m.snapshot!;
    if (s.index <= this.log.committed) {
      this.send({ type: 'appResp', to: m.from, term: this.term, index: this.log.committed });
      return;
    }
    if (this.log.term(s.index) === s.term) {
      this.log.commitTo(s.index);
    } else {
      this.log.restore(s);
      this.snapshot = s;
      this.unstableSnapshot = s;
      this.baseConf = s.conf;
      this.confEntry = null;
      this.applyConf(s.conf);
    }
    this.send({ type: 'appResp', to: m.from, term: this.term, index: s.index });
  }

  private handleHeartbeat(m: Message): void {
    // A heartbeat's commit index rests on what the leader believes this member holds.
    if (!this.recovering) this.log.commitTo(m.commit ?? 0);
    this.send({ type: 'heartbeatResp', to: m.from, term: this.term, ...(m.context !== undefined && { context: m.context }) });
  }

  // ---- ReadIndex ----

  /**
   * A read at the leader's commit index, once a quorum answers a heartbeat sent after it was asked
   * (so this member still leads). Not before the leader has committed an entry of its own term:
   * until then its commit index may be behind what an earlier leader committed.
   */
  protected handleReadIndex(context: string, from: NodeId): void {
    if (this.log.term(this.log.committed) !== this.term) {
      this.waitingForCommit.push({ context, from });
      return;
    }
    const read = { index: this.readPoint(), from, acks: new Set<NodeId>([this.id]) };
    if (read.acks.size >= this.quorum) {
      this.answerRead(context, read.index, from);
      return;
    }
    this.pendingReads.set(context, read);
    for (const v of this.voters) {
      if (v === this.id) continue;
      const commit = Math.min(this.progress.get(v)!.match, this.log.committed);
      this.send({ type: 'heartbeat', to: v, term: this.term, commit, context });
    }
  }

  /**
   * Where a read asked now must be served from: the commit index, or with shareAcks the log's end,
   * since followers may have committed (and answered) entries this leader has not counted yet, each
   * of them in its log.
   */
  protected readPoint(): number {
    return this.options.shareAcks ? this.log.lastIndex : this.log.committed;
  }

  /** Only voters' answers confirm that this member still leads. */

  /** A member answered the heartbeat of read `context`: a quorum releases it and every read before it. */
  private confirmRead(context: string, from: NodeId): void {
    const read = this.pendingReads.get(context);
    if (read === undefined || !this.voters.includes(from)) return;
    read.acks.add(from);
    if (read.acks.size < this.quorum) return;
    for (const [ctx, r] of this.pendingReads) {
      this.pendingReads.delete(ctx);
      this.answerRead(ctx, r.index, r.from);
      if (ctx === context) break;
    }
  }

  protected answerRead(context: string, index: number, to: NodeId): void {
    if (to === this.id) this.readStates.push({ context, index });
    else this.send({ type: 'readIndexResp', to, term: this.term, index, context });
  }

  /** The commit index moved: followers hear of it, and reads waiting for this term's first commit go on. */
  private committedMore(): void {
    this.broadcast('commit');
    if (this.waitingForCommit.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const waiting = this.waitingForCommit;
    this.waitingForCommit = [];
    for (const w of waiting) this.handleReadIndex(w.context, w.from);
  }

  /** Sends the follower what it lacks, unless flow control holds it back. */
  private sendAppend(to: NodeId, evenEmpty = false): boolean {
    const pr = this.progress.get(to);
    if (pr === undefined || pr.isPaused) return false;
    if (pr.next <= this.log.snapshotIndex) {
      // What it needs is compacted away: the snapshot instead.
      this.send({ type: 'snap', to, term: this.term, snapshot: this.snapshot! });
      pr.becomeSnapshot(this.snapshot!.index);
      return true;
    }
    const prev = pr.next - 1;
    const entries = this.log.slice(pr.next, Math.min(this.log.lastIndex + 1, pr.next + this.options.maxEntriesPerMessage));
    if (pr.state === 'replicate' && entries.length === 0 && !evenEmpty) return false;
    const bytes = limitBytes(entries, this.options.maxMessageBytes ?? Infinity);
    this.send({ type: 'app', to, term: this.term, index: prev, logTerm: this.log.term(prev), entries, commit: this.log.committed });
    pr.sent(prev + entries.length, bytes);
    return true;
  }

  private broadcast(what: 'entries' | 'commit'): void {
    if (this.broadcastPending !== 'commit') this.broadcastPending = what;
  }

  /** Sends what the leader has for every follower: new entries, and (`'commit'`) a new commit index even to those with every entry. */
  private flushBroadcast(): void {
    if (this.broadcastPending === 'none') return;
    const evenEmpty = this.broadcastPending === 'commit';
    this.broadcastPending = 'none';
    if (this.role !== 'leader') return;
    for (const [id, pr] of this.progress) {
      if (id === this.id || !this.sendAppend(id, evenEmpty)) continue;
      while (pr.next <= this.log.lastIndex && this.sendAppend(id));
    }
  }

  private broadcastHeartbeat(): void {
    // The newest read still waiting rides along: heartbeats of its own may have been lost, and its
    // confirmation releases every read before it.
    let context: string | undefined;
    for (const ctx of this.pendingReads.keys()) context = ctx;
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      // Never a commit index beyond what the follower is known to hold.
      const commit = Math.min(pr.match, this.log.committed);
      this.send({ type: 'heartbeat', to: id, term: this.term, commit, ...(context !== undefined && { context }) });
    }
  }

  // ---- membership ----

  /** The membership as of `index`: the last configuration entry at or before it, or the base one. */
  private confAt(index: number): ConfState {
    if (this.confEntry === null) return this.baseConf;
    if (this.confEntry.index <= index) return this.confEntry.conf!;
    for (let i = Math.min(index, this.log.lastIndex); i > this.log.snapshotIndex; i--) {
      const conf = this.log.entry(i)?.conf;
      if (conf !== undefined) return conf;
    }
    return this.baseConf;
  }

  /** Recomputes the membership from the log (on start, and when a tail with a change in it was cut). */
  private refreshConf(): void {
    this.confEntry = null;
    for (let i = this.log.lastIndex; i > this.log.snapshotIndex; i--) {
      const e = this.log.entry(i)!;
      if (e.conf !== undefined) {
        this.confEntry = e;
        break;
      }
    }
    this.applyConf(this.confEntry?.conf ?? this.baseConf);
  }

  /** A follower appended entries: a change among them, or a cut tail that held one, moves its membership. */
  private confAppended(entries: readonly Entry[]): void {
    if (this.confEntry !== null && this.log.entry(this.confEntry.index) !== this.confEntry) {
      this.refreshConf();
      return;
    }
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      if (e.conf === undefined || e.index <= (this.confEntry?.index ?? this.log.snapshotIndex)) continue;
      this.confEntry = this.log.entry(e.index) ?? null;
      this.applyConf(e.conf);
      return;
    }
  }

  private applyConf(conf: ConfState): void {
    if (conf.voters === this.voters && conf.learners === this.learners) return;
    this.voters = conf.voters;
    this.learners = conf.learners;
    if (this.role !== 'leader') return;
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of members) if (!this.progress.has(id)) this.addProgress(id);
    for (const id of this.progress.keys()) if (!members.has(id)) this.progress.delete(id);
    if (this.leadTransferee !== NONE && !conf.voters.includes(this.leadTransferee)) this.leadTransferee = NONE;
    // A smaller quorum may already hold more.
    if (this.maybeCommit()) this.committedMore();
  }

  /** Commits the highest index a quorum holds durably, if it is of this term (§5.4.2). */
  protected maybeCommit(): boolean {
    const index = this.quorumMatch();
    if (index <= this.log.committed || this.log.term(index) !== this.term) return false;
    this.log.commitTo(index);
    return true;
  }

  private readonly matches: number[] = [];

  /** The highest index a quorum of voters holds durably. */
  protected quorumMatch(): number {
    const m = this.matches;
    m.length = 0;
    for (const v of this.voters) m.push(v === this.id ? this.log.stable : this.progress.get(v)!.match);
    m.sort(descending);
    return m[this.quorum - 1];
  }

  private quorumActive(): boolean {
    let active = 0;
    for (const v of this.voters) if (v === this.id || this.progress.get(v)?.recentActive) active++;
    return active >= this.quorum;
  }

  private hardStateChanged(): boolean {
    const p = this.persisted;
    return p.term !== this.term || p.vote !== this.vote || p.commit !== this.log.committed;
  }

  private send(m: Omit<Message, 'from'>): void {
    // Each call site builds a fresh object: stamping it is cheaper than copying it.
    (m as Message).from = this.id;
    if (this.recovering && (m.type === 'appResp' || m.type === 'heartbeatResp')) m.recovering = this.log.lastIndex;
    this.msgs.push(m as Message);
  }
}

const descending = (a: number, b: number): number => b - a;

/** Cuts `entries` (in place) to at most `max` payload bytes, keeping at least one; their bytes. */
function limitBytes(entries: Entry[], max: number): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const size = entries[i].data?.length ?? 0;
    if (i > 0 && bytes + size > max) {
      entries.length = i;
      break;
    }
    bytes += size;
  }
  return bytes;
}

/** The membership after one change, or null when the change changes nothing or is not one step. */
function changed(conf: ConfState, change: ConfChange): ConfState | null {
  const isVoter = conf.voters.includes(change.node);
  const isLearner = conf.learners.includes(change.node);
  const without = (list: readonly NodeId[]): NodeId[] => list.filter((id) => id !== change.node);
  switch (change.type) {
    case 'addLearner':
      return isVoter || isLearner ? null : { voters: conf.voters, learners: [...conf.learners, change.node] };
    case 'addVoter':
      return isVoter ? null : { voters: [...conf.voters, change.node], learners: without(conf.learners) };
    case 'remove':
      return isVoter || isLearner ? { voters: without(conf.voters), learners: without(conf.learners) } : null;
  }
}
