/**
 * Recovery at start: the newest snapshot that reads back intact (an older one when it is damaged),
 * then every logged txn after it, in zxid order with no gap.
 *
 * A damaged record at the very end of the newest segment is a write torn by a crash: it was never
 * acknowledged (replies wait for the fdatasync of their whole batch), so the segment is cut there
 * and the server starts, with a warning. Damage followed by intact records, or in a segment that
 * is not the newest, would mean serving a gap: recovery refuses, with the file and offset.
 */
import { closeSync, openSync, readdirSync, readSync, rmSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { DataTree } from '../tree/data-tree.ts';
import { hex, listFiles } from './files.ts';
import { readSnapshot, SnapshotFormatError } from './snapshot.ts';
import { LogFormatError, LOG_HEADER_BYTES, RECORD_HEADER_BYTES, scanSegment } from './txn-log.ts';

export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryError';
  }
}

export interface RecoveryOptions {
  dataDir: string;
  logDir: string;
  extendedTypes: boolean;
  maxRecordBytes: number;
  warn: (msg: string) => void;
}

export interface Recovered {
  tree: DataTree;
  /** The snapshot the state started from (null: an empty tree). */
  snapshot: string | null;
  snapshotZxid: number;
  /** Txns replayed from the log. */
  replayed: number;
  lastZxid: number;
}

export function recover(opts: RecoveryOptions): Recovered {
  removeTempFiles(opts.dataDir);
  const snapshots = listFiles(opts.dataDir, 'snapshot').reverse();
  for (const snap of snapshots) {
    let loaded;
    try {
      loaded = readSnapshot(snap.path, opts.extendedTypes);
      if (loaded.zxid !== snap.zxid) throw new SnapshotFormatError(`its header says zxid ${hex(loaded.zxid)}`);
    } catch (err) {
      if (!(err instanceof SnapshotFormatError)) throw err;
      opts.warn(`${snap.path} is damaged (${err.message}); trying the one before`);
      continue;
    }
    quotaWarnings(loaded.tree, opts.warn);
    const replay = replayLog(opts, loaded.tree, loaded.zxid);
    // A fuzzy snapshot may hold effects of txns up to its endZxid: the log must reach that far.
    if (replay.lastZxid >= loaded.endZxid) {
      return { tree: loaded.tree, snapshot: snap.path, snapshotZxid: loaded.zxid, ...replay };
    }
    opts.warn(`${snap.path} holds txns up to ${hex(loaded.endZxid)} but the log ends at ${hex(replay.lastZxid)}; trying the one before`);
  }
  const logs = listFiles(opts.logDir, 'log');
  if (snapshots.length > 0) {
    if (logs.length === 0 || logs[0].zxid > 1) {
      throw new RecoveryError(`no usable snapshot in ${opts.dataDir}, and the log does not reach back to the start`);
    }
    opts.warn('no usable snapshot: rebuilding the state from the whole log');
  }
  const tree = new DataTree({ extendedTypes: opts.extendedTypes });
  quotaWarnings(tree, opts.warn);
  return { tree, snapshot: null, snapshotZxid: 0, ...replayLog(opts, tree, 0) };
}

/** Quota bookkeeping that fails while replaying (where ZooKeeper would not start) is a warning. */
function quotaWarnings(tree: DataTree, warn: (msg: string) => void): void {
  tree.onQuotaError = (err, path) => warn(`replaying the change of ${path}: quota statistics not updated (${err.message})`);
}

/** Applies every logged txn after `from` to tree, in zxid order with no gap. */
function replayLog(opts: RecoveryOptions, tree: DataTree, from: number): { replayed: number; lastZxid: number } {
  let last = from;
  let replayed = 0;
  const segments = listFiles(opts.logDir, 'log');
  let first = -1;
  for (let i = 0; i < segments.length; i++) if (segments[i].zxid <= from + 1) first = i;
  if (first < 0 && segments.length > 0) {
    throw new RecoveryError(`the log starts at zxid ${hex(segments[0].zxid)} but the state ends at ${hex(from)}: txns in between are missing`);
  }
  for (let i = Math.max(first, 0); i < segments.length; i++) {
    const seg = segments[i];
    const newest = i === segments.length - 1;
    const buf = readSegment(seg.path, opts.maxRecordBytes);
    let scan;
    try {
      scan = scanSegment(buf, opts.maxRecordBytes);
    } catch (err) {
      if (!(err instanceof LogFormatError)) throw err;
      // A crash while creating the newest segment leaves its header short or zeros, and no record.
      if (newest && (buf.length < LOG_HEADER_BYTES || buf.subarray(0, LOG_HEADER_BYTES).every((b) => b === 0))) {
        opts.warn(`${seg.path}: segment without a complete header (a crash while creating it), removed`);
        rmSync(seg.path);
        continue;
      }
      throw new RecoveryError(`${seg.path}: ${err.message}`);
    }
    if (scan.firstZxid !== seg.zxid) throw new RecoveryError(`${seg.path}: its header says it starts at ${hex(scan.firstZxid)}`);
    for (const { entry, offset } of scan.records) {
      const zxid = entry.header.zxid;
      if (zxid <= last) continue;
      if (zxid !== last + 1) {
        throw new RecoveryError(`${seg.path} at offset ${offset}: zxid ${hex(zxid)} follows ${hex(last)}, txns in between are missing`);
      }
      tree.apply(entry);
      last = zxid;
      replayed++;
    }
    const end = scan.end;
    if (newest && end.kind !== 'corrupt' && scan.records.length === 0) {
      // Created, but killed before its first batch was written: it holds nothing, and the next
      // start would want to create a segment of the same name.
      opts.warn(`${seg.path}: segment without records (a crash right after creating it), removed`);
      rmSync(seg.path);
      continue;
    }
    if (end.kind === 'corrupt') {
      throw new RecoveryError(`${seg.path}: damaged record at offset ${end.offset} (${end.reason}) with intact records after it (at ${end.nextValidOffset}); refusing to serve a gap`);
    }
    if (end.kind === 'torn') {
      if (!newest) throw new RecoveryError(`${seg.path}: damaged record at offset ${end.offset} (${end.reason}) in a segment that is not the newest`);
      opts.warn(`${seg.path}: torn write at offset ${end.offset} (${end.reason}); the log is cut there (last zxid ${hex(last)})`);
      truncateSync(seg.path, end.offset);
    }
  }
  return { replayed, lastZxid: last };
}

const ZEROS = Buffer.alloc(1024 * 1024);

/**
 * A segment's bytes, but for the zeros that end it (preallocated, often most of it) beyond where a
 * record could still reach: scanning this gives what scanning the whole file does, without a
 * buffer the size of the preallocation.
 */
function readSegment(path: string, maxRecordBytes: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.allocUnsafe(ZEROS.length);
    let size = 0;
    let lastNonZero = -1;
    for (let n; (n = readSync(fd, chunk, 0, chunk.length, size)) > 0; size += n) {
      if (chunk.compare(ZEROS, 0, n, 0, n) === 0) continue;
      let i = n - 1;
      while (chunk[i] === 0) i--;
      lastNonZero = size + i;
    }
    const buf = Buffer.allocUnsafe(Math.min(size, lastNonZero + 1 + RECORD_HEADER_BYTES + maxRecordBytes));
    let read = 0;
    for (let n; read < buf.length && (n = readSync(fd, buf, read, buf.length - read, read)) > 0; ) read += n;
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

function removeTempFiles(dir: string): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) if (/^snapshot\.[0-9a-f]+\.tmp$/.test(name)) rmSync(join(dir, name), { force: true });
}
