import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OpCode } from '../../src/protocol/constants.ts';
import { copiedCapacity, grownCapacity, inHashTableOrder, javaStringHash, spreadHash } from '../../src/server/java-hash.ts';
import { readSnapshot, writeSnapshot } from '../../src/server/storage/snapshot.ts';
import { DataTree, EphemeralSet } from '../../src/server/tree/data-tree.ts';

const words = (s: string): string[] => s.split(' ');

test('table sizes: grown at 3/4 load, and a copy sized for its entries (Java 17)', () => {
  assert.deepEqual([0, 12, 13, 24, 25, 48, 49].map((n) => grownCapacity(n)), [16, 16, 32, 32, 64, 64, 128]);
  // (int)(size / 0.75f + 1), rounded up to a power of two.
  assert.deepEqual([1, 2, 3, 5, 6, 11, 12, 15, 24].map(copiedCapacity), [2, 4, 8, 8, 16, 16, 32, 32, 64]);
});

test('inHashTableOrder: buckets of the last table, then of the source table, then insertion', () => {
  const items = ['a', 'b', 'c', 'd'];
  const spreads = [0b0101, 0b0001, 0b1101, 0b0001];
  assert.deepEqual(inHashTableOrder(items, spreads, [16]), ['b', 'd', 'a', 'c']);
  // Copied into a table of 4: all share bucket 1; the source's order (by its 16 buckets) is kept.
  assert.deepEqual(inHashTableOrder(items, spreads, [16, 4]), ['b', 'd', 'a', 'c']);
  assert.deepEqual(inHashTableOrder(items, spreads, [2]), ['a', 'b', 'c', 'd']);
  assert.equal(spreadHash(javaStringHash('zookeeper')), 1600681804 ^ (1600681804 >>> 16));
});

test('EphemeralSet lists paths as (HashSet) clone() does on Java 17', () => {
  // Expected lists printed by Java 17: the same adds and removes on a HashSet<String>, then
  // new ArrayList<>((HashSet<String>) set.clone()).
  const s = new EphemeralSet();
  for (let i = 0; i < 30; i++) s.add(`/r/p${i % 3}/e${i}`);
  assert.equal(s.capacity, 64);
  assert.deepEqual(s.inZooKeeperOrder(), words(
    '/r/p1/e22 /r/p1/e4 /r/p1/e25 /r/p1/e7 /r/p1/e28 /r/p0/e15 /r/p2/e20 /r/p2/e23 /r/p0/e12 /r/p2/e26 /r/p2/e29 ' +
    '/r/p1/e1 /r/p0/e18 /r/p1/e10 /r/p2/e5 /r/p0/e3 /r/p0/e9 /r/p0/e6 /r/p1/e13 /r/p2/e8 /r/p1/e19 /r/p1/e16 ' +
    '/r/p0/e24 /r/p0/e27 /r/p0/e21 /r/p2/e11 /r/p2/e14 /r/p2/e17 /r/p0/e0 /r/p2/e2'));
  for (let i = 0; i < 30; i += 2) s.delete(`/r/p${i % 3}/e${i}`);
  assert.equal(s.capacity, 64, 'never shrinks');
  const afterDeletes = words(
    '/r/p2/e5 /r/p0/e3 /r/p1/e25 /r/p0/e9 /r/p1/e7 /r/p1/e13 /r/p1/e19 /r/p0/e27 /r/p0/e15 /r/p2/e23 /r/p0/e21 ' +
    '/r/p2/e11 /r/p2/e29 /r/p2/e17 /r/p1/e1');
  assert.deepEqual(s.inZooKeeperOrder(), afterDeletes);
  s.add('/r/p0/e0');
  assert.deepEqual(s.inZooKeeperOrder(), [...afterDeletes, '/r/p0/e0']);

  const t = new EphemeralSet();
  for (const p of ['/x/é', '/x/b', '/x/a']) t.add(p);
  assert.deepEqual(t.inZooKeeperOrder(), ['/x/b', '/x/é', '/x/a']);
});

test('DataTree: ephemerals survive a reload, and an unknown session has none', async () => {
  const written = new DataTree();
  const owner = 0x1234n;
  const create = (path: string, ephemeralOwner: bigint): void => {
    const header = { sessionId: owner, cxid: 0, zxid: written.lastProcessedZxid + 1, timeMs: 0, type: OpCode.create };
    written.apply({ header, txn: { kind: 'create', path, data: null, acl: [], ephemeralOwner, parentCVersion: -1 } });
  };
  create('/r', 0n);
  for (let i = 0; i < 20; i++) create(`/r/e${i}`, owner);
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-ephemerals-'));
  const tree = readSnapshot((await writeSnapshot(written, dir)).path, false).tree;
  rmSync(dir, { recursive: true });
  const listed = tree.ephemeralsInZooKeeperOrder(owner);
  assert.equal(listed.length, 20);
  assert.deepEqual(new Set(listed), new Set(tree.ephemeralsOf(owner)));
  assert.equal(tree.ephemerals.get(owner)!.capacity, 32);
  assert.deepEqual(tree.ephemeralsInZooKeeperOrder(0x99n), []);
});
