/** The records of zookeeper.jute that cross the client port, with their readers and writers. */
import { JuteReader, JuteWriter, JuteError } from './jute.ts';
import { OpCode } from './constants.ts';

export interface Id { scheme: string; id: string }
export interface ACL { perms: number; id: Id }

export interface Stat {
  czxid: number;
  mzxid: number;
  ctime: number;
  mtime: number;
  version: number;
  cversion: number;
  aversion: number;
  ephemeralOwner: bigint;
  dataLength: number;
  numChildren: number;
  pzxid: number;
}

// Some clients (kazoo) write an empty string as null: an id of null reads as ''.
export const readId = (r: JuteReader): Id => ({ scheme: r.string(), id: r.ustring() ?? '' });
export const readACL = (r: JuteReader): ACL => ({ perms: r.int(), id: readId(r) });
export function writeACL(w: JuteWriter, a: ACL): void {
  w.int(a.perms).ustring(a.id.scheme).ustring(a.id.id);
}
export const readACLs = (r: JuteReader): ACL[] | null => r.vector(readACL);
export const writeACLs = (w: JuteWriter, acls: readonly ACL[] | null): JuteWriter => w.vector(acls, writeACL);

export function writeStat(w: JuteWriter, s: Stat): JuteWriter {
  return w.long(s.czxid).long(s.mzxid).long(s.ctime).long(s.mtime)
    .int(s.version).int(s.cversion).int(s.aversion)
    .bigLong(s.ephemeralOwner).int(s.dataLength).int(s.numChildren).long(s.pzxid);
}

export function readStat(r: JuteReader): Stat {
  return {
    czxid: r.long(), mzxid: r.long(), ctime: r.long(), mtime: r.long(),
    version: r.int(), cversion: r.int(), aversion: r.int(),
    ephemeralOwner: r.ownerLong(), dataLength: r.int(), numChildren: r.int(), pzxid: r.long(),
  };
}

// ---- connect handshake ----

export interface ConnectRequest {
  protocolVersion: number;
  lastZxidSeen: number;
  timeOutMs: number;
  sessionId: bigint;
  passwd: Buffer;
  readOnly: boolean;
  /** Old clients omit the readOnly byte, and must not receive one back. */
  hasReadOnlyFlag: boolean;
}

export function readConnectRequest(r: JuteReader): ConnectRequest {
  const protocolVersion = r.int();
  const lastZxidSeen = r.long();
  const timeOutMs = r.int();
  const sessionId = r.bigLong();
  const passwd = r.buffer() ?? Buffer.alloc(0);
  // The trailing readOnly flag is optional: old clients do not send it.
  const hasReadOnlyFlag = r.remaining > 0;
  const readOnly = hasReadOnlyFlag ? r.bool() : false;
  return { protocolVersion, lastZxidSeen, timeOutMs, sessionId, passwd, readOnly, hasReadOnlyFlag };
}

export function writeConnectRequest(w: JuteWriter, c: Omit<ConnectRequest, 'hasReadOnlyFlag'>): JuteWriter {
  return w.int(c.protocolVersion).long(c.lastZxidSeen).int(c.timeOutMs).bigLong(c.sessionId).buffer(c.passwd).bool(c.readOnly);
}

export interface ConnectResponse { protocolVersion: number; timeOutMs: number; sessionId: bigint; passwd: Buffer; readOnly: boolean }

export function writeConnectResponse(w: JuteWriter, c: ConnectResponse, withReadOnlyFlag = true): JuteWriter {
  w.int(c.protocolVersion).int(c.timeOutMs).bigLong(c.sessionId).buffer(c.passwd);
  return withReadOnlyFlag ? w.bool(c.readOnly) : w;
}

export function readConnectResponse(r: JuteReader): ConnectResponse {
  const protocolVersion = r.int();
  const timeOutMs = r.int();
  const sessionId = r.bigLong();
  const passwd = r.buffer() ?? Buffer.alloc(0);
  const readOnly = r.remaining > 0 ? r.bool() : false;
  return { protocolVersion, timeOutMs, sessionId, passwd, readOnly };
}

// ---- headers ----

export interface RequestHeader { xid: number; type: number }
export interface ReplyHeader { xid: number; zxid: number; err: number }

export const readRequestHeader = (r: JuteReader): RequestHeader => ({ xid: r.int(), type: r.int() });
export const writeReplyHeader = (w: JuteWriter, h: ReplyHeader): JuteWriter => w.int(h.xid).long(h.zxid).int(h.err);
export const readReplyHeader = (r: JuteReader): ReplyHeader => ({ xid: r.int(), zxid: r.long(), err: r.int() });

// ---- requests ----

