/** Transactions: the only way the tree changes. Each one carries its zxid in a TxnHeader. */
import type { ACL } from '../../protocol/records.ts';

export interface TxnHeader {
  sessionId: bigint;
  cxid: number;
  zxid: number;
  timeMs: number;
  /** The opcode of the request that produced it (OpCode.error when it failed in prep). */
  type: number;
}

export type Txn =
  | { kind: 'create'; path: string; data: Buffer | null; acl: ACL[]; ephemeralOwner: bigint; parentCVersion: number }
  | { kind: 'delete'; path: string }
  | { kind: 'setData'; path: string; data: Buffer | null; version: number }
  | { kind: 'setACL'; path: string; acl: ACL[]; version: number }
  | { kind: 'check'; path: string }
  | { kind: 'error'; err: number }
  | { kind: 'multi'; ops: Array<{ type: number; txn: Txn }> }
  | { kind: 'createSession'; timeoutMs: number }
  | { kind: 'closeSession'; paths: string[] };

export interface TxnEntry {
  header: TxnHeader;
  txn: Txn;
}
