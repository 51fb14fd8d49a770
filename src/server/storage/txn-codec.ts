/**
 * Txn <-> bytes, for the transaction log. Jute encoding (big-endian, length-prefixed): the header
 * (sessionId i64, cxid i32, zxid i64, timeMs i64, type i32), then a kind tag (u8) and the kind's
 * fields. docs/storage.md describes it field by field.
 */
import { JuteError, JuteReader, JuteWriter } from '../../protocol/jute.ts';
import { readACLs, writeACLs } from '../../protocol/records.ts';
import type { Txn, TxnEntry, TxnHeader } from '../tree/txn.ts';

const KIND_TAG = {
  create: 1,
  delete: 2,
  setData: 3,
  setACL: 4,
  check: 5,
  error: 6,
  multi: 7,
  createSession: 8,
  closeSession: 9,
} as const satisfies Record<Txn['kind'], number>;

export function writeTxnEntry(w: JuteWriter, entry: TxnEntry): JuteWriter {
  const h = entry.header;
  w.bigLong(h.sessionId).int(h.cxid).long(h.zxid).long(h.timeMs).int(h.type);
  return writeTxn(w, entry.txn);
}

function writeTxn(w: JuteWriter, txn: Txn): JuteWriter {
  w.raw(TAG_BYTES[KIND_TAG[txn.kind]]);
  switch (txn.kind) {
    case 'create':
      return writeACLs(w.ustring(txn.path).buffer(txn.data), txn.acl).bigLong(txn.ephemeralOwner).int(txn.parentCVersion);
    case 'delete':
    case 'check':
      return w.ustring(txn.path);
    case 'setData':
      return w.ustring(txn.path).buffer(txn.data).int(txn.version);
    case 'setACL':
      return writeACLs(w.ustring(txn.path), txn.acl).int(txn.version);
    case 'error':
      return w.int(txn.err);
    case 'multi':
      w.int(txn.ops.length);
      for (const op of txn.ops) writeTxn(w.int(op.type), op.txn);
      return w;
    case 'createSession':
      return w.int(txn.timeoutMs);
    case 'closeSession':
      return w.vector(txn.paths, (x, p) => x.ustring(p));
  }
}

const TAG_BYTES: Record<number, Uint8Array> = Object.fromEntries(
  Object.values(KIND_TAG).map((t) => [t, Uint8Array.of(t)]),
);

export function readTxnHeader(r: JuteReader): TxnHeader {
  return { sessionId: r.bigLong(), cxid: r.int(), zxid: r.long(), timeMs: r.long(), type: r.int() };
}

export function readTxnEntry(r: JuteReader): TxnEntry {
  const header = readTxnHeader(r);
  const txn = readTxn(r, 0);
  if (r.remaining !== 0) throw new JuteError(`${r.remaining} bytes after the txn of zxid ${header.zxid}`);
  return { header, txn };
}

function readTxn(r: JuteReader, depth: number): Txn {
  if (r.remaining < 1) throw new JuteError('txn truncated before its kind');
  const tag = r.buf[r.offset++];
  const string = (): string => r.string();
  switch (tag) {
    case KIND_TAG.create:
      return { kind: 'create', path: string(), data: r.buffer(), acl: readACLs(r) ?? [], ephemeralOwner: r.bigLong(), parentCVersion: r.int() };
    case KIND_TAG.delete:
      return { kind: 'delete', path: string() };
    case KIND_TAG.check:
      return { kind: 'check', path: string() };
    case KIND_TAG.setData:
      return { kind: 'setData', path: string(), data: r.buffer(), version: r.int() };
    case KIND_TAG.setACL:
      return { kind: 'setACL', path: string(), acl: readACLs(r) ?? [], version: r.int() };
    case KIND_TAG.error:
      return { kind: 'error', err: r.int() };
    case KIND_TAG.multi: {
      if (depth > 0) throw new JuteError('nested multi');
      const n = r.int();
      if (n < 0 || n > r.remaining) throw new JuteError(`bad multi op count ${n}`);
      const ops: Array<{ type: number; txn: Txn }> = [];
      for (let i = 0; i < n; i++) ops.push({ type: r.int(), txn: readTxn(r, depth + 1) });
      return { kind: 'multi', ops };
    }
    case KIND_TAG.createSession:
      return { kind: 'createSession', timeoutMs: r.int() };
    case KIND_TAG.closeSession:
      return { kind: 'closeSession', paths: r.vector((x) => x.string()) ?? [] };
    default:
      throw new JuteError(`unknown txn kind ${tag}`);
  }
}
