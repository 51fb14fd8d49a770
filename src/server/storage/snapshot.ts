/**
 * Snapshots of the whole state: `snapshot.<index>`, index being that of the last entry applied when
 * it began. Format 3, written today:
 *
 *   header  magic "ESNP" u32 | version u32 (3) | zxid i64 | timeMs i64 | index i64 | term i64 |
 *           extendedTypes u8 | sessionSecret buffer | crc32 u32 over the header's bytes before it
 *   chunks  length u32 | crc32 u32 | items (length bytes)                   crc over the items
 *
 * Format 2 (read only) has a 24-byte header, magic | version | zxid | timeMs, and no settings; its
 * index is its zxid and its term the zxid's epoch.
 *
 * Items, each a kind byte then its fields: 1 session (id i64, timeoutMs i32), 2 ACL (ref i32,
 * ACL vector), 3 znode (path, data, aclRef i32, czxid i64, mzxid i64, ctime i64, mtime i64,
 * version i32, cversion i32, aversion i32, ephemeralOwner i64, pzxid i64), 9 end (znodes i64,
 * sessions i32, endZxid i64: the last txn applied when the snapshot finished), which closes the
 * last chunk. A snapshot without its end item is incomplete.
 *
 * Snapshots are fuzzy, as ZooKeeper's: written a slice of the tree at a time while requests go on,
 * so a node may be caught at any state after `zxid`. Replaying the log from the next entry on top
 * brings every node to its final state, because applying a txn sets absolute values (version,
 * cversion, data) rather than increments. The snapshot may hold effects of txns up to endZxid, so
 * it is only usable with a log that reaches endZxid. The file is written as `.tmp`, fsynced,
 * renamed, and the directory fsynced.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { open as openAsync } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { JuteError, JuteReader, JuteWriter } from '../../protocol/jute.ts';
import { readACLs, writeACLs, type ACL } from '../../protocol/records.ts';
import type { Clock, Environment } from '../env/environment.ts';
import { realEnvironment } from '../env/real.ts';
import { ChildSet } from '../tree/child-set.ts';
import { DataTree, type ZNode } from '../tree/data-tree.ts';
import { isFrozen, type KeptNode } from '../tree/node-table.ts';
import type { ReplicatedSettings } from '../tree/settings.ts';
import { fileName } from './files.ts';
import { fsyncFile } from './file-log-store.ts';
import { FrozenSnapshot, FrozenSnapshotBuilder } from './frozen-snapshot.ts';
import { readNodeRecord, RECORD_TAIL_BYTES, recordPath, writeNodeRecord } from './node-record.ts';
import type { SnapshotInfo, SnapshotMeta } from './stores.ts';
import { epochOf, hex } from '../tree/zxid.ts';

export const SNAP_MAGIC = 0x45534e50; // "ESNP"
/** 3: the header carries index, term and the replicated settings. 2: the end item carries endZxid. */
export const SNAP_VERSION = 3;
const V2_HEADER_BYTES = 24;
const CHUNK_HEADER_BYTES = 8;
/** Slices are gathered into chunks of about this size, one write each. */
const CHUNK_TARGET_BYTES = 256 * 1024;
const ITEM = { session: 1, acl: 2, node: 3, end: 9 } as const;
/** Owner only: the header holds the session secret (as session.secret, mode 0600, did before). */
const SNAPSHOT_MODE = 0o600;

/** How much one slice encodes before yielding to requests (tests shrink it to make snapshots fuzzier). */
export const snapshotSlice = { nodes: 20_000, ms: 4 };

export interface WriteSnapshotOptions {
  /** Defaults: the tree's last zxid, with index = zxid and term = its epoch (a standalone log), now. */
  meta?: Partial<SnapshotMeta>;
  env?: Environment;
}

/** Where a snapshot of `tree` starts, filling in what `meta` leaves out. */
function metaOf(tree: DataTree, meta: Partial<SnapshotMeta>, env: Environment): SnapshotMeta {
  const zxid = tree.lastProcessedZxid;
  if (meta.zxid !== undefined && meta.zxid !== zxid) throw new Error(`a snapshot at zxid ${hex(meta.zxid)} of a tree at ${hex(zxid)}`);
  return { zxid, index: meta.index ?? zxid, term: meta.term ?? epochOf(zxid), timeMs: meta.timeMs ?? env.clock.now() };
}

