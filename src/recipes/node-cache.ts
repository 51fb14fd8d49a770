/**
 * Curator's NodeCache: one znode's data and Stat kept in memory, whether or not the node exists.
 * It is a TreeCache of depth 0, so it watches and re-syncs exactly as a TreeCache does: a
 * persistent watch on the node (ZooKeeper 3.6+, Ensemble) or one-shot exists/getData watches,
 * and a fresh read on RECONNECTED.
 */
import { EventEmitter } from 'node:events';
import type { ZooKeeperClient } from '../client/index.ts';
import { TreeCache, type CacheMode, type CachedNode } from './tree-cache.ts';
import type { WaitOptions } from './waiting.ts';

export interface NodeCacheOptions {
  /** 'auto' (default): a persistent watch when the server has addWatch, one-shot watches otherwise. */
  mode?: CacheMode;
}

/** The events of NodeCache and their arguments. */
export type NodeCacheEvents = {
  change: [current: CachedNode | null];
  error: [err: unknown];
};

/**
 * The latest known state of one znode.
 *
 *   const cache = new NodeCache(zk, '/config/feature-flags');
 *   cache.on('change', (node) => apply(node === null ? {} : JSON.parse(String(node.data))));
 *   await cache.start();
 *   cache.current;        // { data, stat }, or null while the node does not exist
 *   await cache.close();
 *
 * 'change' is emitted with the new state (null: the node is gone) each time the node is created,
 * written or deleted after start(); start() itself resolves with `current` filled and emits nothing.
 */
export class NodeCache extends EventEmitter<NodeCacheEvents> {
  private readonly tree: TreeCache;

  constructor(client: ZooKeeperClient, readonly path: string, options: NodeCacheOptions = {}) {
    super();
    this.tree = new TreeCache(client, path, { mode: options.mode, maxDepth: 0 });
    const changed = (): void => {
      if (this.tree.isInitialized) this.emit('change', this.current);
    };
    this.tree.on('nodeAdded', changed);
    this.tree.on('nodeUpdated', changed);
    this.tree.on('nodeRemoved', changed);
    this.tree.on('error', (err: unknown) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  /** Sets the watch and reads the node once; resolves when `current` holds that first read. */
  start(options: WaitOptions = {}): Promise<void> {
    return this.tree.start(options);
  }

  /** The node's data and Stat, or null when it does not exist (or before start()). */
  get current(): CachedNode | null {
    return this.tree.get(this.path) ?? null;
  }

  /** Stops watching and removes the cache's watches (the persistent one on the server too). */
  close(): Promise<void> {
    return this.tree.close();
  }
}
