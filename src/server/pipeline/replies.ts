/** Encoding of reply frames: header plus the response record each opcode returns. */
import { OpCode } from '../../protocol/constants.ts';
import { JuteWriter } from '../../protocol/jute.ts';
import { writeMultiHeader, writeStat, type Stat } from '../../protocol/records.ts';
import { visibleCversion, visibleOwner, type ApplyResult, type ZNode } from '../tree/data-tree.ts';

/** The reply header (ReplyHeader: xid, zxid, err). */
export function writeHeader(w: JuteWriter, xid: number, zxid: number, err: number): JuteWriter {
  return w.int(xid).long(zxid).int(err);
}

/** A node's Stat as the client sees it (statOf), encoded without building the record. */
export function writeNodeStat(w: JuteWriter, n: ZNode, extendedTypes: boolean): JuteWriter {
  const children = n.children.size;
  return w.long(n.czxid).long(n.mzxid).long(n.ctime).long(n.mtime)
    .int(n.version).int(visibleCversion(n)).int(n.aversion)
    .bigLong(visibleOwner(n, extendedTypes)).int(n.data === null ? 0 : n.data.length).int(children).long(n.pzxid);
}

/** A complete frame (length prefix included) built by `body`, as a buffer of its own. */
export function frame(xid: number, zxid: number, err: number, body?: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(body ? 256 : 20);
  writeFrame(w, xid, zxid, err, body);
  return w.bytes();
}

/** Appends a complete frame (length prefix included) to w. */
export function writeFrame(w: JuteWriter, xid: number, zxid: number, err: number, body?: (w: JuteWriter) => void): void {
  const mark = w.beginFrame();
  writeHeader(w, xid, zxid, err);
  if (body && err === 0) body(w);
  w.endFrame(mark);
}

/**
 * Appends the reply to an applied write (FinalRequestProcessor's switch on the request type);
 * false when the request gets no reply at all.
 */
export function writeReply(w: JuteWriter, type: number, xid: number, zxid: number, r: ApplyResult): boolean {
  if (type === OpCode.multi) {
    writeFrame(w, xid, zxid, 0, (x) => {
      for (const sub of r.multi ?? []) {
        writeMultiHeader(x, sub.type, false, sub.err);
        writeMultiResult(x, sub.type, sub.err, sub.path, sub.stat);
      }
      writeMultiHeader(x, -1, true, -1);
    });
    return true;
  }
  if (r.err !== 0) {
    writeFrame(w, xid, zxid, r.err);
    return true;
  }
  if (type === OpCode.check) {
    // ZooKeeper 3.8 answers a successful standalone check with a SetDataResponse of the txn
    // result's stat, which is null: serializing it fails and no reply is sent at all (the zxid is
    // still consumed, and the connection stays open). Clients never see an answer.
    return false;
  }
  const mark = w.beginFrame();
  writeHeader(w, xid, zxid, 0);
  switch (type) {
    case OpCode.create:
      w.ustring(r.path!);
      break;
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      writeStat(w.ustring(r.path!), r.stat!);
      break;
    case OpCode.setData:
    case OpCode.setACL:
      writeStat(w, r.stat!);
      break;
    default:
      break;
  }
  w.endFrame(mark);
  return true;
}

function writeMultiResult(w: JuteWriter, type: number, err: number, path?: string, stat?: Stat): void {
  switch (type) {
    case OpCode.error: w.int(err); break;
    case OpCode.create: w.ustring(path!); break;
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      writeStat(w.ustring(path!), stat!);
      break;
    case OpCode.setData: writeStat(w, stat!); break;
    default: break; // delete, check: no body
  }
}
