/**
 * What a member keeps of its consensus state across restarts: the log's entries and the hard state.
 * The interface, the batching both implementations share, and the in-memory twin for the simulator
 * (the files: file-raft-storage.ts).
 */
import type { Environment, Timer } from '../env/environment.ts';
import type { Entry, HardState } from './core/types.ts';

export interface RaftStorage {
  /**
   * What survives a restart: the hard state, and the entries in order (contiguous, from the first
   * held to the last). Called once, before anything is persisted. Repairs (a torn last record cut,
   * a commit index past the log's end lowered to it) are reported to `warn`. `lost`: entries known
   * committed are missing (the saved commit index is past the log's end: damage or deletion, not a
   * crash, which only loses what was never acknowledged).
   */
  load(warn?: (msg: string) => void): Recovered;
  /**
   * Makes a Ready durable: `entries` replace whatever the log holds from entries[0].index on (a
   * conflicting tail is cut), then `hardState` (if not null), in that order, so that a crash never
   * leaves a commit index over entries that were about to be replaced. `done` runs once the entries
   * and the hard state's term and vote are durable; a change of the commit index alone is saved
   * later (see COMMIT_SAVE_MS). Calls made while an earlier batch is being written are written
   * together after it (one sync per batch per file), and their `done`s run in call order.
   */
  persist(entries: readonly Entry[], hardState: HardState | null, done: () => void): void;
  /**
   * A snapshot at `index` installed from a leader replaces the whole log: every entry goes, and the
   * next one persisted is index + 1. Ordered with persist (durable with the next persist's `done`).
   */
  reset(index: number): void;
  /** Entries up to `index` are covered by a snapshot: they may be deleted (the last one is kept). */
  compact(index: number): void;
  /** Resolves once everything persisted so far is durable. */
  close(): Promise<void>;
}

export interface RaftStorageStats {
  /** Batches taken (each ends with its `done`s). */
  batches: number;
  /** Batches that wrote entries (one durable write each). */
  entryWrites: number;
  /** Hard states saved (only when it changed). */
  hardStateWrites: number;
}

/**
 * A hard state that changes only the commit index is saved at most this often, off the batches'
 * path, and on close(). Nothing waits for a commit index to be durable (Raft keeps it volatile): a
 * restart that finds an older one replays less of its log and learns the rest from the leader, and
 * its clients that saw more are refused until it has (their last zxid is ahead of its).
 */
export const COMMIT_SAVE_MS = 1000;

/** How a hard state given with a batch is saved: before its `done`s, later, or not at all. */
export function hardStateSave(saved: HardState, given: HardState | null): 'now' | 'later' | 'none' {
  if (given === null || sameHardState(given, saved)) return 'none';
  return given.term !== saved.term || given.vote !== saved.vote ? 'now' : 'later';
}

export const EMPTY_HARD_STATE: Readonly<HardState> = Object.freeze({ term: 0, vote: 0, commit: 0 });

/** What is written next: the calls made since the last batch was taken, merged. */
export interface Batch {
  /** A snapshot replaced the log: every entry goes first, and the log goes on from this index. */
  resetTo: number | null;
  /** Entries already written (or being written) from this index on are cut first. */
  cutFrom: number | null;
  entries: Entry[];
  /** The latest hard state given, written after the entries. */
  hardState: HardState | null;
  callbacks: Array<() => void>;
}

/** Merges persist and reset calls into the next batch, keeping track of where the log ends. */
export class WriteQueue {
  private batch = emptyBatch();
  /** The last index written or being written: a call replacing entries up to it cuts them on disk. */
  private written: number;
  /** The last index given (written or not). */
  private last: number;
  /** No entry at or below this may be persisted (the index of the last reset). */
  private floor = 0;

  constructor(lastIndex: number) {
    this.written = this.last = lastIndex;
  }

  get lastIndex(): number {
    return this.last;
  }

  get empty(): boolean {
    const b = this.batch;
    return b.resetTo === null && b.entries.length === 0 && b.hardState === null && b.callbacks.length === 0;
  }

  add(entries: readonly Entry[], hardState: HardState | null, done: () => void): void {
    if (entries.length > 0) {
      const from = entries[0].index;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (e.index !== from + i) throw new Error(`entries not contiguous: ${e.index} after ${entries[i - 1].index}`);
        if (e.conf !== undefined && e.data !== null) throw new Error(`entry ${e.index}: a configuration entry carries no payload`);
      }
      if (from > this.last + 1) throw new Error(`entries from index ${from} would leave a gap after ${this.last}`);
      if (from <= this.floor) throw new Error(`entry ${from} is covered by the snapshot at ${this.floor}`);
      const b = this.batch;
      if (b.entries.length > 0) b.entries.length = Math.max(0, Math.min(b.entries.length, from - b.entries[0].index));
      if (from <= this.written && b.resetTo === null) b.cutFrom = Math.min(b.cutFrom ?? from, from);
      for (const e of entries) b.entries.push(e);
      this.last = entries[entries.length - 1].index;
    }
    if (hardState !== null) this.batch.hardState = { term: hardState.term, vote: hardState.vote, commit: hardState.commit };
    this.batch.callbacks.push(done);
  }

  reset(index: number): void {
    const b = this.batch;
    b.resetTo = index + 1;
    b.cutFrom = null;
    b.entries = [];
    this.last = this.floor = index;
  }

  /** The batch to write now, or null when there is nothing to do. */
  take(): Batch | null {
    if (this.empty) return null;
    const b = this.batch;
    this.batch = emptyBatch();
    this.written = this.last;
    return b;
  }
}

