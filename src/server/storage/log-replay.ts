/**
 * Reading the log back at start: every entry after a position, in order, each index the previous
 * one + 1 and each zxid following the previous one (zxidFollows).
 *
 * A damaged record at the very end of the newest segment is a write torn by a crash: it was never
 * acknowledged (replies wait for the fdatasync of their whole batch), so the segment is cut there
 * and the server starts, with a warning. Damage followed by intact records, or in a segment that
 * is not the newest, would mean serving a gap: that is a RecoveryError, with the file and offset.
 */
import { rmSync, truncateSync } from 'node:fs';
import { listFiles } from './files.ts';
import { headerMissing, LogFormatError, readSegment, scanSegment, type ScannedRecord } from './segment.ts';
import type { LogPosition } from './stores.ts';
import { hex, zxidFollows } from '../tree/zxid.ts';

export class RecoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecoveryError';
  }
}

export interface ReplayOptions {
  logDir: string;
  maxRecordBytes: number;
  warn: (msg: string) => void;
}

export interface Replayed {
  /** The last entry read (`after` when there was none). */
  last: LogPosition;
  /** Entries passed to `apply`. */
  replayed: number;
}

/** Passes every logged entry after `after` to apply, and repairs a torn tail on the way. */
export function replayLog(opts: ReplayOptions, after: LogPosition, apply: (r: ScannedRecord) => void): Replayed {
  let last = after;
  let replayed = 0;
  const segments = listFiles(opts.logDir, 'log');
  let first = -1;
  for (let i = 0; i < segments.length; i++) if (segments[i].index <= after.index + 1) first = i;
  if (first < 0 && segments.length > 0) {
    throw new RecoveryError(`the log starts at index ${hex(segments[0].index)} but the state ends at ${hex(after.index)}: entries in between are missing`);
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
      if (newest && headerMissing(buf)) {
        opts.warn(`${seg.path}: segment without a complete header (a crash while creating it), removed`);
        rmSync(seg.path);
        continue;
      }
      throw new RecoveryError(`${seg.path}: ${err.message}`);
    }
    if (scan.firstIndex !== seg.index) throw new RecoveryError(`${seg.path}: its header says it starts at ${hex(scan.firstIndex)}`);
    for (const r of scan.records) {
      if (r.index <= last.index) continue;
      const zxid = r.entry.header.zxid;
      if (r.index !== last.index + 1) {
        throw new RecoveryError(`${seg.path} at offset ${r.offset}: index ${hex(r.index)} follows ${hex(last.index)}, entries in between are missing`);
      }
      if (!zxidFollows(last.zxid, zxid)) {
        throw new RecoveryError(`${seg.path} at offset ${r.offset}: zxid ${hex(zxid)} follows ${hex(last.zxid)}, txns in between are missing`);
      }
      apply(r);
      last = { index: r.index, term: r.term, zxid };
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
      opts.warn(`${seg.path}: torn write at offset ${end.offset} (${end.reason}); the log is cut there (last zxid ${hex(last.zxid)})`);
      truncateSync(seg.path, end.offset);
    }
  }
  return { last, replayed };
}
