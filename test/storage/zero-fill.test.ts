/**
 * Log segments grow by zeros written ahead of their appends, never sparsely: every byte of a
 * segment is allocated, what follows the records is zeros, and the records read back whole
 * across many growths (a fill that reached back over a record would break its checksum).
 */
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { realEnvironment } from '../../src/server/env/real.ts';
import { FileRaftStorage } from '../../src/server/quorum/file-raft-storage.ts';
import type { Entry } from '../../src/server/quorum/core/types.ts';
import { FileLogStore } from '../../src/server/storage/file-log-store.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { isZeros } from '../../src/server/storage/segment.ts';
import { growSegment, SegmentZeros, ZERO_FILL_MAX_BYTES } from '../../src/server/storage/zero-fill.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';

const work = mkdtempSync(join(tmpdir(), 'ensemble-zero-fill-'));
after(() => rmSync(work, { recursive: true, force: true }));
let dirs = 0;
const freshDir = (): string => mkdtempSync(join(work, `${dirs++}-`));

/** Every block of the file is allocated: no part of it is a hole (the last block may be partial). */
function assertNoHoles(path: string): void {
  const st = statSync(path);
  assert.ok(st.blocks * 512 >= st.size - 4096, `${path}: ${st.size} bytes long, ${st.blocks * 512} allocated`);
}

test('growSegment writes zeros from where they ended, a MiB at most past the append, and never before', () => {
  const path = join(freshDir(), 'segment');
  writeFileSync(path, Buffer.alloc(100, 7));
  assert.equal(growSegment(path, 100, 50, 4096), 100, 'an append within the zeros grows nothing');
  assert.equal(growSegment(path, 100, 300, 4096), 300 + 4096);
  assert.equal(growSegment(path, 4396, 4396 + 10, 64 * 1024 * 1024), 4396 + 10 + ZERO_FILL_MAX_BYTES, 'a large preAllocSize is capped');
  const bytes = readFileSync(path);
  assert.equal(bytes.length, 4406 + ZERO_FILL_MAX_BYTES);
  assert.deepEqual(bytes.subarray(0, 100), Buffer.alloc(100, 7), 'what was there before is untouched');
  assert.ok(isZeros(bytes, 100, bytes.length));
  assertNoHoles(path);
});

const prepared = (zeros: SegmentZeros, end: number): Promise<boolean> => {
  let sync = false;
  const p = new Promise<boolean>((resolve, reject) => {
    zeros.prepare(end, (err) => (err === null ? resolve(sync) : reject(err)));
  });
  sync = true;
  return p.then((wasSync) => !wasSync);
};

test('SegmentZeros writes the next zeros off the event loop, and an append reaching into a fill in flight waits for it', async () => {
  const path = join(freshDir(), 'segment');
  writeFileSync(path, Buffer.alloc(100, 7));
  const zeros = new SegmentZeros(8192);
  zeros.use(path, 100);
  assert.equal(await prepared(zeros, 200), true, 'no zeros yet: written at once, synchronously');
  assert.equal(statSync(path).size, 200 + 8192);
  // Less than half a growth left ahead: the next one is in flight...
  assert.equal(await prepared(zeros, 200 + 8192 - 100), true);
  // ...and an append past the zeros written so far waits for it instead of writing zeros itself.
  assert.equal(await prepared(zeros, 200 + 8192 + 10), false, 'waited for the fill in flight');
  await zeros.settled();
  assert.ok(statSync(path).size >= 200 + 8192 + 10);
  const bytes = readFileSync(path);
  assert.deepEqual(bytes.subarray(0, 100), Buffer.alloc(100, 7));
  assert.ok(isZeros(bytes, 100, bytes.length));
  assertNoHoles(path);
});

