/**
 * The client side of zookeeper.jute: writers for every request record a client sends and readers
 * for every response record it receives. The server side (request readers, response writers) lives
 * in records.ts; the record shapes are shared.
 */
import { OpCode } from './constants.ts';
import { JuteReader, JuteWriter, JuteError } from './jute.ts';
import {
  readACLs, readStat, writeACLs, writeMultiHeader,
  type ACL, type AddWatchRequest, type AuthPacket, type CheckVersionRequest, type CreateRequest,
  type DeleteRequest, type MultiOp, type PathTypeRequest, type PathWatchRequest, type SetACLRequest,
  type SetDataRequest, type SetWatchesRequest, type Stat,
} from './records.ts';

// ---- request writers ----

/** Header of every request after the handshake. */
export const writeRequestHeader = (w: JuteWriter, xid: number, type: number): JuteWriter => w.int(xid).int(type);

/** CreateRequest: create (1), create2 (15), createContainer (19). */
export function writeCreateRequest(w: JuteWriter, req: Omit<CreateRequest, 'ttl'>): JuteWriter {
  return writeACLs(w.ustring(req.path).buffer(req.data), req.acl).int(req.flags);
}

/** CreateTTLRequest: createTTL (21). */
export function writeCreateTTLRequest(w: JuteWriter, req: CreateRequest): JuteWriter {
  return writeCreateRequest(w, req).long(req.ttl);
}

export const writeDeleteRequest = (w: JuteWriter, req: DeleteRequest): JuteWriter => w.ustring(req.path).int(req.version);

/** ExistsRequest, GetDataRequest, GetChildrenRequest, GetChildren2Request. */
export const writePathWatchRequest = (w: JuteWriter, req: PathWatchRequest): JuteWriter => w.ustring(req.path).bool(req.watch);

/** GetACLRequest, SyncRequest, GetAllChildrenNumberRequest, GetEphemeralsRequest (its prefixPath). */
export const writePathRequest = (w: JuteWriter, path: string | null): JuteWriter => w.ustring(path);

export const writeSetDataRequest = (w: JuteWriter, req: SetDataRequest): JuteWriter =>
  w.ustring(req.path).buffer(req.data).int(req.version);

export const writeSetACLRequest = (w: JuteWriter, req: SetACLRequest): JuteWriter =>
  writeACLs(w.ustring(req.path), req.acl).int(req.version);

/** CheckVersionRequest: check (13), inside a multi or on its own. */
export const writeCheckVersionRequest = (w: JuteWriter, req: CheckVersionRequest): JuteWriter =>
  w.ustring(req.path).int(req.version);

/** CheckWatchesRequest / RemoveWatchesRequest: path and WatcherType. */
export const writePathTypeRequest = (w: JuteWriter, req: PathTypeRequest): JuteWriter => w.ustring(req.path).int(req.type);

export const writeAddWatchRequest = (w: JuteWriter, req: AddWatchRequest): JuteWriter => w.ustring(req.path).int(req.mode);

/** ReconfigRequest: joining, leaving and new-member server lists (null when unused) and the config version to replace (-1: any). */
export interface ReconfigRequest { joiningServers: string | null; leavingServers: string | null; newMembers: string | null; curConfigId: number }
export const writeReconfigRequest = (w: JuteWriter, req: ReconfigRequest): JuteWriter =>
  w.ustring(req.joiningServers).ustring(req.leavingServers).ustring(req.newMembers).long(req.curConfigId);

export const writeAuthPacket = (w: JuteWriter, req: AuthPacket): JuteWriter => w.int(req.type).ustring(req.scheme).buffer(req.auth);

const writeStrings = (w: JuteWriter, items: readonly string[]): JuteWriter => w.vector(items, (x, s) => x.ustring(s));

/** SetWatches (101) when v2 is false, SetWatches2 (105) otherwise; v1 has no persistent lists. */
export function writeSetWatches(w: JuteWriter, req: SetWatchesRequest, v2: boolean): JuteWriter {
  w.long(req.relativeZxid);
  writeStrings(w, req.dataWatches);
  writeStrings(w, req.existWatches);
  writeStrings(w, req.childWatches);
  if (v2) {
    writeStrings(w, req.persistentWatches);
    writeStrings(w, req.persistentRecursiveWatches);
  }
  return w;
}

/**
 * MultiOperationRecord: each op as MultiHeader{type, done=false, err=-1} + its record, then the
 * terminator MultiHeader{-1, true, -1}. Used for multi (14) and multiRead (22).
 */
