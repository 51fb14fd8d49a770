/**
 * What a leader knows of one follower's log (etcd's Progress): the highest index known to match,
 * the next one to send, and the flow-control state. Probe: one append at a time until the match is
 * found. Replicate: appends pipelined, at most `maxInflight` of them and `maxInflightBytes` of
 * payload unacknowledged. Snapshot: the entries it
 * needs are compacted away; a snapshot is on its way and nothing else is sent until it is answered.
 */

export class Progress {
  match = 0;
  next: number;
  state: 'probe' | 'replicate' | 'snapshot' = 'probe';
  /** Snapshot: the index of the snapshot sent, and heartbeats answered since without its answer. */
  pendingSnapshot = 0;
  private heartbeatsSinceSnapshot = 0;
  /** Probe: an append is out and unanswered; wait for its answer or a heartbeat's. */
  paused = false;
  /** Replicate: the last index of each append in flight, oldest first. */
  private readonly inflight: Inflight;
  /** Heard from since the last CheckQuorum round. */
  recentActive = false;

  constructor(lastIndex: number, maxInflight: number, maxInflightBytes = Infinity) {
    this.next = lastIndex + 1;
    this.inflight = new Inflight(maxInflight, maxInflightBytes);
  }

  /** No append may go now. */
  get isPaused(): boolean {
    if (this.state === 'snapshot') return true;
    return this.state === 'probe' ? this.paused : this.inflight.full;
  }

  /** An append with entries up to `last`, of `bytes` of payload, went out. */
  sent(last: number, bytes: number): void {
    if (this.state === 'replicate') {
      this.inflight.push(last, bytes);
      this.next = last + 1;
    } else {
      this.paused = true;
    }
  }

  /** The follower matches up to `index`. False when that is old news. */
  acked(index: number): boolean {
    // Appends up to it are answered, even ones that carried nothing new (a commit index).
    this.inflight.freeTo(index);
    this.paused = false;
    if (index <= this.match) return false;
    this.match = index;
    if (this.next <= index) this.next = index + 1;
    return true;
  }

  /**
   * The follower rejected an append at `rejected`, hinting it could match at `hint`. Returns whether
   * the rejection was news (not a stale answer to an older append).
   */
  rejected(rejected: number, hint: number): boolean {
    if (this.state === 'snapshot') return false;
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.becomeProbe();
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, hint + 1), this.match + 1);
    this.paused = false;
    return true;
  }

  /**
   * The follower answered a heartbeat: it is reachable. A probe may go again, and a full window frees
   * a slot, so that appends lost on the way do not stall replication (the follower will reject the
   * next one if it left a gap, and probing finds the match).
   */
  heartbeatAnswered(snapshotPatience: number): void {
    this.paused = false;
    // A snapshot lost on the way is sent again: the follower answers heartbeats but not it.
    if (this.state === 'snapshot' && ++this.heartbeatsSinceSnapshot >= snapshotPatience) this.becomeProbe();
    if (this.state === 'replicate' && this.inflight.full) this.inflight.freeFirst();
  }

  /** The follower lost its log after `last`: nothing it acknowledged before counts; probe from there. */
  forget(last: number): void {
    this.match = 0;
    this.becomeProbe();
    this.next = last + 1;
  }

  becomeProbe(): void {
    this.state = 'probe';
    this.pendingSnapshot = 0;
    this.paused = false;
    this.inflight.clear();
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.state = 'snapshot';
    this.pendingSnapshot = index;
    this.heartbeatsSinceSnapshot = 0;
    this.inflight.clear();
  }

  becomeReplicate(): void {
    this.state = 'replicate';
    this.paused = false;
    this.inflight.clear();
    this.next = this.match + 1;
  }
}

/**
 * The last index and payload size of each append in flight, oldest first: a ring of fixed size
 * (etcd's inflights). Full at `size` appends, or at `maxBytes` of payload (one append always goes).
 */
class Inflight {
  private readonly last: number[];
  private readonly sizes: number[];
  private start = 0;
  private count = 0;
  private bytes = 0;

  constructor(private readonly size: number, private readonly maxBytes: number) {
    this.last = new Array<number>(size).fill(0);
    this.sizes = new Array<number>(size).fill(0);
  }

  get full(): boolean {
    return this.count >= this.size || this.bytes >= this.maxBytes;
  }

  push(last: number, bytes: number): void {
    const at = (this.start + this.count) % this.size;
    this.last[at] = last;
    this.sizes[at] = bytes;
    this.count++;
    this.bytes += bytes;
  }

  /** Appends up to `index` are answered. */
  freeTo(index: number): void {
    while (this.count > 0 && this.last[this.start] <= index) this.freeFirst();
  }

  freeFirst(): void {
    if (this.count === 0) return;
    this.bytes -= this.sizes[this.start];
    this.start = (this.start + 1) % this.size;
    this.count--;
  }

  clear(): void {
    this.start = 0;
    this.count = 0;
    this.bytes = 0;
  }
}