export interface CreateRequest { path: string; data: Buffer | null; acl: ACL[] | null; flags: number; ttl: number }
export interface DeleteRequest { path: string; version: number }
export interface SetDataRequest { path: string; data: Buffer | null; version: number }
export interface SetACLRequest { path: string; acl: ACL[] | null; version: number }
export interface CheckVersionRequest { path: string; version: number }
export interface PathWatchRequest { path: string; watch: boolean }
export interface PathRequest { path: string }
export interface PathTypeRequest { path: string; type: number }
export interface AddWatchRequest { path: string; mode: number }
export interface AuthPacket { type: number; scheme: string; auth: Buffer | null }
export interface SetWatchesRequest {
  relativeZxid: number;
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
  persistentWatches: string[];
  persistentRecursiveWatches: string[];
}

export const readCreate = (r: JuteReader): CreateRequest =>
  ({ path: r.string(), data: r.buffer(), acl: readACLs(r), flags: r.int(), ttl: -1 });
export const readCreateTTL = (r: JuteReader): CreateRequest =>
  ({ path: r.string(), data: r.buffer(), acl: readACLs(r), flags: r.int(), ttl: r.long() });
export const readDelete = (r: JuteReader): DeleteRequest => ({ path: r.string(), version: r.int() });
export const readSetData = (r: JuteReader): SetDataRequest => ({ path: r.string(), data: r.buffer(), version: r.int() });
export const readSetACL = (r: JuteReader): SetACLRequest => ({ path: r.string(), acl: readACLs(r), version: r.int() });
export const readCheckVersion = (r: JuteReader): CheckVersionRequest => ({ path: r.string(), version: r.int() });
export const readPathWatch = (r: JuteReader): PathWatchRequest => ({ path: r.string(), watch: r.bool() });
export const readPath = (r: JuteReader): PathRequest => ({ path: r.string() });
export const readPathType = (r: JuteReader): PathTypeRequest => ({ path: r.string(), type: r.int() });
export const readAddWatch = (r: JuteReader): AddWatchRequest => ({ path: r.string(), mode: r.int() });
export const readAuth = (r: JuteReader): AuthPacket => ({ type: r.int(), scheme: r.string(), auth: r.buffer() });

const strings = (r: JuteReader): string[] => r.vector((x) => x.string()) ?? [];

export function readSetWatches(r: JuteReader, v2: boolean): SetWatchesRequest {
  const relativeZxid = r.long();
  const dataWatches = strings(r);
  const existWatches = strings(r);
  const childWatches = strings(r);
  const persistentWatches = v2 ? strings(r) : [];
  const persistentRecursiveWatches = v2 ? strings(r) : [];
  return { relativeZxid, dataWatches, existWatches, childWatches, persistentWatches, persistentRecursiveWatches };
}

// ---- multi ----

export type MultiOp =
  | { type: typeof OpCode.create | typeof OpCode.create2 | typeof OpCode.createContainer | typeof OpCode.createTTL; req: CreateRequest }
  | { type: typeof OpCode.delete; req: DeleteRequest }
  | { type: typeof OpCode.setData; req: SetDataRequest }
  | { type: typeof OpCode.check; req: CheckVersionRequest }
  | { type: typeof OpCode.getChildren | typeof OpCode.getData; req: PathWatchRequest };

/** MultiOperationRecord: (MultiHeader + op)* then a done header. Read-only ops only in multiRead. */
export function readMulti(r: JuteReader, readOnly: boolean): MultiOp[] {
  const ops: MultiOp[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    r.int(); // err, always -1 in requests
    if (done) return ops;
    if (ops.length > 100_000) throw new JuteError('too many ops in multi');
    ops.push(readMultiOp(r, type, readOnly));
  }
}

function readMultiOp(r: JuteReader, type: number, readOnly: boolean): MultiOp {
  if (readOnly) {
    switch (type) {
      case OpCode.getChildren:
      case OpCode.getData:
        return { type, req: readPathWatch(r) };
    }
    throw new JuteError(`invalid op ${type} in multiRead`);
  }
  switch (type) {
    case OpCode.create:
    case OpCode.create2:
    case OpCode.createContainer:
      return { type, req: readCreate(r) };
    case OpCode.createTTL:
      return { type, req: readCreateTTL(r) };
    case OpCode.delete: return { type, req: readDelete(r) };
    case OpCode.setData: return { type, req: readSetData(r) };
    case OpCode.check: return { type, req: readCheckVersion(r) };
  }
  throw new JuteError(`invalid op ${type} in multi`);
}

export const writeMultiHeader = (w: JuteWriter, type: number, done: boolean, err: number): JuteWriter =>
  w.int(type).bool(done).int(err);

export const writeWatcherEvent = (w: JuteWriter, type: number, state: number, path: string): JuteWriter =>
  w.int(type).int(state).ustring(path);
