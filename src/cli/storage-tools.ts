/**
 * Offline tools for a data dir, as ZooKeeper's TxnLogToolkit, SnapshotFormatter and PurgeTxnLog:
 *
 *   ensemble logs DIR|SEGMENT [--from ZXID] [--to ZXID] [--json]   every txn of the log, in zxid order
 *   ensemble snapshot DIR|FILE [--json] [--nodes]                   a snapshot's summary (and znodes)
 *   ensemble purge DATA_DIR [LOG_DIR] -n COUNT                      keep the newest COUNT snapshots
 *
 * `logs` and `snapshot` only read (they never cut a torn tail, unlike recovery). Exit status: 0 all
 * intact, 1 damage found (a segment not ending clean, a snapshot that does not read back), 2 bad
 * input (a missing dir, a file of the wrong kind, a bad flag): one line on stderr, never a stack.
 */
import { readFileSync, statSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';
import { errName, opName } from '../protocol/constants.ts';
import type { ACL } from '../protocol/records.ts';
import { resolveConfig } from '../server/config.ts';
import { storageOptions } from '../server/index.ts';
import { listFiles, type DataFile } from '../server/storage/files.ts';
import { MIN_SNAP_RETAIN_COUNT, purge } from '../server/storage/purge.ts';
import { headerMissing, LogFormatError, readSegment as readSegmentFile, scanSegment, type ScannedRecord, type ScannedSegment } from '../server/storage/segment.ts';
import { SnapshotFormatError, visitSnapshot, type SnapshotSummary } from '../server/storage/snapshot.ts';
import { hex, zxidFollows } from '../server/tree/zxid.ts';
import { ephemeralKind, ttlOf, type ZNode } from '../server/tree/data-tree.ts';
import type { Txn, TxnEntry } from '../server/tree/txn.ts';

export const EXIT_OK = 0;
export const EXIT_DAMAGED = 1;
export const EXIT_USAGE = 2;

export const LOGS_USAGE = `usage: ensemble logs DIR|SEGMENT [--from ZXID] [--to ZXID] [--json]
  Prints every txn of the log segments (log.<zxid>) in DIR, or of one segment, in zxid order, and
  how each segment ends. ZXID is hex with 0x (0x1a) or decimal. Exit 1 if a segment is damaged.
`;
export const SNAPSHOT_USAGE = `usage: ensemble snapshot DIR|FILE [--json] [--nodes]
  Summarises the newest snapshot (snapshot.<zxid>) in DIR, or the given one; --nodes lists every
  znode with its stat. Exit 1 if the snapshot is damaged.
`;
export const PURGE_USAGE = `usage: ensemble purge DATA_DIR [LOG_DIR] -n COUNT
  Keeps the newest COUNT (at least ${MIN_SNAP_RETAIN_COUNT}) snapshots of DATA_DIR and the log segments of LOG_DIR
  (default DATA_DIR) needed to replay from the oldest of them; removes the rest.
`;

/** Bad input: one line on stderr, exit status 2. */
class UsageError extends Error {}

/** The largest record the server accepts when it reads its log back (with the default jute.maxbuffer). */
const MAX_RECORD_BYTES = storageOptions(resolveConfig({})).maxRecordBytes;

/** A segment as the scan needs it (segment.ts's reader: the zero tail is left out); unreadable is bad input. */
function readSegment(path: string): Buffer {
  try {
    return readSegmentFile(path, MAX_RECORD_BYTES);
  } catch (err) {
    throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

// ---- output ----

/** Lines to stdout in large writes; a reader that goes away (| head) ends the command quietly. */
class Output {
  private pending: string[] = [];
  private size = 0;

  constructor() {
    if (process.stdout.listenerCount('error') === 0) {
      process.stdout.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
        process.stderr.write(`ensemble: cannot write the output: ${err.message}\n`);
        process.exit(EXIT_DAMAGED);
      });
    }
  }

  line(s: string): void {
    this.pending.push(s);
    this.size += s.length + 1;
    if (this.size >= 64 * 1024) this.flush();
  }

  json(o: object): void {
    this.line(JSON.stringify(o));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    process.stdout.write(`${this.pending.join('\n')}\n`);
    this.pending = [];
    this.size = 0;
  }
}

/**
 * Runs a command: bad input, or a file that cannot be read or removed (permissions, a directory
 * where a file should be), is one line and exit status 2; the command returns its own status.
 */
function run(command: string, body: () => number): number {
  try {
    return body();
  } catch (err) {
    const fsError = typeof (err as NodeJS.ErrnoException).syscall === 'string';
    if (err instanceof UsageError || fsError) {
      process.stderr.write(`ensemble ${command}: ${(err as Error).message}\n`);
      return EXIT_USAGE;
    }
    throw err;
  }
}

function parse<O extends Record<string, { type: 'string' | 'boolean'; short?: string }>>(args: string[], options: O) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const unknown = e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ? /'([^']+)'/.exec(e.message) : null;
    throw new UsageError(unknown ? `unknown option ${unknown[1]}` : e.message.split('\n')[0]);
  }
}

