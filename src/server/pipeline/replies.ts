/** Encoding of reply frames: header plus the response record each opcode returns. */
import { OpCode } from '../../protocol/constants.ts';
import { JuteWriter } from '../../protocol/jute.ts';
import { writeMultiHeader, writeReplyHeader, writeStat, type Stat } from '../../protocol/records.ts';
import type { ApplyResult } from '../tree/data-tree.ts';

/** Nothing goes on the wire. */
const NO_REPLY = Buffer.alloc(0);

/** A complete frame (length prefix included) built by `body`. */
export function frame(xid: number, zxid: number, err: number, body?: (w: JuteWriter) => void): Buffer {
  const w = new JuteWriter(body ? 256 : 20);
  const mark = w.beginFrame();
  writeReplyHeader(w, { xid, zxid, err });
  if (body && err === 0) body(w);
  w.endFrame(mark);
  return w.bytes();
}

/** The reply to an applied write (FinalRequestProcessor's switch on the request type). */
export function writeReply(type: number, xid: number, zxid: number, r: ApplyResult): Buffer {
  if (type === OpCode.multi) {
    return frame(xid, zxid, 0, (w) => {
      for (const sub of r.multi ?? []) {
        writeMultiHeader(w, sub.type, false, sub.err);
        writeMultiResult(w, sub.type, sub.err, sub.path, sub.stat);
      }
      writeMultiHeader(w, -1, true, -1);
    });
  }
  if (r.err !== 0) return frame(xid, zxid, r.err);
  switch (type) {
    case OpCode.create:
      return frame(xid, zxid, 0, (w) => w.ustring(r.path!));
    case OpCode.create2:
    case OpCode.createTTL:
    case OpCode.createContainer:
      return frame(xid, zxid, 0, (w) => writeStat(w.ustring(r.path!), r.stat!));
    case OpCode.setData:
    case OpCode.setACL:
      return frame(xid, zxid, 0, (w) => writeStat(w, r.stat!));
    case OpCode.check:
      // ZooKeeper 3.8 answers a successful standalone check with a SetDataResponse of the txn
      // result's stat, which is null: serializing it fails and no reply is sent at all (the zxid is
      // still consumed, and the connection stays open). Clients never see an answer.
      return NO_REPLY;
    default:
      return frame(xid, zxid, 0);
  }
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
