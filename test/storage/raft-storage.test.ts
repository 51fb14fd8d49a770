/**
 * A member's consensus storage: the same behaviour from the files and from the in-memory twin
 * (round trips, tails replaced, group commit, reset, compaction), then what only files have (torn
 * writes, damage, segments), and a random walk of both against a model.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import fc from 'fast-check';
import { realEnvironment } from '../../src/server/env/real.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import type { Entry, HardState } from '../../src/server/quorum/core/types.ts';
import { FileRaftStorage, RAFT_LOG_HEADER_BYTES, RAFT_RECORD_HEADER_BYTES, type FileRaftStorageOptions } from '../../src/server/quorum/file-raft-storage.ts';
import { MemoryRaftStorage, type RaftStorage, type RaftStorageStats } from '../../src/server/quorum/raft-storage.ts';

type Storage = RaftStorage & { stats: RaftStorageStats };

interface Harness {
  name: string;
  /** A fresh storage, not yet loaded. */
  open(): Storage;
  /** The same durable state, as a restart finds it (everything persisted so far is durable). */
  restart(s: Storage): Promise<Storage>;
  cleanup(): void;
}

function fileOptions(dir: string, more: Partial<FileRaftStorageOptions> = {}): FileRaftStorageOptions {
  return { dir, forceSync: true, rollBytes: 2048, preallocBytes: 4096, maxRecordBytes: 1 << 20, onFatal: (e) => assert.fail(e), ...more };
}

