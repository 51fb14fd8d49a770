/**
 * Log segments: `log.<first index>`, a 16-byte header (magic "ELOG", format version, first index)
 * then records, then zeros (segments are preallocated). Format 2, written today:
 *
 *   length u32 | crc32 u32 | index i64 | term i64 | zxid i64 | txn (length bytes)
 *                            crc over index, term, zxid and txn
 *
 * Format 1 (read only) has `length | crc32 | zxid | txn` with the crc over zxid and txn, and names
 * segments by their first zxid: its entries read back with index = zxid and term = the zxid's epoch.
 *
 * This is the one reader of segments (recovery, the stores and the CLI tools all use it) and the
 * one check of a zero tail.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { JuteReader, type JuteWriter } from '../../protocol/jute.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { readTxnEntry, writeTxnEntry } from './txn-codec.ts';
import { epochOf, hex, zxidFollows } from '../tree/zxid.ts';

export const LOG_MAGIC = 0x454c4f47; // "ELOG"
export const LOG_VERSION = 2;
export const LOG_HEADER_BYTES = 16;
const RECORD_HEADER_BYTES = { 1: 16, 2: 32 } as const;
/** The most framing any format puts before a record's txn. */
export const MAX_RECORD_HEADER_BYTES = 32;
type Version = keyof typeof RECORD_HEADER_BYTES;

export class LogFormatError extends Error {}

export function segmentHeader(firstIndex: number): Buffer {
  const header = Buffer.alloc(LOG_HEADER_BYTES);
  header.writeUInt32BE(LOG_MAGIC, 0);
  header.writeUInt32BE(LOG_VERSION, 4);
  header.writeBigInt64BE(BigInt(firstIndex), 8);
  return header;
}

/** Appends one format-2 record to w (the hot path: no allocation beyond the writer's). */
export function writeRecord(w: JuteWriter, index: number, term: number, entry: TxnEntry): void {
  const start = w.offset;
  w.int(0).int(0).long(index).long(term).long(entry.header.zxid);
  writeTxnEntry(w, entry);
  const end = w.offset;
  w.putInt(start, end - start - RECORD_HEADER_BYTES[2]);
  w.putInt(start + 4, crc32(w.view(start + 8, end)));
}

// ---- reading ----

export interface ScannedRecord {
  index: number;
  term: number;
  entry: TxnEntry;
  /** Offset of the record in the segment. */
  offset: number;
}

export type ScanEnd =
  | { kind: 'clean' } // zeros (or the file's end) after the last record
  | { kind: 'torn'; offset: number; reason: string } // a bad record with nothing valid after it
  | { kind: 'corrupt'; offset: number; reason: string; nextValidOffset: number }; // a bad record, valid ones after it

export interface ScannedSegment {
  version: number;
  /** From the header: the first index (the first zxid in format 1). */
  firstIndex: number;
  records: ScannedRecord[];
  /** Offset just past the last good record. */
  validEnd: number;
  end: ScanEnd;
}

/** A crash while creating a segment leaves its header short or zeros (and no record). */
export function headerMissing(buf: Buffer): boolean {
  return buf.length < LOG_HEADER_BYTES || isZeros(buf, 0, LOG_HEADER_BYTES);
}

/**
 * Reads a whole segment, stopping at the first record that is not intact. Within a segment the
 * index goes up by one from the header's, and each zxid follows the one before (zxidFollows).
 */
export function scanSegment(buf: Buffer, maxRecordBytes: number): ScannedSegment {
  if (buf.length < LOG_HEADER_BYTES || buf.readUInt32BE(0) !== LOG_MAGIC) throw new LogFormatError('not a transaction log segment (bad magic)');
  const version = buf.readUInt32BE(4);
  if (version !== 1 && version !== 2) throw new LogFormatError(`unknown log format version ${version}`);
  const firstIndex = Number(buf.readBigInt64BE(8));
  const records: ScannedRecord[] = [];
  const at: Cursor = { version, maxRecordBytes, lastIndex: firstIndex - 1, lastZxid: -1 };
  let offset = LOG_HEADER_BYTES;
  for (;;) {
    const problem = checkRecord(buf, offset, at);
    if (problem === 'end') return { version, firstIndex, records, validEnd: offset, end: { kind: 'clean' } };
    if ('reason' in problem) {
      // An intact record out of succession is no torn write: it counts as a valid record after the damage.
      const next = findValidRecord(buf, problem.intact ? offset : offset + 1, at);
      const end: ScanEnd = next < 0
        ? { kind: 'torn', offset, reason: problem.reason }
        : { kind: 'corrupt', offset, reason: problem.reason, nextValidOffset: next };
      return { version, firstIndex, records, validEnd: offset, end };
    }
    records.push(problem);
    at.lastIndex = problem.index;
    at.lastZxid = problem.entry.header.zxid;
    offset += RECORD_HEADER_BYTES[version] + buf.readUInt32BE(offset);
  }
}