/** Writes a fuzzy snapshot of tree into dir without stalling the event loop for more than a slice. */
export async function writeSnapshot(tree: DataTree, dir: string, options: WriteSnapshotOptions = {}): Promise<SnapshotInfo> {
  const env = options.env ?? realEnvironment;
  const meta = metaOf(tree, options.meta ?? {}, env);
  const path = join(dir, fileName('snapshot', meta.index));
  const tmp = `${path}.tmp`;
  const file = await openAsync(tmp, 'w', SNAPSHOT_MODE);
  try {
    const enc = new SnapshotEncoder(tree, meta);
    let bytes = 0;
    const put = async (b: Buffer): Promise<void> => {
      await file.write(b, 0, b.length, bytes);
      bytes += b.length;
    };
    await put(enc.header());
    for (;;) {
      const done = enc.slice(env.clock);
      if (done || enc.pendingBytes >= CHUNK_TARGET_BYTES) await put(enc.takeChunk());
      if (done) break;
      await new Promise<void>((r) => env.scheduler.soon(r));
    }
    await file.sync();
    await file.close();
    renameSync(tmp, path);
    fsyncFile(dir);
    return { path, index: meta.index, zxid: meta.zxid, nodes: enc.nodes, sessions: enc.sessions, bytes };
  } catch (err) {
    await file.close().catch(() => {});
    throw err;
  }
}

