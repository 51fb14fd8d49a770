/**
 * Prep's speculative state for writes in flight (not yet applied): what a failed write leaves
 * behind, and which ACL a write in flight is checked against.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { CreateFlag, Err, OpCode, Perms } from '../../src/protocol/constants.ts';
import type { ACL, MultiOp } from '../../src/protocol/records.ts';
import { Prep, type WriteRequest } from '../../src/server/pipeline/prep.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';

const OPEN: ACL[] = [{ perms: Perms.ALL, id: { scheme: 'world', id: 'anyone' } }];
const SESSION = 0x100n;

function setup(): { tree: DataTree; prep: Prep; write(request: WriteRequest): TxnEntry; apply(e: TxnEntry): void } {
  const tree = new DataTree({ extendedTypes: true });
  const prep = new Prep(tree, { maxDataBytes: 1 << 20, checkSession: () => {} });
  let cxid = 0;
  const write = (request: WriteRequest): TxnEntry => prep.prepare({ sessionId: SESSION, cxid: ++cxid, owner: 0, authInfo: [], timeMs: 1 }, request);
  const apply = (e: TxnEntry): void => {
    tree.apply(e);
    prep.applied(e.header.zxid);
  };
  for (const path of ['/b', '/b/c']) apply(write(create(path)));
  return { tree, prep, write, apply };
}

function create(path: string, flags: number = CreateFlag.persistent, acl = OPEN): WriteRequest {
  return { type: OpCode.create, req: { path, data: null, acl, flags, ttl: -1 } };
}
const createOp = (path: string, flags: number = CreateFlag.persistent): MultiOp => ({ type: OpCode.create, req: { path, data: null, acl: OPEN, flags, ttl: -1 } });
const checkOp = (path: string, version: number): MultiOp => ({ type: OpCode.check, req: { path, version } });

function createdPath(e: TxnEntry): string {
  assert.equal(e.txn.kind, 'create', `expected a create, got ${inspect(e.txn)}`);
  return (e.txn as { path: string }).path;
}

const FAILING: Array<[string, MultiOp]> = [
  ['bad version', checkOp('/b', 7)],
  ['malformed path', checkOp('/a\u0000b', -1)],
  ['no node', { type: OpCode.delete, req: { path: '/nope', version: -1 } }],
  ['node exists', createOp('/b/c')],
  ['not empty', { type: OpCode.delete, req: { path: '/b', version: -1 } }],
  ['no parent', createOp('/x/y')],
];

for (const [kind, failing] of FAILING) {
  for (let at = 0; at <= 3; at++) {
    test(`a multi failing on ${kind} at position ${at} leaves no record behind, applied or still in flight`, () => {
      const { write, apply } = setup();
      const ops = [createOp('/b/c', CreateFlag.persistentSequential), createOp('/b/d'), createOp('/b/c', CreateFlag.persistentSequential)];
      ops.splice(at, 0, failing);
      const failed = write({ type: OpCode.multi, ops });
      assert.equal(failed.txn.kind, 'multi');
      assert.ok((failed.txn as { ops: Array<{ txn: { kind: string } }> }).ops.some((o) => o.txn.kind === 'error'));
      // In flight (the failed multi not yet applied), then again once it has been.
      const next = write(create('/b/c', CreateFlag.persistentSequential));
      assert.equal(createdPath(next), '/b/c0000000001');
      assert.equal(createdPath(write(create('/b/d'))), '/b/d');
      apply(failed);
      apply(next);
      assert.equal(createdPath(write(create('/b/c', CreateFlag.persistentSequential))), '/b/c0000000003');
    });
  }
}

test('a write in flight behind a setACL is checked against the new ACL', () => {
  const { write } = setup();
  const readOnly: ACL[] = [{ perms: Perms.READ, id: { scheme: 'world', id: 'anyone' } }];
  assert.equal(write({ type: OpCode.setACL, req: { path: '/b', acl: readOnly, version: -1 } }).txn.kind, 'setACL');
  const refused = write(create('/b/new'));
  assert.deepEqual(refused.txn, { kind: 'error', err: Err.NOAUTH });
  const refusedData = write({ type: OpCode.setData, req: { path: '/b', data: null, version: -1 } });
  assert.deepEqual(refusedData.txn, { kind: 'error', err: Err.NOAUTH });
});
