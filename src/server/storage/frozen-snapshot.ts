/**
 * The znodes of a snapshot left in the snapshot's bytes (see tree/node-table.ts): an index from
 * path to record, and each node's children, built with typed arrays only. A node is decoded when
 * the tree first asks for it (thawed); until then it costs about 25 bytes besides its record.
 *
 * Positions are the records in file order. A path written twice (a fuzzy snapshot caught it, then
 * its re-creation) keeps its first position with its last record, and a node whose parent is not
 * in the snapshot (caught while its subtree was being deleted; the log replayed after deletes it
 * anyway) is dropped with its subtree, as loading every node in a Map would do.
 */
import type { JuteWriter } from '../../protocol/jute.ts';
import { baseName, parentOf } from '../../protocol/path.ts';
import type { ACL } from '../../protocol/records.ts';
import { ChildSet } from '../tree/child-set.ts';
import type { ZNode } from '../tree/data-tree.ts';
import type { FrozenNodes } from '../tree/node-table.ts';
import { copyNodeRecord, int32At, OWNER_IN_TAIL, readNodeRecord, recordAclRef, recordOwner, recordPath } from './node-record.ts';

const FROZEN = 0;
const THAWED = 1;
const GONE = 2;

const SLASH = 0x2f;
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const ROOT_HASH = Math.imul(FNV_OFFSET ^ SLASH, FNV_PRIME);

/** FNV-1a of an ASCII string, equal to that of its bytes. */
function hashOfAscii(s: string): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h;
}

/**
 * Positions by the hash of their path, open addressing: a slot holds position + 1, 0 while it is
 * empty. A probe goes slot after slot from first(hash).
 */
class PathTable {
  private readonly slots: Int32Array;
  private readonly shift: number;
  private readonly mask: number;

  /** hashes: each position's. */
  constructor(readonly hashes: Int32Array) {
    let slots = 2;
    while (slots < 2 * hashes.length) slots *= 2;
    this.slots = new Int32Array(slots);
    this.shift = 32 - Math.log2(slots);
    this.mask = slots - 1;
  }

  first(hash: number): number {
    return Math.imul(hash, 0x9e3779b1) >>> this.shift;
  }

  next(slot: number): number {
    return (slot + 1) & this.mask;
  }

  /** The slot's position, -1 if it is empty. */
  positionAt(slot: number): number {
    return this.slots[slot] - 1;
  }

  put(slot: number, pos: number): void {
    this.slots[slot] = pos + 1;
  }
}

interface SnapshotIndex {
  /** Offset of each position's record. */
  recordAt: Uint32Array;
  table: PathTable;
  /** Paths with bytes past ASCII: looked up by their decoded string instead. */
  nonAscii: Map<string, number>;
  states: Uint8Array;
  firstChild: Int32Array;
  nextSibling: Int32Array;
  /** Positions whose record has an ephemeral owner. */
  owned: Int32Array;
}

export class FrozenSnapshot implements FrozenNodes {
  private frozen: number;
  /** Positions frozen or thawed. */
  private live: number;

  /** Built by FrozenSnapshotBuilder. */
  constructor(
    private readonly buf: Buffer,
    private readonly acls: ReadonlyMap<number, ACL[]>,
    private readonly index: SnapshotIndex,
    /** Nodes dropped for a missing parent. */
    readonly orphans: number,
  ) {
    let frozen = 0;
    for (const state of index.states) if (state === FROZEN) frozen++;
    this.frozen = frozen;
    this.live = frozen;
  }

  get size(): number {
    return this.frozen;
  }

  get holdsAny(): boolean {
    return this.live > 0;
  }

  holds(path: string): boolean {
    const pos = this.positionOf(path);
    return pos >= 0 && this.index.states[pos] !== GONE;
  }

  thaw(path: string): ZNode | undefined {
    const pos = this.positionOf(path);
    if (pos < 0 || this.index.states[pos] !== FROZEN) return undefined;
    this.index.states[pos] = THAWED;
    this.frozen--;
    return this.decode(pos);
  }

  claim(path: string): void {
    const pos = this.positionOf(path);
    if (pos < 0 || this.index.states[pos] !== FROZEN) return;
    this.index.states[pos] = THAWED;
    this.frozen--;
  }

  drop(path: string): boolean {
    const pos = this.positionOf(path);
    const { states } = this.index;
    if (pos < 0 || states[pos] === GONE) return false;
    const wasFrozen = states[pos] === FROZEN;
    states[pos] = GONE;
    this.live--;
    if (wasFrozen) this.frozen--;
    return wasFrozen;
  }

