/**
 * The core's view of its log: the entries after its last snapshot, how far they are durable,
 * committed and applied. Entries past `stable` are still to be handed to the shell to persist;
 * a snapshot installed from a leader is, until handed out, too.
 */
import type { Entry, Snapshot } from './types.ts';

export class RaftLog {
  /** Entries after the snapshot: entries[i] is at index snapshotIndex + 1 + i. */
  private entries: Entry[] = [];
  /** The last index (and its term) the snapshot covers: compacted away, known committed. */
  snapshotIndex = 0;
  snapshotTerm = 0;
  /** The last index the shell has made durable. */
  stable = 0;
  committed = 0;
  /** The last index handed to the shell to apply. */
  applied = 0;

  /**
   * What the shell recovered: its snapshot (if any) and the entries after it, in order. The shell
   * has the state machine as of the commit index (it replays what it committed itself).
   */
  constructor(snapshot: Snapshot | undefined, persisted: readonly Entry[] = [], committed = 0) {
    if (snapshot !== undefined) {
      this.snapshotIndex = snapshot.index;
      this.snapshotTerm = snapshot.term;
    }
    for (const e of persisted) if (e.index > this.snapshotIndex) this.entries.push(e);
    this.stable = this.lastIndex;
    this.committed = Math.max(this.snapshotIndex, Math.min(committed, this.lastIndex));
    this.applied = this.committed;
  }

  get lastIndex(): number {
    return this.snapshotIndex + this.entries.length;
  }

  get lastTerm(): number {
    return this.term(this.lastIndex);
  }

  /** The first index still held as an entry. */
  get firstIndex(): number {
    return this.snapshotIndex + 1;
  }

  /** The term of the entry at index (0 for index 0, -1 past the end or compacted away). */
  term(index: number): number {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex) return -1;
    const e = this.entries[index - this.snapshotIndex - 1];
    return e === undefined ? -1 : e.term;
  }

  entry(index: number): Entry | undefined {
    return index > this.snapshotIndex ? this.entries[index - this.snapshotIndex - 1] : undefined;
  }

  /** Entries in [from, to); from must be past the snapshot. */
  slice(from: number, to: number): Entry[] {
    return this.entries.slice(from - this.snapshotIndex - 1, to - this.snapshotIndex - 1);
  }

  /** A candidate's log is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** The leader appends at the end. */
  append(term: number, data: Buffer | null, conf?: Entry['conf']): Entry {
    const e: Entry = conf === undefined ? { term, index: this.lastIndex + 1, data } : { term, index: this.lastIndex + 1, data, conf };
    this.entries.push(e);
    return e;
  }

  /**
   * A follower takes entries after (index, logTerm): null when its log has no such entry.
   * Entries it already has are kept; from the first conflicting one on, its tail is replaced.
   * Returns the last index now known to match the leader's.
   */
  maybeAppend(index: number, logTerm: number, entries: readonly Entry[]): number | null {
    if (this.term(index) !== logTerm) return null;
    for (const e of entries) {
      if (e.index > this.lastIndex) {
        this.entries.push(e);
        continue;
      }
      if (e.index <= this.snapshotIndex) continue;
      const mine = this.term(e.index);
      if (mine === e.term) continue;
      if (e.index <= this.committed) throw new Error(`entry ${e.index} conflicts with a committed one`);
      // A conflict (or the end): the tail goes, the leader's entries follow.
      this.truncateAfter(e.index - 1);
      this.entries.push(e);
    }
    return index + entries.length;
  }

  private truncateAfter(index: number): void {
    this.entries.length = index - this.snapshotIndex;
    if (this.stable > index) this.stable = index;
  }

  /**
   * Where a rejected append could match: the last index at or before `index` whose term is at most
   * `term` (etcd's findConflictByTerm), so the leader skips a whole term at a time.
   */
  conflictHint(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex);
    while (i > this.snapshotIndex && this.term(i) > term) i--;
    return i;
  }

  commitTo(index: number): void {
    if (index > this.committed) this.committed = Math.min(index, this.lastIndex);
  }

  get hasUnstable(): boolean {
    return this.stable < this.lastIndex;
  }

  get hasToApply(): boolean {
    return Math.min(this.committed, this.stable) > this.applied;
  }

  /** Entries the shell has not yet persisted. */
  unstable(): Entry[] {
    return this.stable >= this.lastIndex ? [] : this.slice(Math.max(this.stable, this.snapshotIndex) + 1, this.lastIndex + 1);
  }

  /** Committed entries not yet handed out to apply (only durable ones). */
  toApply(): Entry[] {
    const to = Math.min(this.committed, this.stable);
    return to > this.applied ? this.slice(this.applied + 1, to + 1) : [];
  }

  /** Drops the entries up to `index` (applied, and now in a snapshot). */
  compact(index: number): void {
    if (index <= this.snapshotIndex) return;
    if (index > this.applied) throw new Error(`cannot compact to ${index}: applied only to ${this.applied}`);
    this.snapshotTerm = this.term(index);
    this.entries = this.entries.slice(index - this.snapshotIndex);
    this.snapshotIndex = index;
  }

  /** A leader's snapshot replaces the whole log: everything up to it is committed and applied. */
  restore(snapshot: Snapshot): void {
    this.entries = [];
    this.snapshotIndex = snapshot.index;
    this.snapshotTerm = snapshot.term;
    this.committed = snapshot.index;
    this.stable = snapshot.index;
    this.applied = snapshot.index;
  }
}
