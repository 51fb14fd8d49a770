/**
 * What members of an ensemble say to each other, besides the consensus core's own messages: a
 * follower forwards its clients' writes and session touches to the leader, and a member with no
 * data asks the others whether they have none either. The transport carries
 * them in order per pair of members and may lose any of them (a connection drops): every sender
 * copes with loss (Raft retries; a lost forwarded write is answered by dropping its client's
 * connection, as ZooKeeper's clients learn of any lost request).
 */
import type { Message, NodeId } from './core/types.ts';

export type PeerMessage =
  /** The consensus core's message. */
  | { kind: 'raft'; message: Message }
  /**
   * A client's write as it came off the wire, forwarded by the member holding the client's
   * connection to the leader of `term`, which preps it; the answer comes back as the committed Txn.
   * A leader takes only writes sent to it in its own term: one held up on the way (a member paused
   * with it, a leader back in a later term) may come after its client has moved on and written again.
   */
  | { kind: 'forward'; term: number; sessionId: bigint; cxid: number; opcode: number; body: Buffer; auth: ReadonlyArray<{ scheme: string; id: string }> }
  /** Sessions whose clients were heard from since the last touch (the leader runs expiry). */
  | { kind: 'touch'; sessions: readonly bigint[] }
  /**
   * A client came back to the sender with this session (its password right): the sender holds its
   * connection now, and the leader makes it the session's owner. Sent before the read barrier its
   * reopening waits for, so it reaches the leader before the client can have moved on.
   */
  | { kind: 'reopened'; sessionId: bigint }
  /**
   * A piece of a leader's snapshot, `total` bytes in all, this one from `offset`: a large snapshot
   * travels in pieces, then its snap message with empty data.
   */
  | { kind: 'snapChunk'; offset: number; total: number; bytes: Buffer }
  /** From a member with no data: has the receiver none either (is the ensemble new)? */
  | { kind: 'askEmpty' }
  /** The answer: whether nothing has ever reached the sender's log (no term, no entry), and its term. */
  | { kind: 'empty'; empty: boolean; term: number };

/** A frame between two members: the sender and the addressee travel with the message. */
export interface PeerFrame {
  from: NodeId;
  to: NodeId;
  message: PeerMessage;
}

/**
 * How a member reaches the others. `send` never throws and never blocks: a message that cannot be
 * delivered now (no connection, a full queue) may be dropped. Messages from one member to another
 * arrive in the order sent, or not at all. The buffers in a message are never written again by its
 * sender (some are views of a socket's read), so a transport may keep them until it delivers.
 */
export interface PeerTransport {
  send(to: NodeId, message: PeerMessage): void;
  /** Called for every message that arrives from another member. */
  onMessage(handler: (from: NodeId, message: PeerMessage) => void): void;
  /** Called when the connection with a member is lost (a transport that can tell). */
  onPeerDown?(handler: (id: NodeId) => void): void;
  close(): Promise<void>;
}