export function writeMultiRequest(w: JuteWriter, ops: readonly MultiOp[]): JuteWriter {
  for (const op of ops) {
    writeMultiHeader(w, op.type, false, -1);
    switch (op.type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
        writeCreateRequest(w, op.req);
        break;
      case OpCode.createTTL:
        writeCreateTTLRequest(w, op.req);
        break;
      case OpCode.delete:
        writeDeleteRequest(w, op.req);
        break;
      case OpCode.setData:
        writeSetDataRequest(w, op.req);
        break;
      case OpCode.check:
        writeCheckVersionRequest(w, op.req);
        break;
      case OpCode.getChildren:
      case OpCode.getData:
        writePathWatchRequest(w, op.req);
        break;
    }
  }
  return writeMultiHeader(w, -1, true, -1);
}

// ---- response readers ----

export interface CreateResponse { path: string }
export interface Create2Response { path: string; stat: Stat }
export interface GetDataResponse { data: Buffer | null; stat: Stat }
export interface GetChildren2Response { children: string[]; stat: Stat }
export interface GetACLResponse { acl: ACL[]; stat: Stat }
export interface ClientInfo { authScheme: string; user: string | null }
export interface WatcherEvent { type: number; state: number; path: string | null }

const readStrings = (r: JuteReader): string[] => r.vector((x) => x.string()) ?? [];

export const readCreateResponse = (r: JuteReader): CreateResponse => ({ path: r.string() });
export const readCreate2Response = (r: JuteReader): Create2Response => ({ path: r.string(), stat: readStat(r) });
/** ExistsResponse, SetDataResponse, SetACLResponse (and a standalone check's reply). */
export const readStatResponse = (r: JuteReader): Stat => readStat(r);
export const readGetDataResponse = (r: JuteReader): GetDataResponse => ({ data: r.buffer(), stat: readStat(r) });
export const readGetChildrenResponse = (r: JuteReader): string[] => readStrings(r);
export const readGetChildren2Response = (r: JuteReader): GetChildren2Response => ({ children: readStrings(r), stat: readStat(r) });
export const readGetACLResponse = (r: JuteReader): GetACLResponse => ({ acl: readACLs(r) ?? [], stat: readStat(r) });
export const readSyncResponse = (r: JuteReader): string => r.string();
export const readGetEphemeralsResponse = (r: JuteReader): string[] => readStrings(r);
export const readGetAllChildrenNumberResponse = (r: JuteReader): number => r.int();
/** ErrorResponse: addWatch's reply body, and a failed op inside a multi. */
export const readErrorResponse = (r: JuteReader): number => r.int();
export const readWhoAmIResponse = (r: JuteReader): ClientInfo[] =>
  r.vector((x) => ({ authScheme: x.string(), user: x.ustring() })) ?? [];
export const readWatcherEvent = (r: JuteReader): WatcherEvent => ({ type: r.int(), state: r.int(), path: r.ustring() });

export type MultiResult =
  | { type: typeof OpCode.create; path: string }
  | { type: typeof OpCode.create2 | typeof OpCode.createTTL | typeof OpCode.createContainer; path: string; stat: Stat }
  | { type: typeof OpCode.delete | typeof OpCode.check }
  | { type: typeof OpCode.setData; stat: Stat }
  | { type: typeof OpCode.getChildren; children: string[] }
  | { type: typeof OpCode.getData; data: Buffer | null; stat: Stat }
  | { type: typeof OpCode.error; err: number };

/** MultiResponse: (MultiHeader + result)* up to the done header. The header's type selects the body. */
export function readMultiResponse(r: JuteReader): MultiResult[] {
  const out: MultiResult[] = [];
  for (;;) {
    const type = r.int();
    const done = r.bool();
    const err = r.int();
    if (done) return out;
    switch (type) {
      case OpCode.create: out.push({ type, path: r.string() }); break;
      case OpCode.create2:
      case OpCode.createTTL:
      case OpCode.createContainer:
        out.push({ type, ...readCreate2Response(r) });
        break;
      case OpCode.delete:
      case OpCode.check:
        out.push({ type });
        break;
      case OpCode.setData: out.push({ type, stat: readStat(r) }); break;
      case OpCode.getChildren: out.push({ type, children: readStrings(r) }); break;
      case OpCode.getData: out.push({ type, ...readGetDataResponse(r) }); break;
      case OpCode.error: {
        const code = readErrorResponse(r);
        if (code !== err) throw new JuteError(`multi error result: header err ${err}, body ${code}`);
        out.push({ type, err: code });
        break;
      }
      default:
        throw new JuteError(`unknown multi result type ${type}`);
    }
  }
}

export { JuteReader, JuteWriter };
