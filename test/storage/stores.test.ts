/**
 * The stores behind their interfaces: ranged reads and truncation of the file log, recovery's
 * rules of succession (an epoch boundary is fine, a gap is not), the hard state's atomic save, and
 * the in-memory twins — a crash loses exactly what was not yet durable.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { Environment } from '../../src/server/env/environment.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { FileLogStore } from '../../src/server/storage/file-log-store.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { FileHardStateStore, HardStateFormatError, MemoryHardStateStore } from '../../src/server/storage/hard-state.ts';
import { MemoryLogStore } from '../../src/server/storage/memory-log-store.ts';
import { recover, RecoveryError } from '../../src/server/storage/recovery.ts';
import { MemorySnapshotStore } from '../../src/server/storage/snapshot-stores.ts';
import type { HardStateStore, LogStore } from '../../src/server/storage/stores.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';

const EPOCH = 2 ** 32;
const work = mkdtempSync(join(tmpdir(), 'ensemble-stores-'));
after(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => {
  return mkdtempSync(join(work, `${dirs++}-`));
};

/** A create of /n<zxid>, with a session created first when zxid's counter is 1. */
function create(zxid: number): TxnEntry {
  return {
    header: { sessionId: 0n, cxid: 0, zxid, timeMs: 1_700_000_000_000, type: 1 },
    txn: { kind: 'create', path: `/n${zxid.toString(16)}`, data: Buffer.from('x'), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeralOwner: 0n, parentCVersion: 0 },
  };
}

function fileLog(dir: string, rollBytes = 1 << 20): FileLogStore {
  return new FileLogStore({ dir, forceSync: false, rollBytes, preallocBytes: 4096, maxRecordBytes: 1 << 20, onFatal: (e) => assert.fail(e) }, realEnvironment);
}

/** Appends entries (index, zxid) with term = the zxid's epoch; resolves once they are durable. */
async function appendAll(log: LogStore, entries: Array<[index: number, zxid: number]>): Promise<void> {
  for (const [index, zxid] of entries) log.append(index, Math.floor(zxid / EPOCH), create(zxid), () => {});
  await log.sync();
}

const recoverDir = (dir: string) => recover({ dataDir: dir, logDir: dir, extendedTypes: false, maxRecordBytes: 1 << 20, warn: () => {} });

test('ranged reads span segments; truncateAfter cuts the log durably and appends carry on after it', async () => {
  const dir = freshDir();
  const log = fileLog(dir, 512);
  for (let i = 1; i <= 40; i += 5) await appendAll(log, Array.from({ length: 5 }, (_, j) => [i + j, i + j]));
  assert.ok(listFiles(dir, 'log').length > 3, 'several segments');
  assert.deepEqual(log.entries(5, 12).map((e) => e.index), [5, 6, 7, 8, 9, 10, 11]);
  assert.deepEqual(log.entries(38, 100).map((e) => e.entry.header.zxid), [38, 39, 40]);
  assert.equal(log.firstIndex(), 1);
  assert.deepEqual(log.last(), { index: 40, term: 0, zxid: 40 });

  await log.truncateAfter(17);
  assert.deepEqual(log.last(), { index: 17, term: 0, zxid: 17 });
  assert.deepEqual(log.entries(1, 100).map((e) => e.index), Array.from({ length: 17 }, (_, i) => i + 1));
  // The next entries come from a new leader: a later epoch.
  await appendAll(log, [[18, 3 * EPOCH], [19, 3 * EPOCH + 1]]);
  await log.close();
  const r = recoverDir(dir);
  assert.deepEqual(r.last, { index: 19, term: 3, zxid: 3 * EPOCH + 1 });
  assert.equal(r.replayed, 19);
  assert.ok(r.tree.get('/n11') && !r.tree.get('/n12') && r.tree.get(`/n${(3 * EPOCH).toString(16)}`));
});

test('recovery takes an epoch boundary (any counter in the later epoch) and rejects a gap', async () => {
  const ok = freshDir();
  await appendAll(fileLog(ok), [[1, 1], [2, 2], [3, EPOCH + 7], [4, EPOCH + 8], [5, 5 * EPOCH]]);
  assert.equal(recoverDir(ok).lastZxid, 5 * EPOCH);

  // A zxid missing in the same epoch, inside a segment.
  const zxidGap = freshDir();
  await appendAll(fileLog(zxidGap), [[1, 1], [2, 2], [3, 4], [4, 5]]);
  assert.throws(() => recoverDir(zxidGap), (err) => err instanceof RecoveryError && /zxid 0x4 does not follow 0x2/.test(err.message));

  // An epoch going back is no boundary.
  const backwards = freshDir();
  await appendAll(fileLog(backwards), [[1, 2 * EPOCH], [2, EPOCH + 1]]);
  assert.throws(() => recoverDir(backwards), (err) => err instanceof RecoveryError && /zxid 0x100000001 does not follow 0x200000000/.test(err.message));

  // Indexes missing between segments (each start opens a segment named by its first index).
  const indexGap = freshDir();
  await appendAll(fileLog(indexGap), [[1, 1], [2, 2]]);
  const later = new FileLogStore({ dir: indexGap, forceSync: false, rollBytes: 1 << 20, preallocBytes: 4096, maxRecordBytes: 1 << 20, onFatal: assert.fail }, realEnvironment, { index: 3, term: 0, zxid: 3 });
  await appendAll(later, [[4, 4]]);
  assert.throws(() => recoverDir(indexGap), (err) => err instanceof RecoveryError && /index 0x4 follows 0x2/.test(err.message));
});