  childNames(path: string): Iterable<string> | undefined {
    const pos = this.positionOf(path);
    return pos >= 0 && this.index.states[pos] === FROZEN ? this.namesOfChildren(pos) : undefined;
  }

  *positions(): IterableIterator<number> {
    const { states } = this.index;
    for (let pos = 0; pos < states.length; pos++) if (states[pos] !== GONE) yield pos;
  }

  isFrozen(pos: number): boolean {
    return this.index.states[pos] === FROZEN;
  }

  pathAt(pos: number): string {
    return recordPath(this.buf, this.index.recordAt[pos]);
  }

  decode(pos: number): ZNode {
    const children = new ChildSet();
    for (const name of this.namesOfChildren(pos)) children.add(name);
    return readNodeRecord(this.buf, this.index.recordAt[pos], this.acls, children);
  }

  /** The ACL of the node at a position. */
  aclOf(pos: number): ACL[] {
    return this.acls.get(recordAclRef(this.buf, this.index.recordAt[pos]))!;
  }

  /** Writes the record at a position as it is, but for its ACL reference. */
  copyRecord(pos: number, w: JuteWriter, aclRef: number): void {
    copyNodeRecord(w, this.buf, this.index.recordAt[pos], aclRef);
  }

  *owners(): IterableIterator<[string, bigint]> {
    for (const pos of this.index.owned) {
      if (this.index.states[pos] !== GONE) yield [this.pathAt(pos), recordOwner(this.buf, this.index.recordAt[pos])];
    }
  }

  private *namesOfChildren(pos: number): IterableIterator<string> {
    const { firstChild, nextSibling } = this.index;
    for (let c = firstChild[pos]; c >= 0; c = nextSibling[c]) yield this.nameAt(c);
  }

  /** The last component of a position's path. */
  private nameAt(pos: number): string {
    const { buf } = this;
    const at = this.index.recordAt[pos];
    const start = at + 4;
    const end = start + int32At(buf, at);
    let i = end - 1;
    for (; i >= start && buf[i] !== SLASH; i--) {
      if (buf[i] >= 0x80) return baseName(recordPath(buf, at));
    }
    return buf.toString('latin1', i + 1, end);
  }

  private positionOf(path: string): number {
    let h = FNV_OFFSET;
    for (let i = 0; i < path.length; i++) {
      const c = path.charCodeAt(i);
      if (c >= 0x80) return this.index.nonAscii.get(path) ?? -1;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const { table } = this.index;
    for (let s = table.first(h); ; s = table.next(s)) {
      const pos = table.positionAt(s);
      if (pos < 0 || (table.hashes[pos] === h && this.pathIs(pos, path))) return pos;
    }
  }

  private pathIs(pos: number, path: string): boolean {
    const { buf } = this;
    const at = this.index.recordAt[pos];
    if (int32At(buf, at) !== path.length) return false;
    for (let i = 0; i < path.length; i++) if (buf[at + 4 + i] !== path.charCodeAt(i)) return false;
    return true;
  }
}

/** Parent links that are not positions: none (the root, or a parent outside the snapshot), and a missing one. */
const NO_PARENT = -1;
const MISSING_PARENT = -2;

/** Per record: it has an ephemeral owner; its path has bytes past ASCII. */
const OWNED = 1;
const NON_ASCII = 2;

/** Collects a snapshot's node records (their offsets, in file order), then indexes them. */
export class FrozenSnapshotBuilder {
  private count = 0;
  private recordAt: Uint32Array;
  private hashes: Int32Array;
  /** Hash of each parent's path, and where that path ends in the child's (its last slash; -1: none). */
  private parentHashes: Int32Array;
  private cuts: Int32Array;
  private flags: Uint8Array;

  constructor(private readonly buf: Buffer, expectedNodes: number) {
    const capacity = Math.max(16, expectedNodes);
    this.recordAt = new Uint32Array(capacity);
    this.hashes = new Int32Array(capacity);
    this.parentHashes = new Int32Array(capacity);
    this.cuts = new Int32Array(capacity);
    this.flags = new Uint8Array(capacity);
  }

