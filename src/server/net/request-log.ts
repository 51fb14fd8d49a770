/** What the debug log shows of a client request: its session, xid, op and path. */
import { OpCode, opName } from '../../protocol/constants.ts';
import type { JuteReader } from '../../protocol/jute.ts';
import { sessionIdHex } from '../session/session-tracker.ts';

/** The requests whose body starts with a path. */
const WITH_PATH: ReadonlySet<number> = new Set([
  OpCode.create, OpCode.delete, OpCode.exists, OpCode.getData, OpCode.setData, OpCode.getACL, OpCode.setACL,
  OpCode.getChildren, OpCode.sync, OpCode.getChildren2, OpCode.check, OpCode.create2, OpCode.checkWatches,
  OpCode.removeWatches, OpCode.createContainer, OpCode.deleteContainer, OpCode.createTTL, OpCode.getEphemerals,
  OpCode.getAllChildrenNumber, OpCode.addWatch,
]);

/** Reads the path, if any, without moving the reader. */
export function requestFields(sessionId: bigint, xid: number, type: number, body: JuteReader): Record<string, unknown> {
  const fields: Record<string, unknown> = { session: sessionIdHex(sessionId), xid, op: opName.get(type) ?? type };
  if (WITH_PATH.has(type) && body.remaining >= 4) {
    const length = body.buf.readInt32BE(body.offset);
    if (length >= 0 && length <= body.remaining - 4) fields.path = body.buf.toString('utf8', body.offset + 4, body.offset + 4 + length);
  }
  return fields;
}
