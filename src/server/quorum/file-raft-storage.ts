/**
 * RaftStorage in files: the entries in segments `raft-log.<first index>` (format below), the hard
 * state in `hardstate` (FileHardStateStore), both in one directory.
 *
 *   header   magic u32 "ERLG" | version u32 (1) | first index i64
 *   records  length u32 | crc32 u32 | index i64 | term i64 | kind u8 | body (length bytes)
 *            crc over index, term, kind and body; kind 0 no-op (no body), 1 payload (the bytes),
 *            2 configuration (voters then learners, each a u32 count then u32 ids)
 *   zeros    to the end of the file (preallocated)
 *
 * Batches are written as FileLogStore writes them: one O_DSYNC write at the end of the last
 * segment, onto zeros written ahead of it (zero-fill.ts). A tail is cut by deleting the segments past the
 * cut and truncating the one it falls in, each step durable before the next, so that a crash leaves
 * a contiguous log. The offset of every record is kept in memory for that.
 */
import { close, closeSync, constants, fstatSync, openSync, rmSync, truncateSync, write, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { putLong } from '../../protocol/jute.ts';
import type { Environment, Timer } from '../env/environment.ts';
import { fsyncFile, type BatchWritten } from '../storage/file-log-store.ts';
import { fileName, listFiles } from '../storage/files.ts';
import { FileHardStateStore } from '../storage/hard-state.ts';
import { isZeros, readSegment } from '../storage/segment.ts';
import { SegmentZeros } from '../storage/zero-fill.ts';
import type { ConfState, Entry, HardState } from './core/types.ts';
import { COMMIT_SAVE_MS, hardStateSave, recovered, WriteQueue, type Batch, type RaftStorage, type RaftStorageStats, type Recovered } from './raft-storage.ts';

export const RAFT_LOG_MAGIC = 0x45524c47; // "ERLG"
export const RAFT_LOG_VERSION = 1;
export const RAFT_LOG_HEADER_BYTES = 16;
export const RAFT_RECORD_HEADER_BYTES = 25;

const KIND_NOOP = 0;
const KIND_PAYLOAD = 1;
const KIND_CONF = 2;

export class RaftLogFormatError extends Error {}

export interface FileRaftStorageOptions {
  dir: string;
  /** Each batch durable before its `done`s run (off: for tests only). */
  forceSync: boolean;
  /** Start a new segment once the last one is larger than this. */
  rollBytes: number;
  /** Segments are grown by this much at a time (at most a MiB: zero-fill.ts), so a sync rarely has a size to record. */
  preallocBytes: number;
  /** Largest record body accepted when reading back. */
  maxRecordBytes: number;
  /** Called once if the disk fails: nothing more is made durable. */
  onFatal: (err: Error) => void;
  onBatchWritten?: BatchWritten;
  log?: { info(obj: object, msg: string): void };
}

interface Segment {
  first: number;
  path: string;
  /** offsets[i]: where the record of index first + i starts. */
  offsets: number[];
  /** Just past the last record. */
  end: number;
}

export class FileRaftStorage implements RaftStorage {
  private readonly hardStates: FileHardStateStore;
  private segments: Segment[] = [];
  private loaded = false;
  /** Open on the last segment while it is appended to. */
  private fd = -1;
  private readonly zeros: SegmentZeros;
  private rollRequested = false;
  private saved: HardState = { term: 0, vote: 0, commit: 0 };
  /** A hard state newer than `saved` by its commit index only, saved when commitTimer fires. */
  private pendingCommit: HardState | null = null;
  private commitTimer: Timer | null = null;
  private queue = new WriteQueue(0);
  private flushing = false;
  private scheduled = false;
  private failed: Error | null = null;
  private drained: Array<() => void> = [];
  readonly stats: RaftStorageStats = { batches: 0, entryWrites: 0, hardStateWrites: 0 };
  private readonly flushSoon = (): void => {
    this.scheduled = false;
    this.flush();
  };

  constructor(private readonly options: FileRaftStorageOptions, private readonly env: Environment) {
    this.hardStates = new FileHardStateStore(options.dir);
    this.zeros = new SegmentZeros(options.preallocBytes);
  }

  load(warn: (msg: string) => void = () => {}): Recovered {
    if (this.loaded) throw new Error('the consensus log is already loaded');
    // Again after a failed load (damaged files set aside): from scratch.
    this.segments = [];
    const entries: Entry[] = [];
    const files = listFiles(this.options.dir, 'raft-log');
    for (let i = 0; i < files.length; i++) {
      const { path, index } = files[i];
      const newest = i === files.length - 1;
      const buf = readSegment(path, this.options.maxRecordBytes);
      if (buf.length < RAFT_LOG_HEADER_BYTES || isZeros(buf, 0, RAFT_LOG_HEADER_BYTES)) {
        if (!newest) throw new RaftLogFormatError(`${path}: no header`);
        // A crash while it was being created: it holds nothing.
        warn(`${path}: no header (a crash while it was created); removed`);
        rmSync(path);
        fsyncFile(this.options.dir);
        break;
      }
      const scan = scanRaftSegment(buf, this.options.maxRecordBytes, path);
      if (scan.first !== index) throw new RaftLogFormatError(`${path}: its header says it starts at index ${scan.first}`);
      const expected = this.segments.length > 0 ? lastOf(this.segments[this.segments.length - 1]) + 1 : scan.first;
      if (scan.first !== expected) throw new RaftLogFormatError(`${path} starts at index ${scan.first} but the log before it ends at ${expected - 1}`);
      if (scan.damage !== null) {
        const { offset, reason, nextValid } = scan.damage;
        if (nextValid >= 0) throw new RaftLogFormatError(`${path}: damaged record at offset ${offset} (${reason}) with intact records after it (at ${nextValid})`);
        if (!newest) throw new RaftLogFormatError(`${path}: damaged record at offset ${offset} (${reason}) in a segment that is not the last`);
        // A write the crash interrupted: never acknowledged, as `done` waits for it.
        truncateSync(path, offset);
        fsyncFile(path);
        warn(`${path}: torn write at offset ${offset} (${reason}); the log is cut there (last index ${scan.first + scan.entries.length - 1})`);
      }
      this.segments.push({ first: scan.first, path, offsets: scan.offsets, end: scan.end });
      for (const e of scan.entries) entries.push(e);
    }
    const last = this.lastIndex();
    this.saved = this.hardStates.load();
    this.queue = new WriteQueue(last);
    this.loaded = true;
    return recovered(this.saved, entries, last, warn);
  }

  persist(entries: readonly Entry[], hardState: HardState | null, done: () => void): void {
    this.mustBeLoaded();
    if (this.failed) return; // stopping: nothing is acknowledged any more
    this.queue.add(entries, hardState, done);
    this.schedule();
  }

  reset(index: number): void {
    this.mustBeLoaded();
    this.queue.reset(index);
    this.schedule();
  }

  compact(index: number): void {
    this.mustBeLoaded();
    if (this.failed) return;
    try {
      // Whole segments, oldest first, never the last one; each removal durable before the next, so
      // that a crash cannot leave an older segment without the one after it.
      while (this.segments.length > 1 && this.segments[1].first <= index + 1) {
        rmSync(this.segments.shift()!.path);
        fsyncFile(this.options.dir);
      }
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    const last = this.segments[this.segments.length - 1];
    // Its entries are all covered: the next batch starts a segment, so that this one can go later.
    if (last !== undefined && last.offsets.length > 0 && lastOf(last) <= index) this.rollRequested = true;
  }

  async close(): Promise<void> {
    if (!this.failed && (this.flushing || this.scheduled || !this.queue.empty)) await new Promise<void>((resolve) => this.drained.push(resolve));
    this.commitTimer?.cancel();
    this.commitTimer = null;
    if (this.pendingCommit !== null && !this.failed) this.saveHardState(this.pendingCommit);
    await this.zeros.settled();
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await new Promise<void>((resolve) => close(fd, () => resolve()));
    }
  }

  private mustBeLoaded(): void {
    if (!this.loaded) throw new Error('the consensus log must be loaded first');
  }

  private lastIndex(): number {
    const last = this.segments[this.segments.length - 1];
    return last === undefined ? 0 : lastOf(last);
  }

  private schedule(): void {
    if (this.flushing || this.scheduled || this.failed) return;
    this.scheduled = true;
    this.env.scheduler.soon(this.flushSoon);
  }

  private flush(): void {
    if (this.flushing || this.failed) return;
    const batch = this.queue.take();
    if (batch === null) {
      this.onDrained();
      return;
    }
    this.flushing = true;
    let segment: Segment | null = null;
    try {
      if (batch.resetTo !== null) {
        this.removeFrom(-Infinity);
        this.createSegment(batch.resetTo);
      } else if (batch.cutFrom !== null) {
        this.removeFrom(batch.cutFrom);
      }
      if (batch.entries.length > 0) segment = this.segmentFor(batch.entries[0].index);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (segment === null) {
      this.finish(batch);
      return;
    }
    const at = segment.end;
    const buf = encodeRecords(batch.entries, at, segment.offsets);
    segment.end = at + buf.length;
    const fd = this.fd;
    this.zeros.prepare(segment.end, (err) => {
      if (err !== null) this.fail(err);
      else if (!this.failed) this.writeBatch(fd, buf, at, batch);
    });
  }

  private writeBatch(fd: number, buf: Buffer, at: number, batch: Batch): void {
    const started = this.env.clock.monotonic();
    write(fd, buf, 0, buf.length, at, (err, written) => {
      if (err || written !== buf.length) return this.fail(err ?? new Error(`short write: ${written} of ${buf.length} bytes`));
      this.options.onBatchWritten?.(this.segments[this.segments.length - 1].path, batch.entries.length, this.env.clock.monotonic() - started, this.options.forceSync);
      this.stats.entryWrites++;
      this.finish(batch);
    });
  }

  /** The entries are durable: the hard state goes next (a new commit index alone: later), then the `done`s. */
  private finish(batch: Batch): void {
    const save = hardStateSave(this.saved, batch.hardState);
    if (save === 'now' && !this.saveHardState(batch.hardState!)) return;
    if (save === 'later') {
      this.pendingCommit = batch.hardState;
      this.commitTimer ??= this.env.scheduler.after(COMMIT_SAVE_MS, () => {
        this.commitTimer = null;
        if (this.pendingCommit !== null && !this.failed) this.saveHardState(this.pendingCommit);
      });
    }
    this.stats.batches++;
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && last.end >= this.options.rollBytes) this.rollRequested = true;
    this.flushing = false;
    for (const cb of batch.callbacks) cb();
    // Given meanwhile: the next batch goes at once.
    if (!this.queue.empty) this.flush();
    else this.onDrained();
  }

  private saveHardState(hardState: HardState): boolean {
    try {
      this.hardStates.save(hardState);
    } catch (err) {
      this.fail(err as Error);
      return false;
    }
    this.saved = hardState;
    this.pendingCommit = null;
    this.stats.hardStateWrites++;
    return true;
  }

  /** The segment the batch starting at `first` goes to, open for appending. */
  private segmentFor(first: number): Segment {
    const last = this.segments[this.segments.length - 1];
    if (last !== undefined && lastOf(last) + 1 !== first) throw new Error(`a batch from index ${first} after ${lastOf(last)}`);
    if (last === undefined || (this.rollRequested && last.offsets.length > 0)) return this.createSegment(first);
    if (this.fd < 0) {
      // The last segment as loaded, or as a cut left it.
      this.fd = openSync(last.path, constants.O_WRONLY | (this.options.forceSync ? constants.O_DSYNC : 0));
      this.zeros.use(last.path, fstatSync(this.fd).size);
    }
    return last;
  }

  private createSegment(first: number): Segment {
    this.closeSegment();
    const path = join(this.options.dir, fileName('raft-log', first));
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (this.options.forceSync ? constants.O_DSYNC : 0);
    this.fd = openSync(path, flags, 0o644);
    const header = Buffer.alloc(RAFT_LOG_HEADER_BYTES);
    header.writeUInt32BE(RAFT_LOG_MAGIC, 0);
    header.writeUInt32BE(RAFT_LOG_VERSION, 4);
    header.writeBigInt64BE(BigInt(first), 8);
    writeSync(this.fd, header, 0, header.length, 0);
    fsyncFile(this.options.dir);
    this.zeros.use(path, RAFT_LOG_HEADER_BYTES);
    this.rollRequested = false;
    const segment = { first, path, offsets: [], end: RAFT_LOG_HEADER_BYTES };
    this.options.log?.info({ path, firstIndex: first }, 'new log segment');
    this.segments.push(segment);
    return segment;
  }

  /**
   * Cuts every entry from `index` on, durably: the segments past it newest first, then the one it
   * falls in truncated. A crash on the way leaves a shorter log, never one with a hole.
   */
  private removeFrom(index: number): void {
    this.closeSegment();
    while (this.segments.length > 0 && this.segments[this.segments.length - 1].first >= index) {
      rmSync(this.segments.pop()!.path);
      fsyncFile(this.options.dir);
    }
    const last = this.segments[this.segments.length - 1];
    if (last === undefined || lastOf(last) < index) return;
    const at = last.offsets[index - last.first];
    truncateSync(last.path, at);
    fsyncFile(last.path);
    last.offsets.length = index - last.first;
    last.end = at;
  }

  private closeSegment(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private onDrained(): void {
    if (this.flushing || this.scheduled || !this.queue.empty) return;
    for (const resolve of this.drained.splice(0)) resolve();
  }

  private fail(err: Error): void {
    if (this.failed) return;
    this.failed = err;
    this.flushing = false;
    this.options.onFatal(err);
    for (const resolve of this.drained.splice(0)) resolve();
  }
}

function lastOf(s: Segment): number {
  return s.first + s.offsets.length - 1;
}

// ---- the format ----

/** The batch's records in one buffer, to go at `at` in the segment; their offsets go to `offsets`. */
export function encodeRecords(entries: readonly Entry[], at: number, offsets: number[]): Buffer {
  let total = 0;
  for (const e of entries) total += RAFT_RECORD_HEADER_BYTES + bodyBytes(e);
  const buf = Buffer.allocUnsafe(total);
  let o = 0;
  for (const e of entries) {
    const start = o;
    const length = bodyBytes(e);
    buf.writeUInt32BE(length, o);
    // Without a BigInt: one per index and term made these writes a visible part of a member's CPU.
    putLong(buf, o + 8, e.index);
    putLong(buf, o + 16, e.term);
    o += RAFT_RECORD_HEADER_BYTES;
    if (e.conf !== undefined) {
      buf[o - 1] = KIND_CONF;
      o = writeIds(buf, o, e.conf.voters);
      o = writeIds(buf, o, e.conf.learners);
    } else if (e.data !== null) {
      buf[o - 1] = KIND_PAYLOAD;
      o += e.data.copy(buf, o);
    } else {
      buf[o - 1] = KIND_NOOP;
    }
    buf.writeUInt32BE(crc32(buf.subarray(start + 8, o)), start + 4);
    offsets.push(at + start);
  }
  return buf;
}

function bodyBytes(e: Entry): number {
  if (e.conf !== undefined) return 8 + 4 * (e.conf.voters.length + e.conf.learners.length);
  return e.data === null ? 0 : e.data.length;
}

function writeIds(buf: Buffer, o: number, ids: readonly number[]): number {
  buf.writeUInt32BE(ids.length, o);
  o += 4;
  for (const id of ids) {
    buf.writeUInt32BE(id, o);
    o += 4;
  }
  return o;
}

export interface ScannedRaftSegment {
  first: number;
  entries: Entry[];
  offsets: number[];
  /** Just past the last intact record. */
  end: number;
  /** The first record that is not intact, and where the next intact one is (-1: none, a torn write). */
  damage: { offset: number; reason: string; nextValid: number } | null;
}

/** Reads a segment's records up to the first that is not intact (or the zeros that end it). */
export function scanRaftSegment(buf: Buffer, maxRecordBytes: number, name: string): ScannedRaftSegment {
  if (buf.length < RAFT_LOG_HEADER_BYTES || buf.readUInt32BE(0) !== RAFT_LOG_MAGIC) throw new RaftLogFormatError(`${name}: not a consensus log segment (bad magic)`);
  const version = buf.readUInt32BE(4);
  if (version !== RAFT_LOG_VERSION) throw new RaftLogFormatError(`${name}: unknown consensus log format version ${version}`);
  const first = Number(buf.readBigInt64BE(8));
  const entries: Entry[] = [];
  const offsets: number[] = [];
  let offset = RAFT_LOG_HEADER_BYTES;
  for (;;) {
    const r = readRecord(buf, offset, first + entries.length, maxRecordBytes);
    if (r === 'end') return { first, entries, offsets, end: offset, damage: null };
    if ('reason' in r) {
      // A whole record out of place is no torn write: it counts as intact after the damage.
      const nextValid = r.intact ? offset : findIntact(buf, offset + 1, first + entries.length - 1, maxRecordBytes);
      return { first, entries, offsets, end: offset, damage: { offset, reason: r.reason, nextValid } };
    }
    entries.push(r.entry);
    offsets.push(offset);
    offset += RAFT_RECORD_HEADER_BYTES + r.length;
  }
}

type Problem = { reason: string; intact: boolean };

function readRecord(buf: Buffer, offset: number, index: number, maxRecordBytes: number): { entry: Entry; length: number } | 'end' | Problem {
  if (offset + RAFT_RECORD_HEADER_BYTES > buf.length) {
    return isZeros(buf, offset) ? 'end' : { reason: 'record header cut short', intact: false };
  }
  const length = buf.readUInt32BE(offset);
  // No record is all zeros: its index is at least 1.
  if (length === 0 && buf.readUInt32BE(offset + 4) === 0 && isZeros(buf, offset)) return 'end';
  if (length > maxRecordBytes) return { reason: `bad record length ${length}`, intact: false };
  const end = offset + RAFT_RECORD_HEADER_BYTES + length;
  if (end > buf.length) return { reason: 'record cut short', intact: false };
  if (crc32(buf.subarray(offset + 8, end)) !== buf.readUInt32BE(offset + 4)) return { reason: 'checksum mismatch', intact: false };
  const at = Number(buf.readBigInt64BE(offset + 8));
  if (at !== index) return { reason: `index ${at} does not follow ${index - 1}`, intact: true };
  const term = Number(buf.readBigInt64BE(offset + 16));
  const kind = buf[offset + 24];
  const body = buf.subarray(offset + RAFT_RECORD_HEADER_BYTES, end);
  if (kind === KIND_NOOP && length === 0) return { entry: { term, index, data: null }, length };
  if (kind === KIND_PAYLOAD) return { entry: { term, index, data: Buffer.from(body) }, length };
  if (kind === KIND_CONF) {
    const conf = readConf(body);
    if (conf !== null) return { entry: { term, index, data: null, conf }, length };
    return { reason: 'undecodable configuration', intact: true };
  }
  return { reason: `unknown entry kind ${kind} (${length} bytes)`, intact: true };
}

function readConf(body: Buffer): ConfState | null {
  const lists: number[][] = [];
  let o = 0;
  for (let l = 0; l < 2; l++) {
    if (o + 4 > body.length) return null;
    const n = body.readUInt32BE(o);
    o += 4;
    if (o + 4 * n > body.length) return null;
    const ids: number[] = [];
    for (let i = 0; i < n; i++, o += 4) ids.push(body.readUInt32BE(o));
    lists.push(ids);
  }
  return o === body.length ? { voters: lists[0], learners: lists[1] } : null;
}

/** Offset of the first record at or after `from` whose checksum matches and whose index is past `lastIndex`, or -1. */
function findIntact(buf: Buffer, from: number, lastIndex: number, maxRecordBytes: number): number {
  for (let o = from; o + RAFT_RECORD_HEADER_BYTES <= buf.length; o++) {
    const length = buf.readUInt32BE(o);
    if (length > maxRecordBytes || o + RAFT_RECORD_HEADER_BYTES + length > buf.length) continue;
    if (Number(buf.readBigInt64BE(o + 8)) <= lastIndex) continue;
    if (crc32(buf.subarray(o + 8, o + RAFT_RECORD_HEADER_BYTES + length)) === buf.readUInt32BE(o + 4)) return o;
  }
  return -1;
}
