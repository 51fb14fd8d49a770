/**
 * Quotas as Apache ZooKeeper 3.8 keeps them. A client (zkCli's setquota) writes
 * `/zookeeper/quota<path>/zookeeper_limits` and `…/zookeeper_stats`; the server keeps a trie of the
 * quota'd paths and the stats node's data (a StatsTrack string, `count=N,bytes=M`) up to date on
 * every create, delete and setData below them. This module holds ZooKeeper's PathTrie, the
 * quota'd paths; the records themselves are in protocol/stats-track.ts.
 */

import { QuotaError } from '../../protocol/stats-track.ts';

/** Java's String.trim().isEmpty(): trim strips every char <= U+0020. */
function isBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x20) return false;
  return true;
}

/** PathTrie.split: the components of path, blank ones left out. */
function trieComponents(path: string): string[] {
  return path.split('/').filter((c) => !isBlank(c));
}

interface TrieNode {
  readonly value: string;
  parent: TrieNode | null;
  property: boolean;
  readonly children: Map<string, TrieNode>;
}

function trieNode(parent: TrieNode | null, value: string): TrieNode {
  return { value, parent, property: false, children: new Map() };
}

/**
 * org.apache.zookeeper.common.PathTrie: the quota'd paths. `size` counts the paths marked below the
 * root, so that the common case (no quota anywhere) costs one comparison.
 */
export class PathTrie {
  private readonly root = trieNode(null, '/');
  private marked = 0;

  get size(): number {
    return this.marked;
  }

  /** addPath: throws (as Java's IllegalArgumentException) for "". */
  add(path: string): void {
    if (path.length === 0) throw new QuotaError(`IllegalArgumentException: Invalid path: ${path}`);
    let node = this.root;
    for (const part of trieComponents(path)) {
      let child = node.children.get(part);
      if (!child) {
        child = trieNode(node, part);
        node.children.set(part, child);
      }
      node = child;
    }
    // The root's own mark is never consulted by findMaxPrefix, so it is not counted.
    if (node !== this.root && !node.property) this.marked++;
    node.property = true;
  }

  /**
   * deletePath: unmarks the path's node, and drops it if it is a leaf (its ancestors stay, marked or
   * not). A path not in the trie is ignored; "" and a path of no components throw, as in Java.
   */
  delete(path: string): void {
    if (path.length === 0) throw new QuotaError(`IllegalArgumentException: Invalid path: ${path}`);
    let node = this.root;
    for (const part of trieComponents(path)) {
      const child = node.children.get(part);
      if (!child) return;
      node = child;
    }
    const parent = node.parent;
    if (parent === null) throw new QuotaError('NullPointerException: deletePath of the trie root');
    if (node.property) this.marked--;
    node.property = false;
    if (node.children.size === 0) {
      node.parent = null;
      parent.children.delete(node.value);
    }
  }

  /** findMaxPrefix: the deepest marked path that is a component-wise prefix of path, or "/". */
  findMaxPrefix(path: string): string {
    let node: TrieNode | undefined = this.root;
    let found: TrieNode | null = null;
    for (const part of trieComponents(path)) {
      node = node.children.get(part);
      if (!node) break;
      if (node.property) found = node;
    }
    if (found === null) return '/';
    const parts: string[] = [];
    for (let n: TrieNode | null = found; n !== null && n !== this.root; n = n.parent) parts.push(n.value);
    return '/' + parts.reverse().join('/');
  }

  clear(): void {
    this.root.children.clear();
    this.marked = 0;
  }
}