test('hard state: saved atomically, read back, a leftover temp file changes nothing, damage is refused', () => {
  const dir = freshDir();
  const check = (store: HardStateStore): void => {
    assert.deepEqual(store.load(), { term: 0, vote: 0, commit: 0 });
    store.save({ term: 3, vote: 2, commit: 17 });
    store.save({ term: 4, vote: 0, commit: 2 ** 40 });
    assert.deepEqual(store.load(), { term: 4, vote: 0, commit: 2 ** 40 });
  };
  check(new FileHardStateStore(dir));
  check(new MemoryHardStateStore());
  // A crash between writing the temp file and the rename leaves it behind: the saved state stands.
  writeFileSync(join(dir, 'hardstate.tmp'), 'half written');
  assert.deepEqual(new FileHardStateStore(dir).load(), { term: 4, vote: 0, commit: 2 ** 40 });
  writeFileSync(join(dir, 'hardstate'), Buffer.alloc(36, 1));
  assert.throws(() => new FileHardStateStore(dir).load(), HardStateFormatError);
});

/** An environment whose `soon` runs only when the test says. */
function steppedEnv(): Environment & { run(): void } {
  const queue: Array<() => void> = [];
  return {
    ...realEnvironment,
    scheduler: { ...realEnvironment.scheduler, soon: (fn) => void queue.push(fn) },
    run: () => {
      while (queue.length > 0) queue.shift()!();
    },
  };
}

test('memory log: a batch is durable once the scheduler runs it; crash() drops what was not', async () => {
  const env = steppedEnv();
  const log = new MemoryLogStore(env);
  const acked: number[] = [];
  for (let i = 1; i <= 3; i++) log.append(i, 0, create(i), () => acked.push(i));
  assert.deepEqual(log.entries(1, 10), [], 'nothing durable before the batch completes');
  env.run();
  assert.deepEqual(acked, [1, 2, 3]);
  assert.equal(log.batches, 1);
  for (let i = 4; i <= 5; i++) log.append(i, 1, create(EPOCH + i), () => acked.push(i));
  assert.deepEqual(log.last(), { index: 5, term: 1, zxid: EPOCH + 5 });
  log.crash();
  env.run();
  assert.deepEqual(acked, [1, 2, 3], 'the lost entries are never acknowledged');
  assert.deepEqual(log.last(), { index: 3, term: 0, zxid: 3 });
  assert.deepEqual(log.entries(1, 10).map((e) => e.index), [1, 2, 3]);
  // After the crash the log carries on from what was durable.
  log.append(4, 2, create(2 * EPOCH), () => acked.push(4));
  const synced = log.sync();
  env.run();
  await synced;
  assert.deepEqual(acked, [1, 2, 3, 4]);
  await log.truncateAfter(2);
  assert.deepEqual(log.entries(0, 10).map((e) => e.index), [1, 2]);
  assert.equal(log.firstIndex(), 1);
});

test('memory snapshots: the newest intact one loads, with its settings and position; a damaged one is skipped', () => {
  const store = new MemorySnapshotStore(realEnvironment);
  const tree = new DataTree({ extendedTypes: true, sessionSecret: Buffer.alloc(32, 7) });
  tree.apply(create(1));
  store.saveNow(tree, { index: 1, term: 0, zxid: 1, timeMs: 5 });
  tree.apply(create(2));
  store.saveNow(tree, { index: 9, term: 4, zxid: 2, timeMs: 6 });
  assert.deepEqual(store.list().map((l) => l.index), [1, 9]);
  const newest = store.loadNewest(false, assert.fail)!;
  assert.deepEqual([newest.index, newest.term, newest.zxid], [9, 4, 2]);
  assert.deepEqual(newest.settings, { extendedTypes: true, sessionSecret: Buffer.alloc(32, 7) });
  assert.ok(newest.tree.get('/n2'));
  store.bytesOf(9)![60] ^= 0xff;
  const warnings: string[] = [];
  const older = store.loadNewest(false, (w) => warnings.push(w))!;
  assert.equal(older.index, 1);
  assert.ok(!older.tree.get('/n2'));
  assert.match(warnings[0], /snapshot\.9 is damaged/);
});