function emptyBatch(): Batch {
  return { resetTo: null, cutFrom: null, entries: [], hardState: null, callbacks: [] };
}

export function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** The hard state as loaded: a commit index is never trusted beyond the log's end. */
export interface Recovered {
  hardState: HardState;
  entries: Entry[];
  lost: boolean;
}

/** What load() returns: the hard state's commit index no further than the log's end. */
export function recovered(hs: HardState, entries: Entry[], lastIndex: number, warn: (msg: string) => void): Recovered {
  if (hs.commit <= lastIndex) return { hardState: { ...hs }, entries, lost: false };
  warn(`the hard state's commit index ${hs.commit} is past the log's last entry ${lastIndex}: entries known committed are missing`);
  return { hardState: { ...hs, commit: lastIndex }, entries, lost: true };
}

/**
 * The in-memory twin: a batch becomes durable on the injected scheduler (as a write and its sync
 * would complete later), and crash() loses what was not yet durable, as a power loss would.
 */
export class MemoryRaftStorage implements RaftStorage {
  private hardState: HardState = { ...EMPTY_HARD_STATE };
  /** Newer than `hardState` by its commit index only: durable when commitTimer fires. */
  private pendingCommit: HardState | null = null;
  private commitTimer: Timer | null = null;
  private entries: Entry[] = [];
  /** The index before the first entry held (the log's end when it holds none). */
  private offset = 0;
  private queue = new WriteQueue(0);
  private scheduled = false;
  /** Bumped by crash(), so that a batch scheduled before it does not complete after it. */
  private generation = 0;
  private drained: Array<() => void> = [];
  readonly stats: RaftStorageStats = { batches: 0, entryWrites: 0, hardStateWrites: 0 };

  /** `syncMs`: how long a batch takes to become durable (a simulated disk); a turn of the loop by default. */
  constructor(private readonly env: Environment, private readonly syncMs?: () => number) {}

  load(warn: (msg: string) => void = () => {}): Recovered {
    return recovered(this.hardState, this.entries.map(copyEntry), this.lastIndex, warn);
  }

  persist(entries: readonly Entry[], hardState: HardState | null, done: () => void): void {
    this.queue.add(entries, hardState, done);
    this.schedule();
  }

  reset(index: number): void {
    this.queue.reset(index);
    this.schedule();
  }

  compact(index: number): void {
    // The last entry stays, as the files keep their last segment.
    const upTo = Math.min(index, this.lastIndex - 1);
    if (upTo <= this.offset) return;
    this.entries = this.entries.slice(upTo - this.offset);
    this.offset = upTo;
  }

  async close(): Promise<void> {
    if (this.scheduled) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.saveCommit();
  }

  /**
   * Power lost: what was not yet durable is gone and its `done`s never run, but for the first
   * `keep` entries of it (and the cut or reset before them), which reached the disk before the power
   * went: a batch cut short. load() then reads what a restart would.
   */
  crash(keep = 0): void {
    this.generation++;
    this.scheduled = false;
    this.commitTimer?.cancel();
    this.commitTimer = null;
    this.pendingCommit = null;
    const b = this.queue.take();
    if (b !== null && keep > 0) this.write({ ...b, entries: b.entries.slice(0, keep), hardState: null });
    this.queue = new WriteQueue(this.lastIndex);
    this.drained = [];
  }

  private get lastIndex(): number {
    return this.offset + this.entries.length;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    const generation = this.generation;
    const complete = (): void => {
      if (generation === this.generation) this.complete();
    };
    if (this.syncMs === undefined) this.env.scheduler.soon(complete);
    else this.env.scheduler.after(this.syncMs(), complete);
  }

  private complete(): void {
    this.scheduled = false;
    const b = this.queue.take();
    if (b !== null) {
      this.write(b);
      this.stats.batches++;
      for (const cb of b.callbacks) cb();
    }
    if (!this.scheduled) for (const resolve of this.drained.splice(0)) resolve();
  }

  private write(b: Batch): void {
    if (b.resetTo !== null) {
      this.entries = [];
      this.offset = b.resetTo - 1;
    } else if (b.cutFrom !== null) {
      if (b.cutFrom <= this.offset) {
        this.entries = [];
        this.offset = b.cutFrom - 1;
      } else {
        this.entries.length = Math.min(this.entries.length, b.cutFrom - this.offset - 1);
      }
    }
    if (b.entries.length > 0) {
      for (const e of b.entries) this.entries.push(e);
      this.stats.entryWrites++;
    }
    const save = hardStateSave(this.hardState, b.hardState);
    if (save === 'now') {
      this.pendingCommit = b.hardState;
      this.saveCommit();
    } else if (save === 'later') {
      this.pendingCommit = b.hardState;
      this.commitTimer ??= this.env.scheduler.after(COMMIT_SAVE_MS, () => this.saveCommit());
    }
  }

  private saveCommit(): void {
    this.commitTimer?.cancel();
    this.commitTimer = null;
    if (this.pendingCommit === null) return;
    this.hardState = this.pendingCommit;
    this.pendingCommit = null;
    this.stats.hardStateWrites++;
  }
}

/** What a restart reads back is new objects, not those the caller persisted. */
function copyEntry(e: Entry): Entry {
  const out: Entry = { term: e.term, index: e.index, data: e.data === null ? null : Buffer.from(e.data) };
  if (e.conf !== undefined) out.conf = { voters: [...e.conf.voters], learners: [...e.conf.learners] };
  return out;
}
