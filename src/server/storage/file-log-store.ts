/**
 * The log in segment files (format in segment.ts). Appends are group-committed: every entry
 * appended while a batch is being written goes into the next batch, one durable (O_DSYNC) write per
 * batch, and the batch's callbacks run in index order once it is on disk.
 */
import { close, closeSync, constants, fsyncSync, openSync, rmSync, truncateSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { JuteWriter } from '../../protocol/jute.ts';
import type { Environment } from '../env/environment.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { fileName, listFiles } from './files.ts';
import { LOG_HEADER_BYTES, readSegment, scanSegment, segmentHeader, writeRecord } from './segment.ts';
import { SegmentZeros } from './zero-fill.ts';
import { EMPTY_POSITION, type LogEntry, type LogPosition, type LogStore } from './stores.ts';

/**
 * Told after each batch written: the segment file, its records, how long the write took (ms) and
 * whether it was durable (forceSync) before it returned.
 */
export type BatchWritten = (file: string, entries: number, ms: number, synced: boolean) => void;

export interface FileLogStoreOptions {
  dir: string;
  /** Each batch durable before its callbacks run (forceSync=no turns it off: for tests only). */
  forceSync: boolean;
  /** Start a new segment once the current one is larger than this. */
  rollBytes: number;
  /** Segments are grown by this much at a time (at most a MiB: zero-fill.ts), so a sync rarely has a size to record. */
  preallocBytes: number;
  /** Largest record accepted when reading back. */
  maxRecordBytes: number;
  /** Called once if the disk fails: nothing more can be acknowledged. */
  onFatal: (err: Error) => void;
  onBatchWritten?: BatchWritten;
  log?: { info(obj: object, msg: string): void };
}

export class FileLogStore implements LogStore {
  private fd = -1;
  private path = '';
  private position = 0;
  private readonly zeros: SegmentZeros;
  /** The batch being filled; `spare` is the one being written (or free): no batch is copied. */
  private batch = new JuteWriter(64 * 1024);
  private spare = new JuteWriter(64 * 1024);
  private callbacks: Array<() => void> = [];
  private flushing = false;
  private scheduled = false;
  private rollRequested = false;
  private batchFirstIndex = 0;
  private failed: Error | null = null;
  private drained: Array<() => void> = [];
  private lastIndex: number;
  private lastTerm: number;
  private lastZxid: number;
  private durableIndex: number;
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };
  /** Batches written since the start (for stats). */
  batches = 0;
  /** Durable (synced) batch writes since the start. */
  syncs = 0;

  /**
   * `last` is where the log on disk ends (see replayLog). The first append opens a new segment
   * named by its index (so every start begins one, as ZooKeeper's).
   */
  constructor(private readonly options: FileLogStoreOptions, private readonly env: Environment, last: LogPosition = EMPTY_POSITION) {
    this.lastIndex = last.index;
    this.lastTerm = last.term;
    this.lastZxid = last.zxid;
    this.durableIndex = last.index;
    this.zeros = new SegmentZeros(options.preallocBytes);
  }

  append(index: number, term: number, entry: TxnEntry, done: () => void): void {
    if (this.failed) return; // the server is stopping; nothing is acknowledged any more
    if (index !== this.lastIndex + 1) throw new Error(`log append at index ${index} after ${this.lastIndex}`);
    if (this.callbacks.length === 0) this.batchFirstIndex = index;
    writeRecord(this.batch, index, term, entry);
    this.lastIndex = index;
    this.lastTerm = term;
    this.lastZxid = entry.header.zxid;
    this.callbacks.push(done);
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true;
      this.env.scheduler.soon(this.flushSoon);
    }
  }

  /** The next append starts a new segment (after a snapshot, so that old segments can be purged). */
  roll(): void {
    this.rollRequested = true;
  }

  sync(): Promise<void> {
    if (this.failed || (!this.flushing && this.callbacks.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  last(): LogPosition {
    return { index: this.lastIndex, term: this.lastTerm, zxid: this.lastZxid };
  }

  firstIndex(): number {
    const segments = listFiles(this.options.dir, 'log');
    if (segments.length > 0) return segments[0].index;
    return this.callbacks.length > 0 ? this.batchFirstIndex : this.lastIndex + 1;
  }

  entries(from: number, to: number): LogEntry[] {
    to = Math.min(to, this.durableIndex + 1);
    const out: LogEntry[] = [];
    const segments = listFiles(this.options.dir, 'log');
    for (let i = 0; i < segments.length && segments[i].index < to; i++) {
      if (i + 1 < segments.length && segments[i + 1].index <= from) continue;
      for (const r of this.scan(segments[i].path).records) {
        if (r.index >= from && r.index < to) out.push({ index: r.index, term: r.term, entry: r.entry });
      }
    }
    return out;
  }

  async truncateAfter(index: number): Promise<void> {
    await this.sync();
    if (this.failed) throw this.failed;
    if (index >= this.lastIndex) return;
    this.closeSegment();
    const segments = listFiles(this.options.dir, 'log');
    let last: LogPosition | null = index === 0 ? EMPTY_POSITION : null;
    for (const seg of segments) {
      if (seg.index > index) {
        rmSync(seg.path);
        continue;
      }
      const scan = this.scan(seg.path);
      const cut = scan.records.find((r) => r.index === index + 1);
      const kept = scan.records.find((r) => r.index === index);
      if (kept) last = { index, term: kept.term, zxid: kept.entry.header.zxid };
      if (cut) {
        truncateSync(seg.path, cut.offset);
        fsyncFile(seg.path);
      }
    }
    fsyncFile(this.options.dir);
    if (!last) throw new Error(`cannot truncate the log after index ${index}: that entry is no longer held`);
    this.lastIndex = this.durableIndex = last.index;
    this.lastTerm = last.term;
    this.lastZxid = last.zxid;
  }

  async close(): Promise<void> {
    await this.sync();
    await this.zeros.settled();
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await new Promise<void>((resolve) => close(fd, () => resolve()));
    }
  }

  private scan(path: string) {
    return scanSegment(readSegment(path, this.options.maxRecordBytes), this.options.maxRecordBytes);
  }

  private closeSegment(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private openSegment(firstIndex: number): void {
    this.closeSegment();
    const path = join(this.options.dir, fileName('log', firstIndex));
    // With O_DSYNC a batch's write returns once it is durable: one system call, and one trip to
    // libuv's thread pool, instead of a write and then an fdatasync.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (this.options.forceSync ? constants.O_DSYNC : 0);
    this.fd = openSync(path, flags, 0o644);
    this.path = path;
    const header = segmentHeader(firstIndex);
    writeSync(this.fd, header, 0, header.length, 0);
    // The header is durable once written (O_DSYNC); the new name needs the directory's fsync.
    fsyncFile(this.options.dir);
    this.position = LOG_HEADER_BYTES;
    this.zeros.use(path, LOG_HEADER_BYTES);
    this.rollRequested = false;
    this.options.log?.info({ path, firstIndex }, 'new log segment');
  }

  private flush(): void {
    if (this.callbacks.length === 0 || this.failed) {
      this.onDrained();
      return;
    }
    this.flushing = true;
    if (this.fd < 0 || this.rollRequested) {
      try {
        this.openSegment(this.batchFirstIndex);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    const writer = this.batch;
    this.batch = this.spare;
    this.spare = writer;
    const buf = writer.bytes();
    const callbacks = this.callbacks;
    this.callbacks = [];
    const lastIndex = this.lastIndex;
    const fd = this.fd;
    const at = this.position;
    this.zeros.prepare(at + buf.length, (err) => {
      if (err !== null) this.fail(err);
      else if (!this.failed) this.writeBatch(fd, buf, at, callbacks, lastIndex);
    });
  }

  private writeBatch(fd: number, buf: Buffer, at: number, callbacks: Array<() => void>, lastIndex: number): void {
    const started = this.env.clock.monotonic();
    write(fd, buf, 0, buf.length, at, (err, written) => {
      if (err || written !== buf.length) return this.fail(err ?? new Error(`short write: ${written} of ${buf.length} bytes`));
      this.options.onBatchWritten?.(this.path, callbacks.length, this.env.clock.monotonic() - started, this.options.forceSync);
      // buf is the spare writer's: free again now that it is on disk.
      this.spare.reset();
      this.position = at + buf.length;
      this.durableIndex = lastIndex;
      this.batches++;
      if (this.options.forceSync) this.syncs++;
      for (const cb of callbacks) cb();
      this.flushing = false;
      if (this.position >= this.options.rollBytes) this.rollRequested = true;
      // Appended meanwhile: the next batch goes at once.
      if (this.callbacks.length > 0) this.flush();
      else this.onDrained();
    });
  }

  private onDrained(): void {
    if (this.flushing || this.callbacks.length > 0) return;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.flushing = false;
    // Never acknowledged, and never will be: the server stops.
    this.callbacks = [];
    this.batch.reset();
    this.options.onFatal(err);
    for (const resolve of this.drained.splice(0)) resolve();
  }
}

/** fsync of a file or a directory (a directory's, for the names created or removed in it). */
export function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