  /** A node record at `at`, whose bounds the caller checked. */
  add(at: number): void {
    if (this.count === this.recordAt.length) this.grow();
    const b = this.buf;
    const start = at + 4;
    const length = int32At(b, at);
    let h = FNV_OFFSET;
    let parentHash = ROOT_HASH;
    let cut = -1;
    let bits = 0;
    for (let i = 0; i < length; i++) {
      const c = b[start + i];
      if (c === SLASH) {
        cut = i;
        parentHash = i === 0 ? ROOT_HASH : h;
      }
      bits |= c;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    const pos = this.count++;
    this.recordAt[pos] = at;
    this.hashes[pos] = h;
    this.parentHashes[pos] = parentHash;
    this.cuts[pos] = cut;
    this.flags[pos] = (hasOwner(b, start + length) ? OWNED : 0) | (bits >= 0x80 ? NON_ASCII : 0);
  }

  /**
   * Indexes the records. A parent that is not in the snapshot may be one of the tree's own nodes
   * (`outside` gives its children, which then gain the name); otherwise the node is an orphan.
   */
  build(acls: ReadonlyMap<number, ACL[]>, outside: (path: string) => ChildSet | undefined): FrozenSnapshot {
    const n = this.count;
    const states = new Uint8Array(n);
    const table = new PathTable(this.hashes.subarray(0, n));
    const nonAscii = this.indexPaths(table, states);
    const { firstChild, nextSibling, parents } = this.linkChildren(table, nonAscii, states, outside);
    const orphans = dropOrphans(parents, states);
    const owned: number[] = [];
    for (let pos = 0; pos < n; pos++) if (states[pos] !== GONE && (this.flags[pos] & OWNED) !== 0) owned.push(pos);
    const index = { recordAt: this.recordAt.subarray(0, n), table, nonAscii, states, firstChild, nextSibling, owned: Int32Array.from(owned) };
    return new FrozenSnapshot(this.buf, acls, index, orphans);
  }

  /**
   * Puts every position in the table (or, past ASCII, the map it returns). A path written twice
   * keeps its first position and takes the later record; the later position is gone.
   */
  private indexPaths(table: PathTable, states: Uint8Array): Map<string, number> {
    const nonAscii = new Map<string, number>();
    for (let pos = 0; pos < this.count; pos++) {
      const first = (this.flags[pos] & NON_ASCII) !== 0 ? this.insertNonAscii(nonAscii, pos) : this.insert(table, pos);
      if (first !== pos) {
        this.recordAt[first] = this.recordAt[pos];
        this.flags[first] = this.flags[pos];
        states[pos] = GONE;
      }
    }
    return nonAscii;
  }

  /** Each position's parent, and each parent's children in position order. */
  private linkChildren(table: PathTable, nonAscii: Map<string, number>, states: Uint8Array, outside: (path: string) => ChildSet | undefined) {
    const n = this.count;
    const firstChild = new Int32Array(n).fill(-1);
    const lastChild = new Int32Array(n).fill(-1);
    const nextSibling = new Int32Array(n).fill(-1);
    const parents = new Int32Array(n);
    // Siblings mostly follow one another: the previous node's parent is tried first.
    let previous = -1;
    for (let pos = 0; pos < n; pos++) {
      if (states[pos] === GONE) continue;
      const ascii = (this.flags[pos] & NON_ASCII) === 0;
      let parent: number;
      if (this.isRoot(pos)) parent = NO_PARENT;
      else if (!ascii) parent = this.parentByName(pos, table, nonAscii, outside);
      else if (previous >= 0 && this.sameParentPath(pos, previous)) parent = parents[previous];
      else parent = this.parentByBytes(pos, table, outside);
      parents[pos] = parent;
      previous = parent >= 0 && ascii ? pos : -1;
      if (parent < 0) continue;
      if (lastChild[parent] < 0) firstChild[parent] = pos;
      else nextSibling[lastChild[parent]] = pos;
      lastChild[parent] = pos;
    }
    return { firstChild, nextSibling, parents };
  }

  private grow(): void {
    const grown = <T extends Uint8Array | Uint32Array | Int32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(a.length * 2);
      b.set(a);
      return b;
    };
    this.recordAt = grown(this.recordAt);
    this.hashes = grown(this.hashes);
    this.parentHashes = grown(this.parentHashes);
    this.cuts = grown(this.cuts);
    this.flags = grown(this.flags);
  }

  /** Puts pos in the table; returns the position already there with the same path, if any. */
  private insert(table: PathTable, pos: number): number {
    const h = this.hashes[pos];
    for (let s = table.first(h); ; s = table.next(s)) {
      const other = table.positionAt(s);
      if (other < 0) {
        table.put(s, pos);
        return pos;
      }
      if (table.hashes[other] === h && this.samePath(pos, other)) return other;
    }
  }

  private insertNonAscii(nonAscii: Map<string, number>, pos: number): number {
    const path = recordPath(this.buf, this.recordAt[pos]);
    const first = nonAscii.get(path);
    if (first !== undefined) return first;
    nonAscii.set(path, pos);
    return pos;
  }

