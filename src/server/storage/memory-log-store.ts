/**
 * The in-memory twin of FileLogStore for the simulator: entries appended go to `unsynced` until a
 * batch completes (on the injected scheduler, as a write+fdatasync would), and `crash()` loses
 * them, as a machine losing power loses what was not yet on disk.
 */
import type { Environment } from '../env/environment.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { EMPTY_POSITION, type LogEntry, type LogPosition, type LogStore } from './stores.ts';

export class MemoryLogStore implements LogStore {
  private synced: LogEntry[] = [];
  private unsynced: LogEntry[] = [];
  private callbacks: Array<() => void> = [];
  private drained: Array<() => void> = [];
  private scheduled = false;
  /** Bumped by crash(), so that a batch scheduled before it does not complete after it. */
  private generation = 0;
  /** Batches completed (for tests). */
  batches = 0;

  /** `start`: the position just before the first entry (a snapshot's, or the empty log's). */
  constructor(private readonly env: Environment, private start: LogPosition = EMPTY_POSITION) {}

  append(index: number, term: number, entry: TxnEntry, done: () => void): void {
    const last = this.last().index;
    if (index !== last + 1) throw new Error(`log append at index ${index} after ${last}`);
    this.unsynced.push({ index, term, entry });
    this.callbacks.push(done);
    if (this.scheduled) return;
    this.scheduled = true;
    const generation = this.generation;
    this.env.scheduler.soon(() => {
      if (generation === this.generation) this.completeBatch();
    });
  }

  sync(): Promise<void> {
    if (this.unsynced.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  entries(from: number, to: number): LogEntry[] {
    return this.synced.filter((e) => e.index >= from && e.index < to);
  }

  async truncateAfter(index: number): Promise<void> {
    await this.sync();
    if (index < this.start.index) throw new Error(`cannot truncate the log after index ${index}: that entry is no longer held`);
    this.synced = this.synced.filter((e) => e.index <= index);
  }

  last(): LogPosition {
    const e = this.unsynced.at(-1) ?? this.synced.at(-1);
    return e ? { index: e.index, term: e.term, zxid: e.entry.header.zxid } : { ...this.start };
  }

  firstIndex(): number {
    return (this.synced[0] ?? this.unsynced[0])?.index ?? this.start.index + 1;
  }

  async close(): Promise<void> {
    await this.sync();
  }

  /** Entries appended and not yet durable. */
  get unsyncedCount(): number {
    return this.unsynced.length;
  }

  /**
   * Power lost: what was not yet durable is gone and its callbacks never run, but for the first
   * `keep` entries of it, which reached the disk before the power went (a batch cut short).
   */
  crash(keep = 0): void {
    this.generation++;
    this.scheduled = false;
    this.synced.push(...this.unsynced.slice(0, Math.max(0, keep)));
    this.unsynced = [];
    this.callbacks = [];
    this.drained = [];
  }

  private completeBatch(): void {
    this.scheduled = false;
    const callbacks = this.callbacks;
    this.synced.push(...this.unsynced);
    this.unsynced = [];
    this.callbacks = [];
    this.batches++;
    // What the callbacks append forms the next batch.
    for (const cb of callbacks) cb();
    if (this.unsynced.length === 0) for (const resolve of this.drained.splice(0)) resolve();
  }
}