/** stat of a path the user gave; a missing one is bad input. */
function statArg(path: string, what: string): Stats {
  try {
    return statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such ${what}`);
    throw new UsageError(`${path}: ${code ?? (err as Error).message}`);
  }
}

function readArg(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

// ---- formatting ----

export const hexZxid = hex;
export const hexSession = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;
const hexInt = (n: number): string => `0x${(n >>> 0).toString(16)}`;

function isoTime(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? `(time ${ms})` : d.toISOString();
}

/** ZooKeeper's letters, in its order (cdrwa). */
function permString(perms: number): string {
  let s = '';
  if (perms & 4) s += 'c';
  if (perms & 8) s += 'd';
  if (perms & 1) s += 'r';
  if (perms & 2) s += 'w';
  if (perms & 16) s += 'a';
  return s === '' ? '-' : s;
}

function aclText(acl: readonly ACL[]): string {
  return acl.length === 0 ? '[]' : acl.map((a) => `${a.id.scheme}:${a.id.id}:${permString(a.perms)}`).join(',');
}

function aclJson(acl: readonly ACL[]): Array<{ scheme: string; id: string; perms: string }> {
  return acl.map((a) => ({ scheme: a.id.scheme, id: a.id.id, perms: permString(a.perms) }));
}

/** A path as is, or JSON-quoted when it holds spaces, quotes or control characters (one txn, one line). */
function showPath(p: string): string {
  return /[\s"'\\\p{C}]/u.test(p) ? JSON.stringify(p) : p;
}

const opText = (type: number): string => opName.get(type) ?? `type${type}`;
const errText = (code: number): string => `${errName.get(code) ?? 'UNKNOWN'} (${code})`;
const dataLength = (data: Buffer | null): number | null => (data === null ? null : data.length);
const dataText = (data: Buffer | null): string => (data === null ? 'data=null' : `data=${data.length}B`);

/** What a create's ephemeralOwner means (a standalone server's session ids have top byte 0, so 0xff… is a TTL). */
function ownerText(owner: bigint): string {
  switch (ephemeralKind(owner, true)) {
    case 'void': return 'persistent';
    case 'container': return 'container';
    case 'ttl': return `ttl=${ttlOf(owner)}ms`;
    case 'normal': return `ephemeralOwner=${hexSession(owner)}`;
  }
}

function ownerJson(owner: bigint): { mode: string; ttlMs?: number } {
  const kind = ephemeralKind(owner, true);
  switch (kind) {
    case 'void': return { mode: 'persistent' };
    case 'normal': return { mode: 'ephemeral' };
    case 'container': return { mode: 'container' };
    case 'ttl': return { mode: 'ttl', ttlMs: ttlOf(owner) };
  }
}

/** The op at which a multi failed (none of its ops was applied then), or -1. */
const multiFailedAt = (ops: Array<{ txn: Txn }>): number => ops.findIndex((op) => op.txn.kind === 'error');

/** A txn in one line, after its type name. */
export function txnText(txn: Txn): string {
  switch (txn.kind) {
    case 'create':
      return `${showPath(txn.path)} ${dataText(txn.data)} acl=${aclText(txn.acl)} ${ownerText(txn.ephemeralOwner)} parentCVersion=${txn.parentCVersion}`;
    case 'delete':
    case 'check':
      return showPath(txn.path);
    case 'setData':
      return `${showPath(txn.path)} version=${txn.version} ${dataText(txn.data)}`;
    case 'setACL':
      return `${showPath(txn.path)} version=${txn.version} acl=${aclText(txn.acl)}`;
    case 'error':
      return errText(txn.err);
    case 'createSession':
      return `timeout=${txn.timeoutMs}ms`;
    case 'closeSession':
      return txn.paths.length === 0 ? 'ephemerals=none' : `ephemerals=[${txn.paths.map(showPath).join(', ')}]`;
    case 'multi': {
      const failedAt = multiFailedAt(txn.ops);
      const outcome = failedAt < 0 ? '' : ` failed at op ${failedAt} (${errText((txn.ops[failedAt].txn as { err: number }).err)}), none applied`;
      return `${txn.ops.length} ops${outcome}: [${txn.ops.map((op) => `${opText(op.type)} ${txnText(op.txn)}`).join('; ')}]`;
    }
  }
}

export function txnJson(txn: Txn): Record<string, unknown> {
  switch (txn.kind) {
    case 'create':
      return {
        kind: txn.kind, path: txn.path, dataLength: dataLength(txn.data), acl: aclJson(txn.acl),
        ephemeralOwner: hexSession(txn.ephemeralOwner), ...ownerJson(txn.ephemeralOwner), parentCVersion: txn.parentCVersion,
      };
    case 'delete':
    case 'check':
      return { kind: txn.kind, path: txn.path };
    case 'setData':
      return { kind: txn.kind, path: txn.path, version: txn.version, dataLength: dataLength(txn.data) };
    case 'setACL':
      return { kind: txn.kind, path: txn.path, version: txn.version, acl: aclJson(txn.acl) };
    case 'error':
      return { kind: txn.kind, err: txn.err, errName: errName.get(txn.err) ?? null };
    case 'createSession':
      return { kind: txn.kind, timeoutMs: txn.timeoutMs };
    case 'closeSession':
      return { kind: txn.kind, ephemerals: txn.paths };
    case 'multi': {
      const failedAt = multiFailedAt(txn.ops);
      return {
        kind: txn.kind, failedAt: failedAt < 0 ? null : failedAt,
        ops: txn.ops.map((op) => ({ type: op.type, typeName: opName.get(op.type) ?? null, ...txnJson(op.txn) })),
      };
    }
  }
}

function entryText(e: TxnEntry): string {
  const h = e.header;
  return `${hexZxid(h.zxid)} ${isoTime(h.timeMs)} session ${hexSession(h.sessionId)} cxid ${hexInt(h.cxid)} ${opText(h.type)} ${txnText(e.txn)}`;
}

function entryJson(r: ScannedRecord, file: string): Record<string, unknown> {
  const h = r.entry.header;
  return {
    type: 'txn', segment: file, offset: r.offset, index: r.index, term: r.term, zxid: hexZxid(h.zxid), time: isoTime(h.timeMs), timeMs: h.timeMs,
    session: hexSession(h.sessionId), cxid: h.cxid, op: opName.get(h.type) ?? null, opType: h.type, txn: txnJson(r.entry.txn),
  };
}

/** What is wrong where one segment's first record follows the previous segment's last (recovery's rule). */
function continuity(prev: ScannedRecord, first: ScannedRecord): string[] {
  const [pz, fz] = [prev.entry.header.zxid, first.entry.header.zxid];
  if (first.index > prev.index + 1) return [`gap: the previous segment ends at index ${prev.index}, this one starts at ${first.index}`];
  if (first.index <= prev.index) return [`overlap: starts at index ${first.index}, the previous segment already reached ${prev.index}`];
  if (!zxidFollows(pz, fz)) return [`gap: the previous segment ends at zxid ${hexZxid(pz)}, this one starts at ${hexZxid(fz)}`];
  return [];
}

// ---- ensemble logs ----

/** A zxid from the command line: 0x-prefixed hex, or decimal. */
export function parseZxid(flag: string, value: string): number {
  const t = value.trim();
  let v = NaN;
  if (/^0x[0-9a-f]{1,16}$/i.test(t)) v = parseInt(t.slice(2), 16);
  else if (/^\d{1,16}$/.test(t)) v = Number(t);
  if (!Number.isSafeInteger(v)) throw new UsageError(`${flag}: bad zxid "${value}" (hex with 0x, as 0x1a, or decimal)`);
  return v;
}

interface SegmentReport {
  file: string;
  firstIndex: number;
  txns: number;
  lastZxid: number | null;
  damaged: boolean;
  /** How it ended, in words. */
  text: string;
  json: Record<string, unknown>;
}

export function logsCommand(args: string[]): number {
  return run('logs', () => {
    const { values, positionals } = parse(args, {
      from: { type: 'string' },
      to: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(LOGS_USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'a data (log) dir or a log segment is required' : `one dir or segment, got ${positionals.length}`);
    const from = values.from === undefined ? 0 : parseZxid('--from', values.from);
    const to = values.to === undefined ? Number.MAX_SAFE_INTEGER : parseZxid('--to', values.to);
    if (from > to) throw new UsageError(`--from ${hexZxid(from)} is after --to ${hexZxid(to)}`);
    const target = positionals[0];
    const json = values.json === true;

    let segments: DataFile[];
    let single = false;
    if (statArg(target, 'file or directory').isDirectory()) {
      segments = listFiles(target, 'log');
      if (segments.length === 0) throw new UsageError(`no log segments (log.<zxid>) in ${target}`);
    } else {
      single = true;
      const m = /^log\.([0-9a-f]{1,16})$/.exec(basename(target));
      segments = [{ kind: 'log', index: m ? parseInt(m[1], 16) : -1, path: target }];
    }

    const out = new Output();
    const damaged: string[] = [];
    let printed = 0;
    let prevLast: ScannedRecord | null = null;
    let pastTo = false;
    for (const seg of segments) {
      // Zxids grow along the log: once past --to, the later segments hold nothing to print.
      if (pastTo) break;
      const buf = readSegment(seg.path);
      let scan: ScannedSegment;
      try {
        scan = scanSegment(buf, MAX_RECORD_BYTES);
      } catch (err) {
        if (!(err instanceof LogFormatError)) throw err;
        if (single) throw new UsageError(`${seg.path}: ${err.message}`);
        // As recovery sees it: a short or all-zero header is a crash while the segment was being created.
        const reason = headerMissing(buf) ? 'no complete header (a crash while creating it; recovery removes it when it is the newest segment)' : err.message;
        damaged.push(seg.path);
        prevLast = null;
        if (json) out.json({ type: 'segment', segment: seg.path, firstIndex: null, txns: 0, lastZxid: null, end: 'unreadable', reason });
        else out.line(`${seg.path}: unreadable: ${reason}`);
        continue;
      }
      if (!json) out.line(`${seg.path}: log format ${scan.version}, first ${scan.version === 1 ? 'zxid' : 'index'} ${hexZxid(scan.firstIndex)}`);
      const notes: string[] = [];
      if (seg.index >= 0 && seg.index !== scan.firstIndex) notes.push(`its name says it starts at ${hexZxid(seg.index)}, its header at ${hexZxid(scan.firstIndex)}`);
      const first = scan.records[0];
      if (prevLast !== null && first) notes.push(...continuity(prevLast, first));
      for (const r of scan.records) {
        const zxid = r.entry.header.zxid;
        if (zxid > to) pastTo = true;
        if (zxid < from || zxid > to) continue;
        printed++;
        if (json) out.json(entryJson(r, seg.path));
        else out.line(entryText(r.entry));
      }
      const report = segmentReport(seg.path, scan, notes);
      if (report.damaged) damaged.push(seg.path);
      if (json) out.json(report.json);
      else out.line(`${seg.path}: ${report.text}`);
      prevLast = scan.end.kind !== 'clean' ? null : scan.records.at(-1) ?? prevLast;
    }
    if (!json) {
      const range = values.from !== undefined || values.to !== undefined ? ` in ${hexZxid(from)}..${to === Number.MAX_SAFE_INTEGER ? '' : hexZxid(to)}` : '';
      out.line(`${printed} txn${printed === 1 ? '' : 's'}${range}; ${damaged.length === 0 ? 'every segment intact' : `${damaged.length} damaged segment${damaged.length === 1 ? '' : 's'}`}`);
    }
    out.flush();
    if (damaged.length > 0) {
      process.stderr.write(`ensemble logs: damaged: ${damaged.join(', ')}\n`);
      return EXIT_DAMAGED;
    }
    return EXIT_OK;
  });
}

function segmentReport(file: string, scan: ScannedSegment, notes: string[]): SegmentReport {
  const txns = scan.records.length;
  const lastZxid = txns === 0 ? null : scan.records[txns - 1].entry.header.zxid;
  const span = txns === 0 ? 'no txns' : `${txns} txn${txns === 1 ? '' : 's'} ${hexZxid(scan.records[0].entry.header.zxid)}..${hexZxid(lastZxid!)}`;
  const base = { type: 'segment', segment: file, format: scan.version, firstIndex: scan.firstIndex, txns, lastZxid: lastZxid === null ? null : hexZxid(lastZxid), validEnd: scan.validEnd };
  const end = scan.end;
  let text: string;
  let json: Record<string, unknown>;
  switch (end.kind) {
    case 'clean':
      text = `clean end after ${span} (${scan.validEnd} bytes used)`;
      json = { ...base, end: 'clean' };
      break;
    case 'torn':
      text = `TORN at offset ${end.offset}: ${end.reason}, nothing intact after it (${span} before it)`;
      json = { ...base, end: 'torn', offset: end.offset, reason: end.reason };
      break;
    case 'corrupt':
      text = `CORRUPT at offset ${end.offset}: ${end.reason}, intact records resume at offset ${end.nextValidOffset} (${span} before it)`;
      json = { ...base, end: 'corrupt', offset: end.offset, reason: end.reason, nextValidOffset: end.nextValidOffset };
      break;
  }
  if (notes.length > 0) {
    text += `; ${notes.join('; ')}`;
    json.problems = notes;
  }
  return { file, firstIndex: scan.firstIndex, txns, lastZxid, damaged: end.kind !== 'clean' || notes.length > 0, text, json };
}

// ---- ensemble snapshot ----

/** A znode as the listing shows it: its stat fields, with the data reduced to its length. */
type NodeInfo = Omit<ZNode, 'children' | 'data'> & { path: string; dataLength: number | null };

/** Depth-first, children by name: the tree's own shape ("/a-b" does not land between "/a" and "/a/x"). */
function treeOrder(a: string, b: string): number {
  const pa = a === '/' ? [] : a.split('/');
  const pb = b === '/' ? [] : b.split('/');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] !== pb[i]) return pa[i] < pb[i] ? -1 : 1;
  }
  return pa.length - pb.length;
}

const parentOf = (p: string): string => {
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
};

export function snapshotCommand(args: string[]): number {
  return run('snapshot', () => {
    const { values, positionals } = parse(args, {
      json: { type: 'boolean' },
      nodes: { type: 'boolean' },
    });
    if (values.help) {
      process.stdout.write(SNAPSHOT_USAGE);
      return EXIT_OK;
    }
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'a data dir or a snapshot file is required' : `one dir or file, got ${positionals.length}`);
    const target = positionals[0];
    let file: string;
    let nameIndex = -1;
    let older: DataFile[] = [];
    const fromDir = statArg(target, 'file or directory').isDirectory();
    if (fromDir) {
      const snaps = listFiles(target, 'snapshot');
      if (snaps.length === 0) throw new UsageError(`no snapshots (snapshot.<zxid>) in ${target}`);
      const newest = snaps[snaps.length - 1];
      file = newest.path;
      nameIndex = newest.index;
      older = snaps.slice(0, -1);
    } else {
      file = target;
      const m = /^snapshot\.([0-9a-f]{1,16})$/.exec(basename(target));
      if (m) nameIndex = parseInt(m[1], 16);
    }
    const buf = readArg(file);

    const nodes: NodeInfo[] = [];
    const sessions: Array<{ id: bigint; timeoutMs: number }> = [];
    let summary: SnapshotSummary;
    try {
      summary = visitSnapshot(buf, {
        session: (id, timeoutMs) => sessions.push({ id, timeoutMs }),
        node: (path, n) => nodes.push({
          path, dataLength: dataLength(n.data), acl: n.acl, czxid: n.czxid, mzxid: n.mzxid, ctime: n.ctime, mtime: n.mtime,
          version: n.version, cversion: n.cversion, aversion: n.aversion, ephemeralOwner: n.ephemeralOwner, pzxid: n.pzxid,
        }),
      });
      if (nameIndex >= 0 && summary.index !== nameIndex) throw new SnapshotFormatError(`its header says index ${hexZxid(summary.index)}, its name ${hexZxid(nameIndex)}`);
    } catch (err) {
      if (!(err instanceof SnapshotFormatError)) throw err;
      // A file given by name that is not a snapshot at all is bad input; anything else is damage.
      if (!fromDir && /bad magic|unknown snapshot format version/.test(err.message)) throw new UsageError(`${file}: ${err.message}`);
      const fallback = older.length > 0 ? `; recovery would try ${older[older.length - 1].path} next` : '';
      process.stderr.write(`ensemble snapshot: ${file} is damaged: ${err.message}${fallback}\n`);
      return EXIT_DAMAGED;
    }

    // Per-session ephemerals, container and TTL nodes; distinct ACLs by content.
    const sessionTimeouts = new Map(sessions.map((s) => [s.id, s.timeoutMs]));
    const ephemerals = new Map<bigint, number>();
    let containers = 0;
    let ttls = 0;
    let dataBytes = 0;
    const acls = new Set<string>();
    const childCount = new Map<string, number>();
    for (const n of nodes) {
      dataBytes += n.dataLength ?? 0;
      acls.add(JSON.stringify(n.acl.map((a) => [a.perms, a.id.scheme, a.id.id])));
      if (n.path !== '/') childCount.set(parentOf(n.path), (childCount.get(parentOf(n.path)) ?? 0) + 1);
      switch (ephemeralKind(n.ephemeralOwner, true)) {
        case 'normal': ephemerals.set(n.ephemeralOwner, (ephemerals.get(n.ephemeralOwner) ?? 0) + 1); break;
        case 'container': containers++; break;
        case 'ttl': ttls++; break;
        case 'void': break;
      }
    }
    const ephemeralTotal = [...ephemerals.values()].reduce((a, b) => a + b, 0);
    const orphanOwners = [...ephemerals.keys()].filter((id) => !sessionTimeouts.has(id));

    const out = new Output();
    if (values.json) {
      out.json({
        type: 'snapshot', file, bytes: buf.length, format: summary.version, index: summary.index, term: summary.term, zxid: hexZxid(summary.zxid), endZxid: hexZxid(summary.endZxid), time: isoTime(summary.timeMs), timeMs: summary.timeMs,
        extendedTypes: summary.settings?.extendedTypes ?? null, sessionSecretBytes: summary.settings?.sessionSecret.length ?? null,
        znodes: summary.nodes, dataBytes, distinctAcls: acls.size, ephemerals: ephemeralTotal, containers, ttlNodes: ttls,
        sessions: sessions.map((s) => ({ id: hexSession(s.id), timeoutMs: s.timeoutMs, ephemerals: ephemerals.get(s.id) ?? 0 })),
        ephemeralsWithoutSession: orphanOwners.map((id) => ({ owner: hexSession(id), ephemerals: ephemerals.get(id) })),
      });
    } else {
      out.line(`snapshot ${file} (${buf.length} bytes)`);
      out.line(`format:         ${summary.version}`);
      out.line(`index:          ${summary.index} (term ${summary.term})`);
      out.line(`zxid:           ${hexZxid(summary.zxid)} (the last txn applied when it began)`);
      out.line(`end zxid:       ${hexZxid(summary.endZxid)} (the last txn applied when it finished: the log must reach it)`);
      out.line(`time:           ${isoTime(summary.timeMs)}`);
      const settings = summary.settings;
      out.line(`settings:       ${settings ? `extendedTypes ${settings.extendedTypes}, session secret of ${settings.sessionSecret.length} bytes` : 'none (format 2: the server records them when it starts)'}`);
      out.line(`znodes:         ${summary.nodes}`);
      out.line(`data bytes:     ${dataBytes}`);
      out.line(`distinct ACLs:  ${acls.size}`);
      out.line(`ephemerals:     ${ephemeralTotal}`);
      out.line(`containers:     ${containers}`);
      out.line(`ttl nodes:      ${ttls}`);
      out.line(`sessions:       ${sessions.length}`);
      for (const s of sessions) out.line(`  ${hexSession(s.id)}  timeout ${s.timeoutMs} ms  ephemerals ${ephemerals.get(s.id) ?? 0}`);
      for (const id of orphanOwners) out.line(`  ${hexSession(id)}  (not in the session table)  ephemerals ${ephemerals.get(id)}`);
    }
    if (values.nodes) {
      nodes.sort((a, b) => treeOrder(a.path, b.path));
      if (!values.json) out.line(`----`);
      for (const n of nodes) {
        const numChildren = childCount.get(n.path) ?? 0;
        if (values.json) {
          out.json({
            type: 'znode', path: n.path, czxid: hexZxid(n.czxid), ctime: isoTime(n.ctime), mzxid: hexZxid(n.mzxid), mtime: isoTime(n.mtime),
            pzxid: hexZxid(n.pzxid), cversion: n.cversion, dataVersion: n.version, aclVersion: n.aversion,
            ephemeralOwner: hexSession(n.ephemeralOwner), ...ownerJson(n.ephemeralOwner), dataLength: n.dataLength, numChildren, acl: aclJson(n.acl),
          });
        } else {
          out.line(showPath(n.path));
          out.line(`  cZxid = ${hexZxid(n.czxid)}`);
          out.line(`  ctime = ${isoTime(n.ctime)}`);
          out.line(`  mZxid = ${hexZxid(n.mzxid)}`);
          out.line(`  mtime = ${isoTime(n.mtime)}`);
          out.line(`  pZxid = ${hexZxid(n.pzxid)}`);
          out.line(`  cversion = ${n.cversion}`);
          out.line(`  dataVersion = ${n.version}`);
          out.line(`  aclVersion = ${n.aversion}`);
          out.line(`  ephemeralOwner = ${hexSession(n.ephemeralOwner)}${ephemeralKind(n.ephemeralOwner, true) === 'normal' || n.ephemeralOwner === 0n ? '' : ` (${ownerText(n.ephemeralOwner)})`}`);
          out.line(`  dataLength = ${n.dataLength ?? 0}${n.dataLength === null ? ' (null)' : ''}`);
          out.line(`  numChildren = ${numChildren}`);
          out.line(`  acl = ${aclText(n.acl)}`);
          out.line(`----`);
        }
      }
    }
    out.flush();
    return EXIT_OK;
  });
}

// ---- ensemble purge ----

export function purgeCommand(args: string[]): number {
  return run('purge', () => {
    const { values, positionals } = parse(args, { count: { type: 'string', short: 'n' } });
    if (values.help) {
      process.stdout.write(PURGE_USAGE);
      return EXIT_OK;
    }
    if (positionals.length < 1 || positionals.length > 2) {
      throw new UsageError(positionals.length === 0 ? 'a data dir is required' : `a data dir and a log dir at most, got ${positionals.length} paths`);
    }
    if (values.count === undefined) throw new UsageError(`-n COUNT is required (the number of snapshots to keep, at least ${MIN_SNAP_RETAIN_COUNT})`);
    const count = /^\d+$/.test(values.count.trim()) ? Number(values.count.trim()) : NaN;
    if (!Number.isSafeInteger(count) || count < MIN_SNAP_RETAIN_COUNT) {
      throw new UsageError(`-n: COUNT must be an integer of at least ${MIN_SNAP_RETAIN_COUNT}, got "${values.count}"`);
    }
    const [dataDir, logDir = dataDir] = positionals;
    for (const dir of new Set([dataDir, logDir])) {
      if (!statArg(dir, 'directory').isDirectory()) throw new UsageError(`${dir}: not a directory`);
    }
    const snapshotsBefore = listFiles(dataDir, 'snapshot');
    const { removed } = purge(dataDir, logDir, count);
    const out = new Output();
    const removedSet = new Set(removed);
    const removedSnaps = snapshotsBefore.filter((s) => removedSet.has(s.path)).length;
    for (const path of removed) out.line(`removed ${path}`);
    const keptSnaps = listFiles(dataDir, 'snapshot');
    const keptLogs = listFiles(logDir, 'log');
    if (removed.length === 0) {
      out.line(`nothing to remove: ${snapshotsBefore.length} snapshot${snapshotsBefore.length === 1 ? '' : 's'}, at most ${count} are kept`);
    } else {
      out.line(`removed ${removedSnaps} snapshot${removedSnaps === 1 ? '' : 's'} and ${removed.length - removedSnaps} log segment${removed.length - removedSnaps === 1 ? '' : 's'}`);
    }
    out.line(`kept ${keptSnaps.length} snapshot${keptSnaps.length === 1 ? '' : 's'}${keptSnaps.length > 0 ? ` (${keptSnaps.map((s) => basename(s.path)).join(', ')})` : ''}`
      + ` and ${keptLogs.length} log segment${keptLogs.length === 1 ? '' : 's'}${keptLogs.length > 0 ? ` (${keptLogs.map((s) => basename(s.path)).join(', ')})` : ''}`);
    out.flush();
    return EXIT_OK;
  });
}
