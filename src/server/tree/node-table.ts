/**
 * The znodes by path: a Map, except that the nodes of a loaded snapshot may stay frozen (in their
 * serialized form) until first used. A start on a large snapshot then only indexes the file, and
 * a node costs its decoding once, when a request or the tree first asks for it.
 *
 * It iterates in insertion order as a Map does, frozen nodes counting as inserted in load order:
 * a node thawed keeps its place, one deleted and created again goes to the end. Snapshots are
 * written in that order, which keeps each parent before its children and every parent's children
 * in the order it got them.
 */
import { baseName, parentOf } from '../../protocol/path.ts';
import type { ZNode } from './data-tree.ts';

/** Nodes held in serialized form, each either frozen, thawed (decoded and kept outside) or gone. */
export interface FrozenNodes {
  /** How many are still frozen. */
  readonly size: number;
  /** Whether any node is still frozen or thawed. */
  readonly holdsAny: boolean;
  /** Whether path is frozen or thawed here (not gone). */
  holds(path: string): boolean;
  /** Decodes the frozen node at path and marks it thawed; undefined unless it is frozen. */
  thaw(path: string): ZNode | undefined;
  /** Marks the node at path thawed without decoding it: it was replaced. */
  claim(path: string): void;
  /** Marks the node at path gone; whether it was still frozen. */
  drop(path: string): boolean;
  /** The names of a frozen node's children, without thawing it; undefined unless it is frozen. */
  childNames(path: string): Iterable<string> | undefined;
  /** The positions of every node not gone, in load order. */
  positions(): IterableIterator<number>;
  isFrozen(pos: number): boolean;
  pathAt(pos: number): string;
  /** The node at a frozen position, decoded but left frozen. */
  decode(pos: number): ZNode;
  /** The nodes not gone that have an ephemeral owner (sessions' ephemerals, containers, TTL nodes), in load order. */
  owners(): IterableIterator<[string, bigint]>;
}

/** A node as the table keeps it: decoded, or frozen at a position of its store. */
export type KeptNode = [path: string, node: ZNode] | FrozenNode;
export type FrozenNode = [position: number, store: FrozenNodes];

export function isFrozen(kept: KeptNode): kept is FrozenNode {
  return typeof kept[0] === 'number';
}

export class NodeTable {
  private readonly hot = new Map<string, ZNode>();
  private frozen: FrozenNodes | null = null;

  get size(): number {
    return this.hot.size + (this.frozen === null ? 0 : this.frozen.size);
  }

  get(path: string): ZNode | undefined {
    const node = this.hot.get(path);
    if (node !== undefined || !this.anyFrozen()) return node;
    return this.thaw(path);
  }

  has(path: string): boolean {
    return this.hot.has(path) || (this.anyFrozen() && this.frozen!.holds(path));
  }

  set(path: string, node: ZNode): this {
    if (this.anyFrozen()) this.frozen!.claim(path);
    this.hot.set(path, node);
    return this;
  }

  delete(path: string): boolean {
    const frozen = this.frozen !== null && this.frozen.drop(path);
    const deleted = this.hot.delete(path) || frozen;
    if (this.frozen !== null && !this.frozen.holdsAny) this.frozen = null;
    return deleted;
  }

  /** A node's child names without thawing it (undefined if there is no node at path). */
  childNames(path: string): Iterable<string> | undefined {
    return this.hot.get(path)?.children ?? this.frozen?.childNames(path);
  }

  /**
   * Takes in a snapshot's nodes. Its copy of a node already here (the tree's system nodes) wins;
   * a node kept here whose parent is frozen is linked to that parent.
   */
  attach(frozen: FrozenNodes): void {
    for (const path of [...this.hot.keys()]) if (frozen.holds(path)) this.hot.delete(path);
    this.frozen = frozen;
    for (const path of [...this.hot.keys()]) {
      if (path !== '/' && frozen.holds(parentOf(path))) this.get(parentOf(path))!.children.add(baseName(path));
    }
  }

  /**
   * The nodes in iteration order as they are kept: a frozen one as its position in its store (a
   * snapshot copies its record rather than decode it), to be read before the iteration goes on.
   */
  *kept(): IterableIterator<KeptNode> {
    // Captured: a node thawed during the iteration keeps its load-order place.
    const frozen = this.frozen;
    if (frozen !== null) {
      for (const pos of frozen.positions()) {
        if (frozen.isFrozen(pos)) {
          yield [pos, frozen];
          continue;
        }
        const path = frozen.pathAt(pos);
        const node = this.hot.get(path);
        if (node !== undefined) yield [path, node];
      }
    }
    for (const entry of this.hot) if (frozen === null || !frozen.holds(entry[0])) yield entry;
  }

  *entries(): IterableIterator<[string, ZNode]> {
    for (const kept of this.kept()) yield isFrozen(kept) ? [kept[1].pathAt(kept[0]), kept[1].decode(kept[0])] : kept;
  }

  *keys(): IterableIterator<string> {
    const frozen = this.frozen;
    if (frozen !== null) for (const pos of frozen.positions()) yield frozen.pathAt(pos);
    for (const path of this.hot.keys()) if (frozen === null || !frozen.holds(path)) yield path;
  }

  *values(): IterableIterator<ZNode> {
    for (const [, node] of this.entries()) yield node;
  }

  [Symbol.iterator](): IterableIterator<[string, ZNode]> {
    return this.entries();
  }

  private anyFrozen(): boolean {
    return this.frozen !== null && this.frozen.size > 0;
  }

  private thaw(path: string): ZNode | undefined {
    const node = this.frozen!.thaw(path);
    if (node !== undefined) this.hot.set(path, node);
    return node;
  }
}