  private pathLength(pos: number): number {
    return int32At(this.buf, this.recordAt[pos]);
  }

  private isRoot(pos: number): boolean {
    return this.pathLength(pos) === 1 && this.buf[this.recordAt[pos] + 4] === SLASH;
  }

  private samePath(a: number, b: number): boolean {
    const length = this.pathLength(a);
    return length === this.pathLength(b) && this.sameBytes(this.recordAt[a] + 4, this.recordAt[b] + 4, length);
  }

  /** Whether two ASCII positions have the same parent path (the bytes before their last slash). */
  private sameParentPath(a: number, b: number): boolean {
    const cut = this.cuts[a];
    if (this.parentHashes[a] !== this.parentHashes[b]) return false;
    if (cut <= 0) return this.cuts[b] <= 0;
    return cut === this.cuts[b] && this.sameBytes(this.recordAt[a] + 4, this.recordAt[b] + 4, cut);
  }

  private sameBytes(a: number, b: number, length: number): boolean {
    const buf = this.buf;
    for (let i = 0; i < length; i++) if (buf[a + i] !== buf[b + i]) return false;
    return true;
  }

  /** The parent of an ASCII path, found by the bytes before its last slash (the root if that is the first byte, or none). */
  private parentByBytes(pos: number, table: PathTable, outside: (path: string) => ChildSet | undefined): number {
    const cut = this.cuts[pos];
    const h = this.parentHashes[pos];
    for (let s = table.first(h); ; s = table.next(s)) {
      const other = table.positionAt(s);
      if (other < 0) return this.outsideParent(pos, outside);
      if (table.hashes[other] !== h) continue;
      const isParent = cut <= 0
        ? this.isRoot(other)
        : this.pathLength(other) === cut && this.sameBytes(this.recordAt[pos] + 4, this.recordAt[other] + 4, cut);
      if (isParent) return other;
    }
  }

  private parentByName(pos: number, table: PathTable, nonAscii: Map<string, number>, outside: (path: string) => ChildSet | undefined): number {
    const parentPath = parentOf(recordPath(this.buf, this.recordAt[pos]));
    const parent = nonAscii.get(parentPath);
    if (parent !== undefined) return parent;
    const h = hashOfAscii(parentPath);
    for (let s = table.first(h); ; s = table.next(s)) {
      const other = table.positionAt(s);
      if (other < 0) return this.outsideParent(pos, outside);
      if (table.hashes[other] === h && recordPath(this.buf, this.recordAt[other]) === parentPath) return other;
    }
  }

  private outsideParent(pos: number, outside: (path: string) => ChildSet | undefined): number {
    const path = recordPath(this.buf, this.recordAt[pos]);
    const children = outside(parentOf(path));
    if (children === undefined) return MISSING_PARENT;
    children.add(baseName(path));
    return NO_PARENT;
  }
}

/** Whether the record whose data starts at `dataAt` has an ephemeral owner (bytes not all 0). */
function hasOwner(b: Buffer, dataAt: number): boolean {
  const o = dataAt + 4 + Math.max(int32At(b, dataAt), 0) + OWNER_IN_TAIL;
  return (b[o] | b[o + 1] | b[o + 2] | b[o + 3] | b[o + 4] | b[o + 5] | b[o + 6] | b[o + 7]) !== 0;
}

/** Marks gone every node whose chain of parents does not reach the root; returns how many. */
function dropOrphans(parents: Int32Array, states: Uint8Array): number {
  const UNKNOWN = 0;
  const ALIVE = 1;
  const DEAD = 2;
  const verdicts = new Uint8Array(parents.length);
  const chain: number[] = [];
  let dropped = 0;
  for (let pos = 0; pos < parents.length; pos++) {
    if (states[pos] === GONE) continue;
    // Mostly the parent came first and is settled.
    const parent = parents[pos];
    if (parent >= 0 && verdicts[parent] === ALIVE) {
      verdicts[pos] = ALIVE;
      continue;
    }
    let top = pos;
    while (verdicts[top] === UNKNOWN && parents[top] >= 0) {
      chain.push(top);
      top = parents[top];
    }
    const verdict = verdicts[top] !== UNKNOWN ? verdicts[top] : parents[top] === MISSING_PARENT ? DEAD : ALIVE;
    verdicts[top] = verdict;
    for (const p of chain) verdicts[p] = verdict;
    chain.length = 0;
    if (verdict === DEAD) {
      states[pos] = GONE;
      dropped++;
    }
  }
  return dropped;
}
