import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildSet } from '../../src/server/tree/child-set.ts';
import { javaHash } from '../../src/server/java-hash.ts';

test('javaHash is String.hashCode spread as HashMap does', () => {
  // Values printed by Java 17's jshell: "zookeeper".hashCode(), "seq-0000000012".hashCode().
  for (const [s, h] of [['zookeeper', 1600681804], ['seq-0000000012', 1989258319]] as const) {
    assert.equal(javaHash(s), h ^ (h >>> 16));
  }
  assert.equal(javaHash(''), 0);
});

test('children list in hash-bucket order, insertion order within a bucket, and the table only grows', () => {
  const s = new ChildSet();
  for (const n of ['parent', 'zookeeper']) s.add(n);
  assert.deepEqual(s.list(), ['parent', 'zookeeper']); // as `ls /` prints on ZooKeeper 3.8
  const many = Array.from({ length: 20 }, (_, i) => `n${i}`);
  for (const n of many) s.add(n);
  const mask = 31; // 22 entries: the table grew 8 -> 16 -> 32
  const buckets = s.list().map((n) => javaHash(n) & mask);
  assert.deepEqual(buckets, [...buckets].sort((a, b) => a - b));
  for (const n of many) s.delete(n);
  assert.equal(s.size, 2);
  assert.deepEqual(new Set(s.list()), new Set(['parent', 'zookeeper']));
});
