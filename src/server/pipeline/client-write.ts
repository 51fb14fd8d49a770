/**
 * A client's write as it came off the wire: its opcode and a reader over the bytes of its body. In
 * this form a write enters the replica core (and, in an ensemble, a follower forwards those bytes to
 * the leader); prep's side decodes it.
 */
import { Err, OpCode } from '../../protocol/constants.ts';
import { JuteError, type JuteReader } from '../../protocol/jute.ts';
import { readCheckVersion, readCreate, readCreateTTL, readDelete, readMulti, readSetACL, readSetData } from '../../protocol/records.ts';
import type { WriteRequest } from './prep.ts';

/** The opcodes that become Txns. Any other one that is not a read is refused as UNIMPLEMENTED. */
export const WRITE_OPS = new Set<number>([
  OpCode.create, OpCode.create2, OpCode.createContainer, OpCode.createTTL, OpCode.delete, OpCode.setData,
  OpCode.setACL, OpCode.check, OpCode.multi, OpCode.closeSession, OpCode.deleteContainer,
]);

/** Decode a write; a body that does not parse still becomes a write, one that fails. */
export function decodeWrite(type: number, r: JuteReader): WriteRequest {
  try {
    switch (type) {
      case OpCode.create:
      case OpCode.create2:
      case OpCode.createContainer:
        return { type, req: readCreate(r) };
      case OpCode.createTTL: return { type, req: readCreateTTL(r) };
      case OpCode.delete: return { type, req: readDelete(r) };
      case OpCode.setData: return { type, req: readSetData(r) };
      case OpCode.setACL: return { type, req: readSetACL(r) };
      case OpCode.check: return { type, req: readCheckVersion(r) };
      case OpCode.multi: return { type, ops: readMulti(r, false) };
      case OpCode.closeSession: return { type };
      // The container reaper's opcode: ZooKeeper preps it from a client too, and refuses it.
      case OpCode.deleteContainer: return { type, rejectWith: Err.BADARGUMENTS };
    }
  } catch (e) {
    if (e instanceof JuteError) return { type, rejectWith: Err.MARSHALLINGERROR };
    throw e;
  }
  throw new Error(`opcode ${type} is not a write`);
}
