/**
 * The sharded path tables of the watch tables hold what a plain Map and Set would, through a long
 * run of adds and deletes that takes a PathSet past the size where it splits into shards and back.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PathMap, PathSet } from '../../src/server/watches/path-shards.ts';
import { prng } from '../support/prng.ts';

describe('sharded path tables', () => {
  for (const seed of [1, 2, 3]) {
    it(`PathMap and PathSet agree with a Map and a Set (seed ${seed})`, () => {
      const random = prng(seed);
      const map = new PathMap<number>();
      const set = new PathSet();
      const refMap = new Map<string, number>();
      const refSet = new Set<string>();
      let largest = 0;
      for (let i = 0; i < 40_000; i++) {
        const n = Math.floor(random() * 12_000);
        const path = `/a/b/node-${n}`;
        // Mostly adds in the first half, mostly deletes in the second.
        if (random() < (i < 20_000 ? 0.8 : 0.2)) {
          map.set(path, n);
          refMap.set(path, n);
          set.add(path);
          refSet.add(path);
        } else {
          assert.equal(map.delete(path), refMap.delete(path));
          assert.equal(set.delete(path), refSet.delete(path));
        }
        assert.equal(set.size, refSet.size);
        largest = Math.max(largest, refSet.size);
      }
      assert.ok(largest > 4096, 'the set split into shards on the way');
      assert.equal(map.size, refMap.size);
      assert.deepEqual(new Map(map.entries()), refMap);
      assert.deepEqual(new Set(set), refSet);
      for (const [p, v] of refMap) assert.ok(map.has(p) && map.get(p) === v);
    });
  }
});
