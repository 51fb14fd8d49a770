/**
 * The iteration order of Java's hash collections, which ZooKeeper lets clients see (children,
 * a session's ephemerals, a connection's identities).
 *
 * A java.util.HashMap (and the HashSet built on it) iterates its table bucket by bucket, in
 * increasing index, where the index is HashMap.hash(key) — the key's hashCode with its high half
 * folded into the low half — masked by the table size. Within a bucket entries keep insertion order
 * (a resize splits buckets preserving relative order; a removed key that comes back goes to the
 * end). The table starts at 16 unless told otherwise, doubles when the size passes 3/4 of it, and
 * never shrinks. Treeified buckets (8+ entries in a table of 64+) are not modelled.
 */

/** java.lang.String.hashCode: over UTF-16 code units, with 32-bit overflow. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** HashMap.hash for a key with this hashCode. */
export function spreadHash(h: number): number {
  return h ^ (h >>> 16);
}

/** HashMap.hash of a String key. */
export function javaHash(s: string): number {
  return spreadHash(javaStringHash(s));
}

/** The table size a HashMap of `initial` reaches once it has held `maxSize` entries. */
export function grownCapacity(maxSize: number, initial = 16): number {
  let capacity = initial;
  while (maxSize > capacity * 0.75) capacity *= 2;
  return capacity;
}

/**
 * The table size of a HashMap copied from one of `size` entries (HashMap.clone and the copy
 * constructors pre-size with putMapEntries). This is Java 17's rule, (int)(size / 0.75f + 1)
 * rounded up to a power of two; Java 19 changed it to ceil(size / 0.75).
 */
export function copiedCapacity(size: number): number {
  const t = Math.trunc(Math.fround(Math.fround(size / 0.75) + 1));
  let capacity = 1;
  while (capacity < t) capacity *= 2;
  return capacity;
}

/**
 * Items of a Java hash set, given in insertion order, in its iteration order for each table size
 * of `capacities` in turn: [c] is a set with table c; [c, c2] a copy, with table c2, of such a set
 * (the copy inserts in the original's iteration order). `spreads[i]` is HashMap.hash of items[i].
 */
export function inHashTableOrder<T>(items: readonly T[], spreads: readonly number[], capacities: readonly number[]): T[] {
  // One sort key: the last table's bucket, then the one before's, …, then insertion (a copy keeps
  // the source's order among the keys that share one of its buckets). Exact while the product of
  // the table sizes stays below 2^53.
  const keyed = items.map((item, seq) => {
    let key = 0;
    for (let k = capacities.length - 1; k >= 0; k--) key = key * capacities[k] + (spreads[seq] & (capacities[k] - 1));
    return { item, seq, key };
  });
  keyed.sort((a, b) => a.key - b.key || a.seq - b.seq);
  return keyed.map((k) => k.item);
}
