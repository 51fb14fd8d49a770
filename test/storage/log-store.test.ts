/** The log store on its own: group commit, order, rolling, the codec, reading back, ranges and truncation. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { JuteReader, JuteWriter } from '../../src/protocol/jute.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { readTxnEntry, writeTxnEntry } from '../../src/server/storage/txn-codec.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { FileLogStore, type FileLogStoreOptions } from '../../src/server/storage/file-log-store.ts';
import { scanSegment } from '../../src/server/storage/segment.ts';
import type { Txn, TxnEntry } from '../../src/server/tree/txn.ts';

const ACL = [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }];

function openLog(options: Omit<FileLogStoreOptions, 'maxRecordBytes'>): FileLogStore {
  return new FileLogStore({ maxRecordBytes: 1 << 20, ...options }, realEnvironment);
}

function entry(zxid: number, txn: Txn): TxnEntry {
  return { header: { sessionId: 0x1234n, cxid: zxid, zxid, timeMs: 1_700_000_000_000 + zxid, type: 1 }, txn };
}

test('group commit: appends during an fsync share the next one; callbacks run in zxid order', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-log-'));
  try {
    const log = openLog({ dir, forceSync: true, rollBytes: 1 << 30, preallocBytes: 1 << 20, onFatal: (e) => assert.fail(e) });
    const done: number[] = [];
    const total = 2_000;
    for (let z = 1; z <= total; z++) {
      log.append(z, 0, entry(z, { kind: 'setData', path: '/a', data: Buffer.alloc(100, z), version: z }), () => done.push(z));
      if (z % 100 === 0) await new Promise((r) => setImmediate(r)); // arrivals spread over time
    }
    await log.sync();
    assert.deepEqual(done, Array.from({ length: total }, (_, i) => i + 1));
    assert.ok(log.syncs === log.batches && log.syncs < total / 10, `${log.syncs} fsyncs for ${total} txns`);
    await log.close();
    const [seg] = listFiles(dir, 'log');
    const scan = scanSegment(readFileSync(seg.path), 1 << 20);
    assert.equal(scan.end.kind, 'clean');
    assert.deepEqual(scan.records.map((r) => r.entry.header.zxid), done);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('segments roll by size and on request, each named by its first index', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-log-'));
  try {
    const log = openLog({ dir, forceSync: false, rollBytes: 4096, preallocBytes: 4096, onFatal: (e) => assert.fail(e) });
    for (let z = 1; z <= 200; z++) {
      log.append(z, 0, entry(z, { kind: 'create', path: `/n${z}`, data: Buffer.alloc(50), acl: ACL, ephemeralOwner: 0n, parentCVersion: z }), () => {});
      await log.sync();
      if (z === 150) log.roll();
    }
    await log.close();
    const segs = listFiles(dir, 'log');
    assert.ok(segs.length > 3, `${segs.length} segments`);
    assert.ok(segs.some((s) => s.index === 151), 'roll() started a segment at the next txn');
    let next = 1;
    for (const seg of segs) {
      const scan = scanSegment(readFileSync(seg.path), 1 << 20);
      assert.equal(scan.firstIndex, seg.index);
      for (const r of scan.records) assert.equal(r.entry.header.zxid, next++);
    }
    assert.equal(next, 201);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const pathArb = fc.stringMatching(/^\/[a-z0-9/]{0,20}$/);
const dataArb = fc.option(fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)), { nil: null });
const aclArb = fc.array(fc.record({ perms: fc.integer({ min: 0, max: 31 }), id: fc.record({ scheme: fc.constantFrom('world', 'digest', 'ip'), id: fc.string() }) }), { maxLength: 3 });
const simpleTxnArb: fc.Arbitrary<Txn> = fc.oneof(
  fc.record({ kind: fc.constant('create' as const), path: pathArb, data: dataArb, acl: aclArb, ephemeralOwner: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), parentCVersion: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), path: pathArb }),
  fc.record({ kind: fc.constant('setData' as const), path: pathArb, data: dataArb, version: fc.integer() }),
  fc.record({ kind: fc.constant('setACL' as const), path: pathArb, acl: aclArb, version: fc.integer() }),
  fc.record({ kind: fc.constant('check' as const), path: pathArb }),
  fc.record({ kind: fc.constant('error' as const), err: fc.integer({ min: -130, max: 0 }) }),
  fc.record({ kind: fc.constant('createSession' as const), timeoutMs: fc.integer({ min: 0, max: 1 << 30 }) }),
  fc.record({ kind: fc.constant('closeSession' as const), paths: fc.array(pathArb, { maxLength: 4 }) }),
);
const txnArb: fc.Arbitrary<Txn> = fc.oneof(
  simpleTxnArb,
  fc.record({ kind: fc.constant('multi' as const), ops: fc.array(fc.record({ type: fc.integer({ min: -1, max: 21 }), txn: simpleTxnArb }), { maxLength: 4 }) }),
);

/** A comparable rendering (fast-check builds objects without a prototype). */
const plain = (x: unknown): string => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v));

test('every txn reads back as it was written', () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 2 ** 40 }), fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), txnArb, (zxid, sessionId, txn) => {
    const e: TxnEntry = { header: { sessionId, cxid: 7, zxid, timeMs: 1_700_000_000_000, type: 5 }, txn };
    const w = new JuteWriter();
    writeTxnEntry(w, e);
    assert.equal(plain(readTxnEntry(new JuteReader(Buffer.from(w.bytes())))), plain(e));
  }), { seed: Number(process.env.ENSEMBLE_FUZZ_SEED ?? 42), numRuns: 500 });
});

test('a log that cannot be written reports it once, acknowledges nothing, and still closes', async () => {
  const fatal: Error[] = [];
  const log = openLog({ dir: join(tmpdir(), 'ensemble-no-such-dir', String(process.pid)), forceSync: true, rollBytes: 1 << 20, preallocBytes: 1 << 20, onFatal: (e) => fatal.push(e) });
  let acked = 0;
  for (let z = 1; z <= 10; z++) log.append(z, 0, entry(z, { kind: 'delete', path: '/x' }), () => acked++);
  await log.sync();
  await log.close();
  assert.equal(acked, 0);
  assert.equal(fatal.length, 1);
  assert.match(fatal[0].message, /ENOENT/);
});