function fileHarness(): Harness {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-raft-'));
  return {
    name: 'files',
    open: () => new FileRaftStorage(fileOptions(dir), realEnvironment),
    restart: async (s) => {
      await s.close();
      return new FileRaftStorage(fileOptions(dir), realEnvironment);
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function memoryHarness(): Harness {
  return {
    name: 'memory',
    open: () => new MemoryRaftStorage(realEnvironment),
    restart: async (s) => {
      await s.close();
      (s as MemoryRaftStorage).crash();
      return s;
    },
    cleanup: () => {},
  };
}

const payload = (index: number, term: number, bytes = 40): Entry => ({ index, term, data: Buffer.alloc(bytes, (index * 7 + term) & 0xff) });
const noop = (index: number, term: number): Entry => ({ index, term, data: null });
const conf = (index: number, term: number): Entry => ({ index, term, data: null, conf: { voters: [1, 2, 3], learners: [index] } });
const run = (from: number, to: number, term: number, bytes = 40): Entry[] => Array.from({ length: to - from + 1 }, (_, i) => payload(from + i, term, bytes));
const hs = (term: number, vote: number, commit: number): HardState => ({ term, vote, commit });

function persisted(s: RaftStorage, entries: readonly Entry[], hardState: HardState | null = null): Promise<void> {
  return new Promise((resolve) => s.persist(entries, hardState, resolve));
}

/** Indexes and terms of a log, for short comparisons. */
const shape = (entries: readonly Entry[]): string => entries.map((e) => `${e.index}:${e.term}`).join(' ');

for (const make of [fileHarness, memoryHarness]) {
  const kind = make().name;

  test(`${kind}: every kind of entry and the hard state read back after a restart`, async () => {
    const h = make();
    try {
      let s = h.open();
      assert.deepEqual(s.load(), { hardState: hs(0, 0, 0), entries: [], lost: false });
      const written = [noop(1, 1), conf(2, 1), payload(3, 1), { index: 4, term: 2, data: Buffer.alloc(0) }, payload(5, 2, 3000), noop(6, 3)];
      await persisted(s, written.slice(0, 3), hs(1, 1, 0));
      await persisted(s, written.slice(3), hs(3, 2, 4));
      s = await h.restart(s);
      const back = s.load();
      assert.deepEqual(back.hardState, hs(3, 2, 4));
      assert.deepEqual(back.entries, written);
      await s.close();
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: entries replace the log's tail from their first index, across segments`, async () => {
    const h = make();
    try {
      let s = h.open();
      s.load();
      await persisted(s, run(1, 120, 1), hs(1, 1, 50));
      // From the middle: 61 on, term 2, shorter than what it replaces.
      await persisted(s, run(61, 80, 2), hs(2, 2, 60));
      s = await h.restart(s);
      let back = s.load();
      assert.equal(shape(back.entries), shape([...run(1, 60, 1), ...run(61, 80, 2)]));
      assert.deepEqual(back.entries.at(-1), payload(80, 2));
      assert.deepEqual(back.hardState, hs(2, 2, 60));
      // Far back (most segments go), then past the end again.
      await persisted(s, run(3, 200, 3, 60), hs(3, 3, 60));
      await persisted(s, run(150, 151, 4), null);
      s = await h.restart(s);
      back = s.load();
      assert.equal(shape(back.entries), shape([...run(1, 2, 1), ...run(3, 149, 3), ...run(150, 151, 4)]));
      // Everything, from index 1.
      await persisted(s, [noop(1, 5)], hs(5, 0, 1));
      s = await h.restart(s);
      assert.deepEqual(s.load(), { hardState: hs(5, 0, 1), entries: [noop(1, 5)], lost: false });
      await s.close();
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: calls made before the first is durable go together; dones in call order`, async () => {
    const h = make();
    try {
      let s = h.open();
      s.load();
      const done: number[] = [];
      const calls = 500;
      for (let i = 1; i <= calls; i++) {
        s.persist([payload(i, 1)], hs(1, 1, i - 1), () => done.push(i));
        if (i % 50 === 0) await new Promise((r) => setImmediate(r)); // arrivals spread over time
      }
      // Within one batch: a later call replaces what an earlier one gave.
      s.persist(run(491, 510, 2), null, () => done.push(-1));
      s.persist([], hs(2, 2, 495), () => done.push(-2));
      await s.close();
      assert.deepEqual(done, [...Array.from({ length: calls }, (_, i) => i + 1), -1, -2]);
      assert.ok(s.stats.entryWrites < calls / 5, `${s.stats.entryWrites} writes for ${calls} calls`);
      assert.ok(s.stats.hardStateWrites <= s.stats.batches);
      s = await h.restart(s);
      const back = s.load();
      assert.equal(shape(back.entries), shape([...run(1, 490, 1), ...run(491, 510, 2)]));
      assert.deepEqual(back.hardState, hs(2, 2, 495));
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: a hard state with nothing to persist before it, and an unchanged one, are not written again`, async () => {
    const h = make();
    try {
      const s = h.open();
      s.load();
      await persisted(s, [], hs(1, 2, 0));
      await persisted(s, [], hs(1, 2, 0));
      await persisted(s, [], null);
      assert.equal(s.stats.hardStateWrites, 1);
      assert.equal(s.stats.entryWrites, 0);
      assert.deepEqual((await h.restart(s)).load().hardState, hs(1, 2, 0));
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: a snapshot's reset replaces the whole log; the log goes on after it`, async () => {
    const h = make();
    try {
      let s = h.open();
      s.load();
      await persisted(s, run(1, 30, 1), hs(1, 1, 30));
      s.reset(100);
      assert.throws(() => s.persist([payload(100, 2)], null, () => {}), /covered by the snapshot/);
      await persisted(s, run(101, 110, 2), hs(2, 1, 105));
      s = await h.restart(s);
      let back = s.load();
      assert.equal(shape(back.entries), shape(run(101, 110, 2)));
      assert.deepEqual(back.hardState, hs(2, 1, 105));
      // A reset with nothing after it: an empty log that still ends at the snapshot.
      s.reset(200);
      await persisted(s, [], hs(3, 1, 200));
      s = await h.restart(s);
      const warnings: string[] = [];
      back = s.load((m) => warnings.push(m));
      assert.deepEqual(back, { hardState: hs(3, 1, 200), entries: [], lost: false });
      assert.deepEqual(warnings, []);
      await persisted(s, [noop(201, 3)], null);
      assert.equal(shape((await h.restart(s)).load().entries), '201:3');
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: compaction keeps every entry after the index, and the last one`, async () => {
    const h = make();
    try {
      let s = h.open();
      s.load();
      for (let i = 1; i <= 200; i += 10) await persisted(s, run(i, i + 9, 1), hs(1, 1, i + 9));
      s.compact(150);
      await persisted(s, run(201, 210, 1), hs(1, 1, 210));
      s = await h.restart(s);
      let back = s.load();
      assert.ok(back.entries[0].index <= 151 && back.entries[0].index > 1, `first ${back.entries[0].index}`);
      assert.equal(shape(back.entries), shape(run(back.entries[0].index, 210, 1)));
      s.compact(1000);
      s = await h.restart(s);
      back = s.load();
      assert.equal(back.entries.at(-1)?.index ?? 210, 210);
      assert.equal(back.hardState.commit, 210);
      await persisted(s, [noop(211, 2)], null);
      assert.equal((await h.restart(s)).load().entries.at(-1)!.index, 211);
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: a commit index past the log's end is lowered to it, with a warning, and entries known committed are lost`, async () => {
    const h = make();
    try {
      let s = h.open();
      s.load();
      await persisted(s, run(1, 10, 1), hs(1, 1, 10));
      // Not something consensus does (committed entries are never replaced): the store must cope.
      await persisted(s, [noop(5, 2)], null);
      s = await h.restart(s);
      const warnings: string[] = [];
      const back = s.load((m) => warnings.push(m));
      assert.deepEqual(back.hardState, hs(1, 1, 5));
      assert.equal(warnings.length, 1);
      assert.match(warnings[0], /commit index 10 is past the log's last entry 5/);
      assert.equal(back.lost, true, 'the member must recover them from its leader');
    } finally {
      h.cleanup();
    }
  });

  test(`${kind}: entries that would leave a gap, are not contiguous or cannot be written are refused`, async () => {
    const h = make();
    try {
      const s = h.open();
      s.load();
      s.persist(run(1, 3, 1), null, () => {});
      assert.throws(() => s.persist([payload(5, 1)], null, () => {}), /gap after 3/);
      assert.throws(() => s.persist([payload(4, 1), payload(6, 1)], null, () => {}), /not contiguous/);
      assert.throws(() => s.persist([{ ...conf(4, 1), data: Buffer.from('x') }], null, () => {}), /carries no payload/);
      await s.close();
    } finally {
      h.cleanup();
    }
  });
}

// ---- files only ----

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ensemble-raft-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

function openFiles(dir: string, more: Partial<FileRaftStorageOptions> = {}): FileRaftStorage {
  return new FileRaftStorage(fileOptions(dir, more), realEnvironment);
}

test('files: the format on disk, as documented', withDir(async (dir) => {
  const s = openFiles(dir);
  s.load();
  await persisted(s, [noop(1, 7), payload(2, 7, 3), conf(3, 7)], null);
  await s.close();
  const [seg] = listFiles(dir, 'raft-log');
  assert.equal(seg.path, join(dir, 'raft-log.1'));
  const buf = readFileSync(seg.path);
  assert.equal(buf.subarray(0, 16).toString('hex'), '45524c47' + '00000001' + '0000000000000001');
  let o = RAFT_LOG_HEADER_BYTES;
  const expect = [[0, 0], [3, 1], [8 + 4 * 4, 2]];
  for (const [length, kind] of expect) {
    assert.equal(buf.readUInt32BE(o), length);
    assert.equal(buf[o + 24], kind);
    o += RAFT_RECORD_HEADER_BYTES + length;
  }
  assert.equal(buf.readUInt32BE(o - 24), 3, 'voters count');
  assert.ok(buf.subarray(o).every((b) => b === 0), 'zeros after the last record');
}));

test('files: a crash at any byte of the last record reads back a prefix, and the log goes on', withDir(async (dir) => {
  const s = openFiles(dir, { rollBytes: 1 << 20 });
  s.load();
  const written = [noop(1, 1), payload(2, 1, 30), conf(3, 2), payload(4, 2, 50)];
  await persisted(s, written, hs(2, 1, 3));
  await s.close();
  const [seg] = listFiles(dir, 'raft-log');
  const original = readFileSync(seg.path);
  const lastStart = RAFT_LOG_HEADER_BYTES + (RAFT_RECORD_HEADER_BYTES * 3 + 30 + 24);
  const lastEnd = lastStart + RAFT_RECORD_HEADER_BYTES + 50;
  for (const zeroFill of [false, true]) {
    for (let cut = lastStart; cut <= lastEnd; cut++) {
      // The record cut short: the file ends there, or (preallocated) zeros follow.
      const torn = zeroFill ? Buffer.concat([original.subarray(0, cut), Buffer.alloc(original.length - cut)]) : original.subarray(0, cut);
      writeFileSync(seg.path, torn);
      const warnings: string[] = [];
      const r = openFiles(dir);
      const back = r.load((m) => warnings.push(m));
      const whole = cut === lastEnd;
      assert.deepEqual(back.entries, whole ? written : written.slice(0, 3), `cut at ${cut}`);
      assert.equal(back.hardState.commit, 3);
      // Zeros where the record began read as the log's clean end; anything else is a torn write.
      const tornWarned = warnings.some((m) => /torn write at offset \d+/.test(m));
      assert.equal(tornWarned, !whole && original.subarray(lastStart, cut).some((b) => b !== 0), `cut at ${cut}: ${warnings.join('; ')}`);
      if (cut % 17 === 0 || whole) {
        // The cut is durable and the log continues after it.
        await persisted(r, [payload(back.entries.length + 1, 3)], null);
        await r.close();
        const again = openFiles(dir).load((m) => assert.fail(m));
        assert.equal(shape(again.entries), shape([...back.entries, payload(back.entries.length + 1, 3)]));
      } else {
        await r.close();
      }
    }
  }
}));

test('files: a damaged record with intact ones after it is refused, naming the file and offset', withDir(async (dir) => {
  const s = openFiles(dir, { rollBytes: 1 << 20 });
  s.load();
  await persisted(s, run(1, 10, 1), null);
  await s.close();
  const [seg] = listFiles(dir, 'raft-log');
  const buf = readFileSync(seg.path);
  const fifth = RAFT_LOG_HEADER_BYTES + 4 * (RAFT_RECORD_HEADER_BYTES + 40);
  buf[fifth + RAFT_RECORD_HEADER_BYTES + 3] ^= 0x40;
  writeFileSync(seg.path, buf);
  assert.throws(() => openFiles(dir).load(), (err: Error) => err.message.includes(seg.path) && err.message.includes(`damaged record at offset ${fifth} (checksum mismatch) with intact records after it`));
}));

test('files: a torn segment that is not the last, or a missing one, is refused', withDir(async (dir) => {
  const s = openFiles(dir, { rollBytes: 300 });
  s.load();
  for (let i = 1; i <= 30; i++) await persisted(s, [payload(i, 1)], null);
  await s.close();
  const segs = listFiles(dir, 'raft-log');
  assert.ok(segs.length >= 4, `${segs.length} segments`);
  const copy = readFileSync(segs[1].path);
  truncateSync(segs[1].path, RAFT_LOG_HEADER_BYTES + 4 * (RAFT_RECORD_HEADER_BYTES + 40) + 10);
  assert.throws(() => openFiles(dir).load(), /not the last/);
  writeFileSync(segs[1].path, copy);
  rmSync(segs[2].path);
  assert.throws(() => openFiles(dir).load(), new RegExp(`starts at index ${segs[3].index} but the log before it ends at ${segs[2].index - 1}`));
}));

test('files: the newest segment without a header (a crash creating it) is removed with a warning', withDir(async (dir) => {
  const s = openFiles(dir);
  s.load();
  await persisted(s, run(1, 5, 1), null);
  await s.close();
  writeFileSync(join(dir, 'raft-log.6'), Buffer.alloc(7));
  const warnings: string[] = [];
  const r = openFiles(dir);
  assert.equal(r.load((m) => warnings.push(m)).entries.length, 5);
  assert.match(warnings.join(), /raft-log\.6: no header/);
  await persisted(r, [payload(6, 1)], null);
  await r.close();
  assert.equal(openFiles(dir).load().entries.length, 6);
}));

test('files: segments roll by size; compaction deletes whole segments below the index', withDir(async (dir) => {
  const s = openFiles(dir, { rollBytes: 500 });
  s.load();
  for (let i = 1; i <= 100; i += 5) await persisted(s, run(i, i + 4, 1), null);
  const before = listFiles(dir, 'raft-log');
  assert.ok(before.length >= 8, `${before.length} segments`);
  const cutAt = before[4].index + 2; // inside the fifth segment
  s.compact(cutAt);
  const after = listFiles(dir, 'raft-log');
  assert.deepEqual(after.map((f) => f.index), before.slice(4).map((f) => f.index));
  // All covered: the last segment stays, and the next batch starts a new one.
  s.compact(100);
  assert.equal(listFiles(dir, 'raft-log').length, 1);
  await persisted(s, [payload(101, 1)], null);
  assert.deepEqual(listFiles(dir, 'raft-log').map((f) => f.index).at(-1), 101);
  s.compact(100);
  assert.deepEqual(listFiles(dir, 'raft-log').map((f) => f.index), [101]);
  await s.close();
  assert.equal(shape(openFiles(dir).load().entries), '101:1');
}));

test('files: one durable write per batch, whatever the calls in it', withDir(async (dir) => {
  const s = openFiles(dir, { rollBytes: 1 << 20 });
  s.load();
  for (let i = 1; i <= 1000; i++) s.persist([payload(i, 1)], hs(1, 1, i), () => {});
  await s.close();
  assert.equal(s.stats.batches, 1);
  assert.equal(s.stats.entryWrites, 1);
  assert.equal(s.stats.hardStateWrites, 1);
}));

// ---- the memory twin only ----

test('memory: a crash loses what was not durable, or keeps a prefix of a batch cut short', async () => {
  const s = new MemoryRaftStorage(realEnvironment);
  await persisted(s, run(1, 5, 1), hs(1, 1, 5));
  let ran = false;
  s.persist(run(4, 8, 2), hs(2, 2, 6), () => (ran = true));
  s.crash();
  await new Promise((r) => setImmediate(r));
  assert.equal(ran, false);
  assert.equal(shape(s.load().entries), shape(run(1, 5, 1)));
  s.persist(run(4, 8, 2), hs(2, 2, 6), () => (ran = true));
  s.crash(2);
  const back = s.load();
  assert.equal(shape(back.entries), shape([...run(1, 3, 1), ...run(4, 5, 2)]));
  assert.deepEqual(back.hardState, hs(1, 1, 5));
});

// ---- both against a model ----

type Op =
  | { op: 'persist'; back: number; count: number; commit: boolean }
  | { op: 'reset'; ahead: number }
  | { op: 'compact'; back: number }
  | { op: 'restart' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('persist' as const), back: fc.nat(12), count: fc.nat(12), commit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('reset' as const), ahead: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('compact' as const), back: fc.nat(20) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('restart' as const) }) },
);

test('files and memory agree with a model over random persists, resets, compactions and restarts', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 25 }), async (ops) => {
      const harnesses = [fileHarness(), memoryHarness()];
      try {
        const stores = harnesses.map((h) => h.open());
        stores.forEach((s) => s.load());
        // The model: the log after the snapshot floor, and the hard state.
        let log: Entry[] = [];
        let floor = 0;
        let term = 1;
        let state = hs(0, 0, 0);
        /** Entries after this must all be kept (and the last one). */
        let compactedTo = 0;
        const last = () => log.at(-1)?.index ?? floor;
        for (const o of ops) {
          if (o.op === 'persist') {
            const from = Math.max(floor + 1, last() + 1 - o.back);
            term++;
            const entries = Array.from({ length: o.count }, (_, i) => (i % 3 === 2 ? noop(from + i, term) : payload(from + i, term, 20 + i)));
            log = [...log.filter((e) => e.index < from || o.count === 0), ...entries];
            if (o.commit) state = hs(term, 1, Math.max(floor, last() - 1));
            stores.forEach((s) => s.persist(entries, o.commit ? state : null, () => {}));
          } else if (o.op === 'reset') {
            floor = compactedTo = last() + o.ahead;
            log = [];
            stores.forEach((s) => s.reset(floor));
          } else if (o.op === 'compact') {
            const index = last() - o.back;
            compactedTo = Math.max(compactedTo, Math.min(index, last() - 1));
            stores.forEach((s) => s.compact(index));
          } else {
            for (let i = 0; i < stores.length; i++) {
              stores[i] = await harnesses[i].restart(stores[i]);
              const back = stores[i].load();
              const first = back.entries[0]?.index ?? last() + 1;
              assert.ok(log.length === 0 || first <= Math.max(compactedTo + 1, log[0].index), `first ${first}, compacted to ${compactedTo}`);
              const want = log.filter((e) => e.index >= first);
              assert.equal(shape(back.entries), shape(want), harnesses[i].name);
              assert.deepEqual(back.entries, want, harnesses[i].name);
              assert.deepEqual(back.hardState, { ...state, commit: Math.min(state.commit, last()) }, harnesses[i].name);
            }
          }
        }
        await Promise.all(stores.map((s) => s.close()));
      } finally {
        harnesses.forEach((h) => h.cleanup());
      }
    }),
    { numRuns: 60 },
  );
});
