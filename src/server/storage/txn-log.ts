/**
 * The transaction log: segments `log.<first zxid>`, each a 16-byte header (magic "ELOG", format
 * version, first zxid) then records
 *
 *   length u32 | crc32 u32 | zxid i64 | txn (length bytes)        crc over zxid and txn
 *
 * and zeros after the last record (segments are preallocated). Appends are group-committed: every
 * txn submitted while a batch is being written goes into the next batch, one durable (O_DSYNC) write
 * per batch, and the batch's callbacks run in zxid order once it is on disk.
 */
import { close, closeSync, constants, fsyncSync, ftruncate, openSync, write, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { JuteReader, JuteWriter } from '../../protocol/jute.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { fileName } from './files.ts';
import { readTxnEntry, writeTxnEntry } from './txn-codec.ts';

export const LOG_MAGIC = 0x454c4f47; // "ELOG"
export const LOG_VERSION = 1;
export const LOG_HEADER_BYTES = 16;
export const RECORD_HEADER_BYTES = 16;

export interface TxnLogOptions {
  dir: string;
  /** Each batch durable before its callbacks run (forceSync=no turns it off: for tests only). */
  forceSync: boolean;
  /** Start a new segment once the current one is larger than this. */
  rollBytes: number;
  /** Segments are extended (sparsely) by this much at a time, so a sync rarely has a size to record. */
  preallocBytes: number;
  /** Called once if the disk fails: nothing more can be acknowledged. */
  onFatal: (err: Error) => void;
}

export class TxnLog {
  private fd = -1;
  private position = 0;
  private allocated = 0;
  private batch = new JuteWriter(64 * 1024);
  private callbacks: Array<() => void> = [];
  private flushing = false;
  private scheduled = false;
  private rollRequested = false;
  private batchFirstZxid = 0;
  private failed: Error | null = null;
  private drained: Array<() => void> = [];
  /** Batches written since the start (for stats). */
  batches = 0;
  /** Durable (synced) batch writes since the start. */
  syncs = 0;

  /** The first append opens a new segment named by its zxid (so every start begins one, as ZooKeeper's). */
  constructor(private readonly options: TxnLogOptions) {}

  /** Appends a txn; `done` runs once it is durable. */
  append(entry: TxnEntry, done: () => void): void {
    if (this.failed) return; // the server is stopping; nothing is acknowledged any more
    if (this.callbacks.length === 0) this.batchFirstZxid = entry.header.zxid;
    const w = this.batch;
    const start = w.offset;
    w.int(0).int(0).long(entry.header.zxid);
    writeTxnEntry(w, entry);
    const end = w.offset;
    w.putInt(start, end - start - RECORD_HEADER_BYTES);
    w.putInt(start + 4, crc32(w.view(start + 8, end)));
    this.callbacks.push(done);
    if (!this.flushing && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.flush();
      });
    }
  }

  /** The next append starts a new segment (after a snapshot, so that old segments can be purged). */
  roll(): void {
    this.rollRequested = true;
  }

  /** Resolves once everything appended so far is durable. */
  sync(): Promise<void> {
    if (this.failed || (!this.flushing && this.callbacks.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.drained.push(resolve));
  }

  async close(): Promise<void> {
    await this.sync();
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await new Promise<void>((resolve) => close(fd, () => resolve()));
    }
  }

  private openSegment(firstZxid: number): void {
    if (this.fd >= 0) closeSync(this.fd);
    const path = join(this.options.dir, fileName('log', firstZxid));
    // With O_DSYNC a batch's write returns once it is durable: one system call, and one trip to
    // libuv's thread pool, instead of a write and then an fdatasync.
    const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (this.options.forceSync ? constants.O_DSYNC : 0);
    this.fd = openSync(path, flags, 0o644);
    const header = Buffer.alloc(LOG_HEADER_BYTES);
    header.writeUInt32BE(LOG_MAGIC, 0);
    header.writeUInt32BE(LOG_VERSION, 4);
    header.writeBigInt64BE(BigInt(firstZxid), 8);
    writeSync(this.fd, header, 0, header.length, 0);
    // The header is durable once written (O_DSYNC); the new name needs the directory's fsync.
    fsyncDir(dirname(path));
    this.position = LOG_HEADER_BYTES;
    this.allocated = LOG_HEADER_BYTES;
    this.rollRequested = false;
  }

  private flush(): void {
    if (this.callbacks.length === 0 || this.failed) {
      this.onDrained();
      return;
    }
    this.flushing = true;
    if (this.fd < 0 || this.rollRequested) {
      try {
        this.openSegment(this.batchFirstZxid);
      } catch (err) {
        this.fail(err as Error);
        return;
      }
    }
    const buf = Buffer.from(this.batch.bytes());
    this.batch.reset();
    const callbacks = this.callbacks;
    this.callbacks = [];
    const fd = this.fd;
    const at = this.position;
    const grow = at + buf.length > this.allocated;
    if (grow) {
      this.allocated = at + buf.length + this.options.preallocBytes;
      ftruncate(fd, this.allocated, (err) => (err ? this.fail(err) : this.writeBatch(fd, buf, at, callbacks)));
    } else {
      this.writeBatch(fd, buf, at, callbacks);
    }
  }

  private writeBatch(fd: number, buf: Buffer, at: number, callbacks: Array<() => void>): void {
    write(fd, buf, 0, buf.length, at, (err, written) => {
      if (err || written !== buf.length) return this.fail(err ?? new Error(`short write: ${written} of ${buf.length} bytes`));
      const finish = (): void => {
        this.position = at + buf.length;
        this.batches++;
        for (const cb of callbacks) cb();
        this.flushing = false;
        if (this.position >= this.options.rollBytes) this.rollRequested = true;
        if (this.callbacks.length > 0) {
          // Appended meanwhile: the next batch goes at once.
          this.flush();
        } else this.onDrained();
      };
      if (this.options.forceSync) this.syncs++;
      finish();
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

export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

// ---- reading ----

export interface ScannedRecord {
  entry: TxnEntry;
  /** Offset of the record in the segment. */
  offset: number;
}

export type ScanEnd =
  | { kind: 'clean' } // zeros (or the file's end) after the last record
  | { kind: 'torn'; offset: number; reason: string } // a bad record with nothing valid after it
  | { kind: 'corrupt'; offset: number; reason: string; nextValidOffset: number }; // a bad record, valid ones after it

export interface ScannedSegment {
  firstZxid: number;
  records: ScannedRecord[];
  /** Offset just past the last good record. */
  validEnd: number;
  end: ScanEnd;
}

export class LogFormatError extends Error {}

/** Reads a whole segment, stopping at the first record that is not intact. */
export function scanSegment(buf: Buffer, maxRecordBytes: number): ScannedSegment {
  if (buf.length < LOG_HEADER_BYTES || buf.readUInt32BE(0) !== LOG_MAGIC) throw new LogFormatError('not a transaction log segment (bad magic)');
  const version = buf.readUInt32BE(4);
  if (version !== LOG_VERSION) throw new LogFormatError(`unknown log format version ${version}`);
  const firstZxid = Number(buf.readBigInt64BE(8));
  const records: ScannedRecord[] = [];
  let offset = LOG_HEADER_BYTES;
  let lastZxid = firstZxid - 1;
  for (;;) {
    const problem = checkRecord(buf, offset, maxRecordBytes, lastZxid);
    if (problem === 'end') return { firstZxid, records, validEnd: offset, end: { kind: 'clean' } };
    if (typeof problem === 'string') {
      const next = findValidRecord(buf, offset + 1, maxRecordBytes, lastZxid);
      const end: ScanEnd = next < 0
        ? { kind: 'torn', offset, reason: problem }
        : { kind: 'corrupt', offset, reason: problem, nextValidOffset: next };
      return { firstZxid, records, validEnd: offset, end };
    }
    records.push({ entry: problem, offset });
    lastZxid = problem.header.zxid;
    offset += RECORD_HEADER_BYTES + buf.readUInt32BE(offset);
  }
}

/** The record at offset, 'end' when only zeros (or nothing) follow, or what is wrong with it. */
function checkRecord(buf: Buffer, offset: number, maxRecordBytes: number, lastZxid: number): TxnEntry | 'end' | string {
  if (offset + RECORD_HEADER_BYTES > buf.length) {
    return isZeros(buf, offset) ? 'end' : 'record header cut short';
  }
  const length = buf.readUInt32BE(offset);
  if (length === 0 && buf.readUInt32BE(offset + 4) === 0 && isZeros(buf, offset)) return 'end';
  if (length === 0 || length > maxRecordBytes) return `bad record length ${length}`;
  if (offset + RECORD_HEADER_BYTES + length > buf.length) return 'record cut short';
  const crc = buf.readUInt32BE(offset + 4);
  if (crc32(buf.subarray(offset + 8, offset + RECORD_HEADER_BYTES + length)) !== crc) return 'checksum mismatch';
  const zxid = Number(buf.readBigInt64BE(offset + 8));
  if (zxid !== lastZxid + 1) return `zxid ${zxid.toString(16)} does not follow ${lastZxid.toString(16)}`;
  try {
    const entry = readTxnEntry(new JuteReader(buf, offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length));
    if (entry.header.zxid !== zxid) return 'zxid of the record and of its txn differ';
    return entry;
  } catch (err) {
    return `undecodable txn: ${(err as Error).message}`;
  }
}

/** Offset of the first intact record after `from` with a zxid past lastZxid, or -1. */
function findValidRecord(buf: Buffer, from: number, maxRecordBytes: number, lastZxid: number): number {
  for (let at = from; at + RECORD_HEADER_BYTES <= buf.length; at++) {
    const length = buf.readUInt32BE(at);
    if (length === 0 || length > maxRecordBytes || at + RECORD_HEADER_BYTES + length > buf.length) continue;
    const zxid = Number(buf.readBigInt64BE(at + 8));
    if (zxid <= lastZxid) continue;
    if (crc32(buf.subarray(at + 8, at + RECORD_HEADER_BYTES + length)) === buf.readUInt32BE(at + 4)) return at;
  }
  return -1;
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** Whether buf holds only zeros from `from` on (a segment's preallocated tail), compared natively. */
function isZeros(buf: Buffer, from: number): boolean {
  for (let at = from; at < buf.length; at += ZEROS.length) {
    const n = Math.min(ZEROS.length, buf.length - at);
    if (buf.compare(ZEROS, 0, n, at, at + n) !== 0) return false;
  }
  return true;
}