test('appends prepared by SegmentZeros are never overwritten by its zeros, through cuts and fills in flight', async () => {
  for (let seed = 1; seed <= 5; seed++) {
    const path = join(freshDir(), 'segment');
    writeFileSync(path, Buffer.alloc(0));
    const zeros = new SegmentZeros(4096 << (seed % 3));
    zeros.use(path, 0);
    let end = 0;
    let rnd = seed * 7919;
    const next = (n: number): number => ((rnd = (rnd * 1103515245 + 12345) & 0x7fffffff) % n);
    for (let i = 0; i < 300; i++) {
      if (next(25) === 0 && end > 0) {
        // A cut: the file is truncated and appends go on from there, as after a conflicting tail.
        end = next(end);
        truncateSync(path, end);
        zeros.use(path, statSync(path).size);
      }
      const len = 1 + next(next(10) === 0 ? 6000 : 300);
      const at = end;
      end += len;
      await new Promise<void>((resolve, reject) => zeros.prepare(end, (err) => {
        if (err !== null) return reject(err);
        const fd = openSync(path, 'r+');
        writeSync(fd, Buffer.alloc(len, (i % 250) + 1), 0, len, at);
        closeSync(fd);
        resolve();
      }));
      // Sometimes the next append comes before the fill it started has ended.
      if (next(2) === 0) await new Promise((r) => setImmediate(r));
    }
    await zeros.settled();
    const bytes = readFileSync(path);
    assert.ok(bytes.length >= end);
    // Every byte appended since the last cut is non-zero, and the zeros follow.
    for (let o = 0; o < end; o++) if (bytes[o] === 0) assert.fail(`seed ${seed}: byte ${o} of ${end} appended is zero: a fill wrote over an append`);
    assert.ok(isZeros(bytes, end, bytes.length), `seed ${seed}: zeros after the appends`);
  }
});

const payload = (index: number, bytes: number): Entry => ({ index, term: 1, data: Buffer.alloc(bytes, index & 0xff) });

test('a member log grown many times reads back whole, with zeros and no holes after its records', async () => {
  const dir = freshDir();
  const options = { dir, forceSync: true, rollBytes: 1 << 30, preallocBytes: 64 * 1024, maxRecordBytes: 1 << 20, onFatal: (e: Error) => assert.fail(e) };
  const storage = new FileRaftStorage(options, realEnvironment);
  storage.load();
  const written: Entry[] = [];
  // Batches of uneven sizes, some larger than the growth step, so appends end on both sides of it.
  for (let b = 0, index = 1; b < 40; b++) {
    const batch = Array.from({ length: 1 + (b % 7) * 3 }, (_, i) => payload(index + i, 1 + ((b * 37 + i * 101) % (b % 5 === 0 ? 90_000 : 2_000))));
    index += batch.length;
    written.push(...batch);
    await new Promise<void>((resolve) => storage.persist(batch, null, resolve));
  }
  await storage.close();
  const [segment] = listFiles(dir, 'raft-log');
  assertNoHoles(segment.path);
  const reopened = new FileRaftStorage(options, realEnvironment);
  const back = reopened.load().entries;
  assert.equal(back.length, written.length);
  for (let i = 0; i < written.length; i++) assert.deepEqual(back[i], written[i], `entry ${written[i].index}`);
  await reopened.close();
});

function create(index: number, bytes: number): TxnEntry {
  return {
    header: { sessionId: 0n, cxid: 0, zxid: index, timeMs: 1_700_000_000_000, type: 1 },
    txn: { kind: 'create', path: `/n${index}`, data: Buffer.alloc(bytes, index & 0xff), acl: [{ perms: 31, id: { scheme: 'world', id: 'anyone' } }], ephemeralOwner: 0n, parentCVersion: 0 },
  };
}

test('a standalone log grown many times reads back whole, with no holes', async () => {
  const dir = freshDir();
  const log = new FileLogStore({ dir, forceSync: true, rollBytes: 1 << 30, preallocBytes: 32 * 1024, maxRecordBytes: 1 << 20, onFatal: (e) => assert.fail(e) }, realEnvironment);
  const sizes = [0];
  for (let b = 0; b < 30; b++) {
    for (let i = 0; i < 1 + (b % 4) * 5; i++) {
      const index = sizes.length;
      sizes.push((index * 53) % (b % 6 === 0 ? 40_000 : 1_500));
      log.append(index, 0, create(index, sizes[index]), () => {});
    }
    await log.sync();
  }
  const back = log.entries(1, sizes.length);
  assert.equal(back.length, sizes.length - 1);
  for (const e of back) assert.deepEqual(e.entry, create(e.index, sizes[e.index]), `entry ${e.index}`);
  await log.close();
  for (const f of listFiles(dir, 'log')) assertNoHoles(f.path);
});