interface Cursor {
  version: Version;
  maxRecordBytes: number;
  lastIndex: number;
  /** -1 before the first record: its zxid is not known from the header in format 2. */
  lastZxid: number;
}

interface Problem {
  reason: string;
  /** Its checksum matches: the record is whole, but it does not belong here. */
  intact: boolean;
}

const damaged = (reason: string): Problem => ({ reason, intact: false });
const misplaced = (reason: string): Problem => ({ reason, intact: true });

/** The record at offset, 'end' when only zeros (or nothing) follow, or what is wrong with it. */
function checkRecord(buf: Buffer, offset: number, at: Cursor): ScannedRecord | 'end' | Problem {
  const headerBytes = RECORD_HEADER_BYTES[at.version];
  if (offset + headerBytes > buf.length) {
    return isZeros(buf, offset) ? 'end' : damaged('record header cut short');
  }
  const length = buf.readUInt32BE(offset);
  if (length === 0 && buf.readUInt32BE(offset + 4) === 0 && isZeros(buf, offset)) return 'end';
  if (length === 0 || length > at.maxRecordBytes) return damaged(`bad record length ${length}`);
  const end = offset + headerBytes + length;
  if (end > buf.length) return damaged('record cut short');
  if (crc32(buf.subarray(offset + 8, end)) !== buf.readUInt32BE(offset + 4)) return damaged('checksum mismatch');
  const zxid = Number(buf.readBigInt64BE(offset + headerBytes - 8));
  const index = at.version === 1 ? zxid : Number(buf.readBigInt64BE(offset + 8));
  const term = at.version === 1 ? epochOf(zxid) : Number(buf.readBigInt64BE(offset + 16));
  if (index !== at.lastIndex + 1) {
    return misplaced(at.version === 1 ? `zxid ${hex(zxid)} does not follow ${hex(at.lastIndex)}` : `index ${index} does not follow ${at.lastIndex}`);
  }
  if (at.lastZxid >= 0 && !zxidFollows(at.lastZxid, zxid)) return misplaced(`zxid ${hex(zxid)} does not follow ${hex(at.lastZxid)}`);
  try {
    const entry = readTxnEntry(new JuteReader(buf, offset + headerBytes, end));
    if (entry.header.zxid !== zxid) return misplaced('zxid of the record and of its txn differ');
    return { index, term, entry, offset };
  } catch (err) {
    return misplaced(`undecodable txn: ${(err as Error).message}`);
  }
}

/** Offset of the first intact record after `from` with an index past the last good one, or -1. */
function findValidRecord(buf: Buffer, from: number, at: Cursor): number {
  const headerBytes = RECORD_HEADER_BYTES[at.version];
  for (let o = from; o + headerBytes <= buf.length; o++) {
    const length = buf.readUInt32BE(o);
    if (length === 0 || length > at.maxRecordBytes || o + headerBytes + length > buf.length) continue;
    if (Number(buf.readBigInt64BE(o + 8)) <= at.lastIndex) continue;
    if (crc32(buf.subarray(o + 8, o + headerBytes + length)) === buf.readUInt32BE(o + 4)) return o;
  }
  return -1;
}

const ZEROS = Buffer.alloc(1024 * 1024);

/** Whether buf holds only zeros in [from, to), compared natively. */
export function isZeros(buf: Buffer, from: number, to = buf.length): boolean {
  for (let o = from; o < to; o += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - o);
    if (buf.compare(ZEROS, 0, n, o, o + n) !== 0) return false;
  }
  return true;
}

/**
 * A segment's bytes, but for the zeros that end it (preallocated, often most of it) beyond where a
 * record could still reach: scanning this gives what scanning the whole file does, without a
 * buffer the size of the preallocation.
 */
export function readSegment(path: string, maxRecordBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(ZEROS.length);
    let size = 0;
    let lastNonZero = -1;
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, size)) > 0; size += n) {
      if (isZeros(chunk, 0, n)) continue;
      let i = n - 1;
      while (chunk[i] === 0) i--;
      lastNonZero = size + i;
    }
    const buf = Buffer.allocUnsafe(Math.min(size, lastNonZero + 1 + MAX_RECORD_HEADER_BYTES + maxRecordBytes));
    let read = 0;
    for (let n; read < buf.length && (n = readSync(fd, buf, read, buf.length - read, read)) > 0; ) read += n;
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}
