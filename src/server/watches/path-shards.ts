/**
 * A Map and a Set keyed by path, split over many tables by a hash of the path. A JavaScript Map that
 * outgrows its table rehashes every entry in one go: at a million paths one insert stalls the event
 * loop for 50 ms or more (measured here). Split over SHARDS tables, each rehash moves a 256th of the
 * entries, so adding or removing a watch costs bounded work at any size.
 */

const SHARDS = 256;
/** A PathSet stays one Set up to this size (most watchers hold a few paths). */
const SET_SPLIT_AT = 4096;
/** Characters hashed, from the end: paths under one parent differ at their end. */
const HASHED_CHARS = 24;

/** FNV-1a of the path's length and its last HASHED_CHARS characters, to a shard. */
export function shardOf(path: string): number {
  let h = 0x811c9dc5 ^ path.length;
  for (let i = Math.max(0, path.length - HASHED_CHARS); i < path.length; i++) {
    h = Math.imul(h ^ path.charCodeAt(i), 0x01000193);
  }
  return (h >>> 0) % SHARDS;
}

export class PathMap<V> {
  private readonly shards: Array<Map<string, V> | undefined> = new Array(SHARDS);
  private count = 0;

  get size(): number {
    return this.count;
  }

  get(path: string): V | undefined {
    return this.shards[shardOf(path)]?.get(path);
  }

  has(path: string): boolean {
    return this.shards[shardOf(path)]?.has(path) ?? false;
  }

  set(path: string, value: V): void {
    const i = shardOf(path);
    const shard = this.shards[i] ?? (this.shards[i] = new Map());
    const before = shard.size;
    shard.set(path, value);
    this.count += shard.size - before;
  }

  delete(path: string): boolean {
    if (!this.shards[shardOf(path)]?.delete(path)) return false;
    this.count--;
    return true;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const shard of this.shards) if (shard !== undefined) yield* shard;
  }
}

export class PathSet implements Iterable<string> {
  private small: Set<string> | null = new Set();
  private shards: Array<Set<string> | undefined> | null = null;
  private count = 0;

  get size(): number {
    return this.count;
  }

  add(path: string): void {
    if (this.small !== null) {
      this.small.add(path);
      this.count = this.small.size;
      if (this.count > SET_SPLIT_AT) this.split();
      return;
    }
    const i = shardOf(path);
    const shard = this.shards![i] ?? (this.shards![i] = new Set());
    const before = shard.size;
    shard.add(path);
    this.count += shard.size - before;
  }

  delete(path: string): boolean {
    const removed = this.small !== null ? this.small.delete(path) : (this.shards![shardOf(path)]?.delete(path) ?? false);
    if (removed) this.count--;
    return removed;
  }

  *[Symbol.iterator](): Iterator<string> {
    if (this.small !== null) {
      yield* this.small;
      return;
    }
    for (const shard of this.shards!) if (shard !== undefined) yield* shard;
  }

  private split(): void {
    const paths = this.small!;
    this.small = null;
    this.shards = new Array(SHARDS);
    this.count = 0;
    for (const p of paths) this.add(p);
  }
}