/** Writes a snapshot in one go (at start, before anything is served). */
export function writeSnapshotNow(tree: DataTree, dir: string, options: WriteSnapshotOptions = {}): SnapshotInfo {
  const meta = metaOf(tree, options.meta ?? {}, options.env ?? realEnvironment);
  const path = join(dir, fileName('snapshot', meta.index));
  const tmp = `${path}.tmp`;
  const enc = new SnapshotEncoder(tree, meta);
  const fd = openSync(tmp, 'w', SNAPSHOT_MODE);
  let bytes = 0;
  try {
    const put = (b: Buffer): void => {
      for (let at = 0; at < b.length; ) at += writeSync(fd, b, at, b.length - at, bytes + at);
      bytes += b.length;
    };
    put(enc.header());
    while (!enc.slice(null)) if (enc.pendingBytes >= CHUNK_TARGET_BYTES) put(enc.takeChunk());
    put(enc.takeChunk());
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  fsyncFile(dir);
  return { path, index: meta.index, zxid: meta.zxid, nodes: enc.nodes, sessions: enc.sessions, bytes };
}

/** A snapshot as bytes in memory (the memory store's). */
export function encodeSnapshot(tree: DataTree, meta: SnapshotMeta): Buffer {
  const enc = new SnapshotEncoder(tree, meta);
  const parts = [enc.header()];
  while (!enc.slice(null)) if (enc.pendingBytes >= CHUNK_TARGET_BYTES) parts.push(enc.takeChunk());
  parts.push(enc.takeChunk());
  return Buffer.concat(parts);
}

/**
 * A fuzzy snapshot as bytes in memory, encoded a slice at a time with turns of the event loop in
 * between (an ensemble member's, which its leader may send to a follower).
 */
export async function encodeSnapshotSliced(tree: DataTree, meta: SnapshotMeta, env: Environment): Promise<Buffer> {
  const enc = new SnapshotEncoder(tree, meta);
  const parts = [enc.header()];
  for (;;) {
    const done = enc.slice(env.clock);
    if (done || enc.pendingBytes >= CHUNK_TARGET_BYTES) parts.push(enc.takeChunk());
    if (done) return Buffer.concat(parts);
    await new Promise<void>((r) => env.scheduler.soon(r));
  }
}

/** Turns a tree into a header and chunks, a slice at a time. */
class SnapshotEncoder {
  private readonly w = new JuteWriter(1024 * 1024);
  private readonly acls = new AclRefs(this.w);
  private readonly it: IterableIterator<KeptNode>;
  nodes = 0;
  sessions = 0;

  constructor(private readonly tree: DataTree, private readonly meta: SnapshotMeta) {
    for (const [id, timeoutMs] of tree.sessions) {
      this.w.raw(ITEM_BYTES.session).bigLong(id).int(timeoutMs);
      this.sessions++;
    }
    this.it = tree.nodes.kept();
  }

  header(): Buffer {
    const { sessionSecret, extendedTypes } = this.tree.settings;
    const h = new JuteWriter(128);
    h.int(SNAP_MAGIC).int(SNAP_VERSION).long(this.meta.zxid).long(this.meta.timeMs).long(this.meta.index).long(this.meta.term)
      .raw(Uint8Array.of(extendedTypes ? 1 : 0)).buffer(sessionSecret);
    h.int(crc32(h.view(0, h.offset)));
    return Buffer.from(h.bytes());
  }

  get pendingBytes(): number {
    return this.w.offset;
  }

  /** Encodes up to a slice of nodes (unbounded in time without a clock); true once the end item is written. */
  slice(clock: Clock | null): boolean {
    const started = clock?.monotonic() ?? 0;
    for (let n = 0; ; n++) {
      if (n >= snapshotSlice.nodes || (clock && (n & 127) === 127 && clock.monotonic() - started >= snapshotSlice.ms)) return false;
      const next = this.it.next();
      if (next.done) break;
      writeNode(this.w, next.value, this.acls);
      this.nodes++;
    }
    this.w.raw(ITEM_BYTES.end).long(this.nodes).int(this.sessions).long(this.tree.lastProcessedZxid);
    return true;
  }

  /** The items encoded so far, framed as a chunk. */
  takeChunk(): Buffer {
    const items = this.w.bytes();
    const chunk = Buffer.allocUnsafe(CHUNK_HEADER_BYTES + items.length);
    chunk.writeUInt32BE(items.length, 0);
    chunk.writeUInt32BE(crc32(items), 4);
    items.copy(chunk, CHUNK_HEADER_BYTES);
    this.w.reset();
    return chunk;
  }
}

const ITEM_BYTES = {
  session: Uint8Array.of(ITEM.session),
  acl: Uint8Array.of(ITEM.acl),
  node: Uint8Array.of(ITEM.node),
  end: Uint8Array.of(ITEM.end),
};

function aclKey(acl: readonly ACL[]): string {
  let key = '';
  for (const a of acl) key += `${a.perms}\u0000${a.id.scheme}\u0000${a.id.id}\u0001`;
  return key;
}

/** Numbers the ACLs of a snapshot, writing each one's item before the first node that uses it. */
class AclRefs {
  private readonly byKey = new Map<string, number>();
  /** For the lists that many nodes share (those of frozen nodes, one per ACL). */
  private readonly byList = new Map<readonly ACL[], number>();

  constructor(private readonly w: JuteWriter) {}

  ref(acl: readonly ACL[]): number {
    const key = aclKey(acl);
    let ref = this.byKey.get(key);
    if (ref === undefined) {
      ref = this.byKey.size;
      this.byKey.set(key, ref);
      writeACLs(this.w.raw(ITEM_BYTES.acl).int(ref), acl);
    }
    return ref;
  }

  sharedRef(acl: readonly ACL[]): number {
    let ref = this.byList.get(acl);
    if (ref === undefined) this.byList.set(acl, (ref = this.ref(acl)));
    return ref;
  }
}

/** A frozen node's record is copied, with its ACL's number in this snapshot. */
function writeNode(w: JuteWriter, kept: KeptNode, acls: AclRefs): void {
  if (!isFrozen(kept)) {
    const ref = acls.ref(kept[1].acl);
    writeNodeRecord(w.raw(ITEM_BYTES.node), kept[0], kept[1], ref);
    return;
  }
  const [pos, store] = kept;
  if (!(store instanceof FrozenSnapshot)) return writeNode(w, [store.pathAt(pos), store.decode(pos)], acls);
  const ref = acls.sharedRef(store.aclOf(pos));
  store.copyRecord(pos, w.raw(ITEM_BYTES.node), ref);
}

export class SnapshotFormatError extends Error {}

export interface LoadedSnapshot extends SnapshotSummary {
  tree: DataTree;
  /** Nodes dropped because the fuzzy snapshot caught them without their parent. */
  orphans: number;
}

/**
 * Reads and checks a whole snapshot file; any damage is a SnapshotFormatError. `extendedTypes` is
 * for format 2, which did not record it.
 */
export function readSnapshot(path: string, extendedTypes: boolean): LoadedSnapshot {
  return decodeSnapshot(readFileSync(path), extendedTypes);
}

/** The tree of a snapshot's bytes. Its nodes stay frozen in them until first used (see tree/node-table.ts). */
export function decodeSnapshot(buf: Buffer, extendedTypes: boolean): LoadedSnapshot {
  const header = readHeader(buf);
  const tree = new DataTree(header.settings ?? { extendedTypes });
  const acls = new Map<number, ACL[]>();
  const nodes = new FrozenSnapshotBuilder(buf, expectedNodes(buf, header.bytes));
  const summary = readItems(buf, header, acls, {
    session: (id, timeoutMs) => tree.sessions.set(id, timeoutMs),
    node: (at) => nodes.add(at),
  });
  const frozen = nodes.build(acls, (parent) => tree.nodes.get(parent)?.children);
  tree.load(frozen, summary.zxid);
  return { ...summary, tree, orphans: frozen.orphans };
}

/** The node count of the end item, as a hint only (the file is not checked yet). */
function expectedNodes(buf: Buffer, headerBytes: number): number {
  const at = buf.length - END_ITEM_BYTES;
  if (at < headerBytes || buf[at] !== ITEM.end) return 0;
  const nodes = Number(buf.readBigInt64BE(at + 1));
  return nodes >= 0 ? Math.min(nodes, Math.floor(buf.length / MIN_NODE_ITEM_BYTES)) : 0;
}

export interface SnapshotVisitor {
  session(id: bigint, timeoutMs: number): void;
  node(path: string, node: Omit<ZNode, 'children'>): void;
}

interface SnapshotHeader {
  version: number;
  zxid: number;
  timeMs: number;
  index: number;
  term: number;
  /** null in format 2. */
  settings: ReplicatedSettings | null;
  /** Where the chunks begin. */
  bytes: number;
}

/** What a snapshot says about itself: its header, and the counts of its end item. */
export interface SnapshotSummary extends Omit<SnapshotHeader, 'bytes'> {
  /** The last txn applied when it finished: the log must reach it for the snapshot to be usable. */
  endZxid: number;
  nodes: number;
  sessions: number;
}

function readHeader(buf: Buffer): SnapshotHeader {
  if (buf.length < V2_HEADER_BYTES || buf.readUInt32BE(0) !== SNAP_MAGIC) throw new SnapshotFormatError('not a snapshot (bad magic)');
  const version = buf.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw new SnapshotFormatError(`unknown snapshot format version ${version}`);
  const zxid = Number(buf.readBigInt64BE(8));
  const timeMs = Number(buf.readBigInt64BE(16));
  if (version === 2) return { version, zxid, timeMs, index: zxid, term: epochOf(zxid), settings: null, bytes: V2_HEADER_BYTES };
  const r = new JuteReader(buf, V2_HEADER_BYTES);
  try {
    const index = r.long();
    const term = r.long();
    if (r.remaining < 1) throw new JuteError('header cut short');
    const extendedTypes = buf[r.offset++] === 1;
    const secret = r.buffer();
    const crcAt = r.offset;
    if (r.int() >>> 0 !== crc32(buf.subarray(0, crcAt))) throw new SnapshotFormatError('checksum mismatch in the header');
    const sessionSecret = Buffer.from(secret ?? Buffer.alloc(0));
    return { version, zxid, timeMs, index, term, settings: { extendedTypes, sessionSecret }, bytes: r.offset };
  } catch (err) {
    if (err instanceof JuteError) throw new SnapshotFormatError(`malformed header: ${err.message}`);
    throw err;
  }
}

/** Walks a snapshot's items, checking every chunk; the summary comes from its header and end item. */
export function visitSnapshot(buf: Buffer, visit: SnapshotVisitor): SnapshotSummary {
  const acls = new Map<number, ACL[]>();
  return readItems(buf, readHeader(buf), acls, {
    session: (id, timeoutMs) => visit.session(id, timeoutMs),
    node: (at) => {
      const node = readNodeRecord(buf, at, acls, new ChildSet());
      visit.node(recordPath(buf, at), { ...node, data: node.data === null ? null : Buffer.from(node.data) });
    },
  });
}

interface ItemHandlers {
  session(id: bigint, timeoutMs: number): void;
  /** A node record at offset `at`, its bounds and ACL reference checked. */
  node(at: number): void;
}

/** End item: kind, znodes i64, sessions i32, endZxid i64. */
const END_ITEM_BYTES = 21;
/** Node item: kind, path and data length prefixes, the record's tail. */
const MIN_NODE_ITEM_BYTES = 1 + 4 + 4 + RECORD_TAIL_BYTES;

function readItems(buf: Buffer, header: SnapshotHeader, acls: Map<number, ACL[]>, handlers: ItemHandlers): SnapshotSummary {
  const { bytes, ...about } = header;
  let nodes = 0;
  let sessions = 0;
  let offset = bytes;
  while (offset < buf.length) {
    if (offset + CHUNK_HEADER_BYTES > buf.length) throw new SnapshotFormatError(`chunk header cut short at ${offset}`);
    const length = buf.readUInt32BE(offset);
    const start = offset + CHUNK_HEADER_BYTES;
    if (start + length > buf.length) throw new SnapshotFormatError(`chunk at ${offset} cut short`);
    if (crc32(buf.subarray(start, start + length)) !== buf.readUInt32BE(offset + 4)) throw new SnapshotFormatError(`checksum mismatch in the chunk at ${offset}`);
    const r = new JuteReader(buf, start, start + length);
    try {
      while (r.remaining > 0) {
        const kind = buf[r.offset++];
        switch (kind) {
          case ITEM.session:
            handlers.session(r.bigLong(), r.int());
            sessions++;
            break;
          case ITEM.acl:
            acls.set(r.int(), readACLs(r) ?? []);
            break;
          case ITEM.node: {
            const at = r.offset;
            skipNodeRecord(r, acls);
            handlers.node(at);
            nodes++;
            break;
          }
          case ITEM.end: {
            const endNodes = r.long();
            const endSessions = r.int();
            const endZxid = r.long();
            if (r.remaining !== 0 || start + length !== buf.length) throw new SnapshotFormatError('bytes after the end of the snapshot');
            if (endNodes !== nodes || endSessions !== sessions) {
              throw new SnapshotFormatError(`counts differ: end says ${endNodes} znodes and ${endSessions} sessions, read ${nodes} and ${sessions}`);
            }
            return { ...about, endZxid, nodes, sessions };
          }
          default:
            throw new SnapshotFormatError(`unknown item kind ${kind} at ${r.offset - 1}`);
        }
      }
    } catch (err) {
      if (err instanceof JuteError) throw new SnapshotFormatError(`malformed item in the chunk at ${offset}: ${err.message}`);
      throw err;
    }
    offset = start + length;
  }
  throw new SnapshotFormatError('incomplete snapshot: no end item');
}

/** Checks a node record's bounds and ACL reference, and moves past it. */
function skipNodeRecord(r: JuteReader, acls: ReadonlyMap<number, ACL[]>): void {
  const at = r.offset;
  const pathLength = r.int();
  if (pathLength === -1) throw new JuteError('unexpected null string');
  skip(r, pathLength);
  const dataLength = r.int();
  skip(r, dataLength === -1 ? 0 : dataLength);
  if (!acls.has(r.int())) throw new SnapshotFormatError(`znode ${recordPath(r.buf, at)} refers to an unknown ACL`);
  skip(r, RECORD_TAIL_BYTES - 4);
}

/** Moves past a length-prefixed field's bytes (as JuteReader.buffer does, without a view). */
function skip(r: JuteReader, length: number): void {
  if (length < 0) throw new JuteError(`negative buffer length ${length}`);
  if (r.offset + length > r.end) throw new JuteError(`record truncated: need ${length} bytes at ${r.offset}, have ${r.remaining}`);
  r.offset += length;
}
