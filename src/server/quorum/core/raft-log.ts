/**
 * The core's view of its log: every entry it holds (index 1 upward; compaction comes with
 * snapshots), how far it is durable, committed and applied. Entries past `stable` are still to be
 * handed to the shell to persist.
 */
import type { Entry } from './types.ts';

export class RaftLog {
  private readonly entries: Entry[] = [];
  /** The last index the shell has made durable. */
  stable = 0;
  committed = 0;
  /** The last index handed to the shell to apply. */
  applied = 0;

  /** `persisted`: the entries the shell recovered from its log, in order from index 1. */
  constructor(persisted: readonly Entry[] = [], committed = 0) {
    for (const e of persisted) this.entries.push(e);
    this.stable = this.lastIndex;
    this.committed = Math.min(committed, this.lastIndex);
    this.applied = this.committed;
  }

  get lastIndex(): number {
    return this.entries.length;
  }

  get lastTerm(): number {
    return this.term(this.lastIndex);
  }

  /** The term of the entry at index (0 for index 0, -1 past the end). */
  term(index: number): number {
    if (index === 0) return 0;
    const e = this.entries[index - 1];
    return e === undefined ? -1 : e.term;
  }

  /** Entries in [from, to). */
  slice(from: number, to: number): Entry[] {
    return this.entries.slice(from - 1, to - 1);
  }

  /** A candidate's log is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    return lastTerm > this.lastTerm || (lastTerm === this.lastTerm && lastIndex >= this.lastIndex);
  }

  /** The leader appends at the end. */
  append(term: number, data: Buffer | null): Entry {
    const e: Entry = { term, index: this.lastIndex + 1, data };
    this.entries.push(e);
    return e;
  }

  /**
   * A follower takes entries after (index, logTerm): false when its log has no such entry.
   * Entries it already has are kept; from the first conflicting one on, its tail is replaced.
   * Returns the last index now known to match the leader's.
   */
  maybeAppend(index: number, logTerm: number, entries: readonly Entry[]): number | null {
    if (this.term(index) !== logTerm) return null;
    for (const e of entries) {
      const mine = this.term(e.index);
      if (mine === e.term) continue;
      if (e.index <= this.committed) throw new Error(`entry ${e.index} conflicts with a committed one`);
      // A conflict (or the end): the tail goes, the leader's entries follow.
      this.entries.length = e.index - 1;
      if (this.stable >= e.index) this.stable = e.index - 1;
      this.entries.push(e);
    }
    return index + entries.length;
  }

  /**
   * Where a rejected append could match: the last index at or before `index` whose term is at most
   * `term` (etcd's findConflictByTerm), so the leader skips a whole term at a time.
   */
  conflictHint(index: number, term: number): number {
    let i = Math.min(index, this.lastIndex);
    while (i > 0 && this.term(i) > term) i--;
    return i;
  }

  commitTo(index: number): void {
    if (index > this.committed) this.committed = Math.min(index, this.lastIndex);
  }

  /** Entries the shell has not yet persisted. */
  unstable(): Entry[] {
    return this.entries.slice(this.stable);
  }

  /** Committed entries not yet handed out to apply (only durable ones). */
  toApply(): Entry[] {
    const to = Math.min(this.committed, this.stable);
    return to > this.applied ? this.slice(this.applied + 1, to + 1) : [];
  }
}
