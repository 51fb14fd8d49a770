/**
 * A znode as a snapshot stores it (the fields of item kind 3):
 *
 *   path ustring | data buffer | aclRef i32 | czxid i64 | mzxid i64 | ctime i64 | mtime i64 |
 *   version i32 | cversion i32 | aversion i32 | ephemeralOwner i64 | pzxid i64
 *
 * Records are read in place, at their offset in the snapshot's bytes.
 */
import { JuteReader, JuteWriter } from '../../protocol/jute.ts';
import type { ACL } from '../../protocol/records.ts';
import type { ChildSet } from '../tree/child-set.ts';
import type { ZNode } from '../tree/data-tree.ts';

/** The bytes after the data: aclRef and the stat fields. */
export const RECORD_TAIL_BYTES = 64;
/** Where ephemeralOwner is in them. */
export const OWNER_IN_TAIL = 48;
const TWO_32 = 4294967296;

export function writeNodeRecord(w: JuteWriter, path: string, n: ZNode, aclRef: number): void {
  w.ustring(path).buffer(n.data).int(aclRef)
    .long(n.czxid).long(n.mzxid).long(n.ctime).long(n.mtime)
    .int(n.version).int(n.cversion).int(n.aversion).bigLong(n.ephemeralOwner).long(n.pzxid);
}

export function int32At(b: Buffer, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3];
}

function longAt(b: Buffer, o: number): number {
  return int32At(b, o) * TWO_32 + (int32At(b, o + 4) >>> 0);
}

/** A session id or ephemeral owner, without a BigInt for the usual 0. */
function ownerAt(b: Buffer, o: number): bigint {
  return (int32At(b, o) | int32At(b, o + 4)) === 0 ? 0n : b.readBigInt64BE(o);
}

/** The record's path, decoded as JuteReader.string does (ASCII, the usual case, directly). */
export function recordPath(b: Buffer, at: number): string {
  const start = at + 4;
  const end = start + int32At(b, at);
  for (let i = start; i < end; i++) if (b[i] >= 0x80) return new JuteReader(b, at).string();
  return b.toString('latin1', start, end);
}

/** Offset of the record's aclRef (the data's length prefix follows the path). */
function tailAt(b: Buffer, at: number): number {
  const dataAt = at + 4 + int32At(b, at);
  return dataAt + 4 + Math.max(int32At(b, dataAt), 0);
}

export function recordAclRef(b: Buffer, at: number): number {
  return int32At(b, tailAt(b, at));
}

/** Writes the record at `at` as it is, but for its ACL reference. */
export function copyNodeRecord(w: JuteWriter, b: Buffer, at: number, aclRef: number): void {
  const tail = tailAt(b, at);
  w.raw(b.subarray(at, tail)).int(aclRef).raw(b.subarray(tail + 4, tail + RECORD_TAIL_BYTES));
}

export function recordOwner(b: Buffer, at: number): bigint {
  return ownerAt(b, tailAt(b, at) + OWNER_IN_TAIL);
}

/** The znode of a record; its data is a view of b. */
export function readNodeRecord(b: Buffer, at: number, acls: ReadonlyMap<number, ACL[]>, children: ChildSet): ZNode {
  const dataAt = at + 4 + int32At(b, at);
  const dataLength = int32At(b, dataAt);
  const data = dataLength < 0 ? null : b.subarray(dataAt + 4, dataAt + 4 + dataLength);
  const t = dataAt + 4 + Math.max(dataLength, 0);
  // Field by field, in newNode's order, so every node shares one shape.
  return {
    data, acl: acls.get(int32At(b, t))!, czxid: longAt(b, t + 4), mzxid: longAt(b, t + 12), ctime: longAt(b, t + 20), mtime: longAt(b, t + 28),
    version: int32At(b, t + 36), cversion: int32At(b, t + 40), aversion: int32At(b, t + 44), ephemeralOwner: ownerAt(b, t + OWNER_IN_TAIL), pzxid: longAt(b, t + 56),
    children,
  };
}
