/**
 * The consensus core's vocabulary, after etcd-io/raft: entries, hard state, messages between
 * members, and the Ready that tells the shell what to persist, send and apply.
 */

export type NodeId = number;

/** No member: a vote not cast, a leader not known. */
export const NONE: NodeId = 0;

export interface Entry {
  term: number;
  index: number;
  /** The payload; null for the no-op a leader appends when elected, and for a configuration. */
  data: Buffer | null;
  /** A configuration entry: the membership from this entry on (it takes effect once in the log). */
  conf?: ConfState;
}

/** Who replicates the log: voters elect and make quorums; learners only receive it. */
export interface ConfState {
  voters: readonly NodeId[];
  learners: readonly NodeId[];
}

/** One membership change at a time (§4.1 of Ongaro's dissertation). */
export type ConfChange =
  | { type: 'addLearner'; node: NodeId }
  /** A new voter, or a learner promoted. */
  | { type: 'addVoter'; node: NodeId }
  | { type: 'remove'; node: NodeId };

/** The state machine as of `index` (the term of that entry and the membership then). */
export interface Snapshot {
  index: number;
  term: number;
  conf: ConfState;
  data: Buffer;
}

/** What must be durable before any message that depends on it leaves. */
export interface HardState {
  term: number;
  vote: NodeId;
  commit: number;
}

export type MessageType =
  | 'app' | 'appResp'
  | 'vote' | 'voteResp'
  | 'preVote' | 'preVoteResp'
  | 'heartbeat' | 'heartbeatResp'
  | 'readIndex' | 'readIndexResp'
  | 'snap'
  | 'timeoutNow';

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  /** The sender's term (for a preVote: the term it would campaign in). */
  term: number;
  /** app: the index and term of the entry before `entries`. vote: the candidate's last index and term. */
  index?: number;
  logTerm?: number;
  entries?: Entry[];
  /** app, heartbeat: the leader's commit index. */
  commit?: number;
  /** appResp: the follower's last index that matches (accepted), or the index it rejected. */
  reject?: boolean;
  /** appResp on reject: where the follower's log could match (fast backtracking). */
  rejectHint?: number;
  /** The term of the entry at rejectHint in the follower's log. */
  rejectHintTerm?: number;
  /** readIndex, readIndexResp, and the heartbeats that confirm a read: the read's id. */
  context?: string;
  /** snap: the leader's snapshot, for a follower whose next entry it has compacted away. */
  snapshot?: Snapshot;
  /** appResp, heartbeatResp from a member that lost its data (recovering): its last index. */
  recovering?: number;
}

/** The context of the vote a transfer of leadership starts: voters set their leader lease aside. */
export const TRANSFER = 'transfer';

/** A read may be served once this member has applied up to `index` (ReadIndex, §6.4). */
export interface ReadState {
  context: string;
  index: number;
}

export type Role = 'follower' | 'preCandidate' | 'candidate' | 'leader';

/**
 * One batch of work for the shell, in this order: persist `snapshot` (if any: it replaces the log
 * up to its index and the state machine), then `entries` (an entry overwrites any the log has at
 * its index and after), then `hardState` (if any: its commit index may cover those entries, so
 * written first a crash could leave it over stale ones); then send `messages`, then apply
 * `committed`; then call advance(). Nothing in `messages` may leave before what it rests on is
 * durable: a vote, an append acknowledgement.
 */
export interface Ready {
  snapshot: Snapshot | null;
  hardState: HardState | null;
  entries: Entry[];
  messages: Message[];
  committed: Entry[];
  /** Reads confirmed since the last Ready. */
  readStates: ReadState[];
}
