/**
 * A znode's child names, listed in the order Apache ZooKeeper lists them.
 *
 * ZooKeeper keeps children in a java.util.HashSet created with capacity 8, so clients see them in
 * hash-bucket order (String.hashCode spread by HashMap.hash, masked by the table size), insertion
 * order within a bucket. Matching that order makes `ls` output identical to ZooKeeper's. The table
 * only grows (at 3/4 load), as Java's does.
 */
import { inHashTableOrder, javaHash } from '../java-hash.ts';

const NONE: readonly string[] = [];

export class ChildSet {
  /** Created with the first child: most znodes are leaves, and an empty Set still costs memory. */
  private names: Set<string> | null = null;
  private capacity = 8;
  private ordered: readonly string[] | null = null;

  get size(): number {
    return this.names === null ? 0 : this.names.size;
  }

  has(name: string): boolean {
    return this.names !== null && this.names.has(name);
  }

  add(name: string): void {
    this.names ??= new Set();
    if (this.names.has(name)) return;
    this.names.add(name);
    if (this.names.size > this.capacity * 0.75) this.capacity *= 2;
    this.ordered = null;
  }

  delete(name: string): void {
    if (this.names !== null && this.names.delete(name)) this.ordered = null;
  }

  /** Names in ZooKeeper's order. The array is shared: callers must not change it. */
  list(): readonly string[] {
    if (this.names === null) return NONE;
    if (this.ordered === null) {
      const names = [...this.names];
      this.ordered = inHashTableOrder(names, names.map(javaHash), [this.capacity]);
    }
    return this.ordered;
  }

  [Symbol.iterator](): Iterator<string> {
    return (this.names ?? NONE)[Symbol.iterator]();
  }
}
