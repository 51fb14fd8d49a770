/**
 * Curator's TreeCache (CuratorCache): a local copy of a subtree, kept current by watches.
 *
 * How it stays current:
 * - 'persistent' (and 'auto' when the server has addWatch: ZooKeeper 3.6+, Ensemble): one
 *   persistent-recursive watch on the root (a plain persistent one when maxDepth is 0). Every
 *   NodeCreated / NodeDataChanged re-reads that node's data, every NodeDeleted drops it.
 * - 'one_shot' (and 'auto' when addWatch is unimplemented): getData and getChildren watches on
 *   each cached node, an exists watch on a missing root; each event re-reads what it names and
 *   re-arms the watch.
 *
 * Every read's result is applied the moment its reply arrives (never after another await), so
 * results and events are applied in the order the server produced them: the cache never goes
 * back in time. On RECONNECTED the whole tree is read again and diffed against the cache, which
 * emits what changed during the gap (persistent watches replay nothing after a reconnection).
 */
import { EventEmitter } from 'node:events';
import {
  NoNodeError, SessionExpiredError, UnimplementedError,
  type Stat, type WatchedEvent, type WatcherType, type ZooKeeperClient,
} from '../client/index.ts';
import { ConnectionStateTracker, type ConnectionState } from './connection-state.ts';
import { joinPath, nameOf, parentOf } from './paths.ts';
import { isRetryable, retrying } from './retry.ts';
import { deadlineSignal, raceAbort, type WaitOptions } from './waiting.ts';

/** How a cache watches: see the module comment. 'one-shot', the earlier spelling of 'one_shot', is deprecated. */
export type CacheMode = 'auto' | 'persistent' | 'one_shot' | 'one-shot';

/** A cached znode. The Buffer is shared with the cache: copy it before changing it. */
export interface CachedNode {
  readonly data: Buffer | null;
  readonly stat: Stat;
}

export interface TreeCacheOptions {
  mode?: CacheMode;
  /** How deep below the root to cache: 0 the root only, 1 the root and its children, … Default: no limit. */
  maxDepth?: number;
}

/** The events of TreeCache and their arguments. */
export type TreeCacheEvents = {
  nodeAdded: [path: string, node: CachedNode];
  nodeUpdated: [path: string, node: CachedNode];
  nodeRemoved: [path: string];
  initialized: [];
  error: [err: unknown];
};

interface Entry {
  data: Buffer | null;
  stat: Stat;
  children: Set<string>;
}

type Phase = 'new' | 'starting' | 'started' | 'closed';

/**
 * A subtree kept in memory.
 *
 *   const cache = new TreeCache(zk, '/config');
 *   cache.on('nodeUpdated', (path, node) => console.log(path, node.data?.toString()));
 *   await cache.start();
 *   cache.children('/config');            // ['a', 'b']
 *   cache.get('/config/a')?.data;         // Buffer
 *   await cache.close();
 *
 * Events: 'nodeAdded' (path, node) — also for every node of the initial load —, 'nodeUpdated'
 * (path, node) when a node's data was written (its mzxid moved), 'nodeRemoved' (path), children
 * before their parent, 'initialized' once the first load is complete, 'error' for a read the
 * server refused (e.g. NoAuth), only when someone listens for it.
 */
export class TreeCache extends EventEmitter<TreeCacheEvents> {
  readonly root: string;
  private readonly mode: Exclude<CacheMode, 'one-shot'>;
  private readonly maxDepth: number;
  private readonly nodes = new Map<string, Entry>();
  private phase: Phase = 'new';
  /** How the watches are set, once start() has set them up. */
  private watching: 'persistent' | 'one_shot' | null = null;
  private tracker: ConnectionStateTracker | null = null;
  private setup: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Reads sent and not yet answered. */
  private pending = 0;
  /** A read of the current round failed for want of a connection: the round does not count as a load. */
  private roundFailed = false;
  /** Reads were lost to the connection since the last full read: read everything again once connected. */
  private stale = false;
  private initialized = false;
  private loaded: { resolve: () => void; reject: (err: unknown) => void } | null = null;
  private quietWaiters: (() => void)[] = [];
  private readonly watcher = (event: WatchedEvent): void => this.onWatchEvent(event);
  private readonly onConnectionState = (state: ConnectionState): void => this.connectionChanged(state);

  constructor(
    private readonly client: ZooKeeperClient,
    rootPath: string,
    options: TreeCacheOptions = {},
  ) {
    super();
    const maxDepth = options.maxDepth ?? Number.POSITIVE_INFINITY;
    if (!(maxDepth >= 0) || (Number.isFinite(maxDepth) && !Number.isInteger(maxDepth))) {
      throw new RangeError(`maxDepth must be a whole number >= 0, not ${maxDepth}`);
    }
    this.root = rootPath;
    this.mode = options.mode === 'one-shot' ? 'one_shot' : options.mode ?? 'auto';
    this.maxDepth = maxDepth;
  }

  /**
   * Sets the watches and loads the tree; resolves once every node is loaded ('initialized').
   * The root need not exist. Rejects (and closes the cache) at the timeout, on abort, or when the
   * session ends first.
   */
  async start(options: WaitOptions = {}): Promise<void> {
    if (this.phase !== 'new') throw new Error(`TreeCache for ${this.root} was already started`);
    this.phase = 'starting';
    const signal = deadlineSignal(options);
    const loaded = new Promise<void>((resolve, reject) => (this.loaded = { resolve, reject }));
    loaded.catch(() => {});
    // Followed from before the watch is set, so that no disconnection goes unnoticed.
    this.tracker = new ConnectionStateTracker(this.client);
    this.tracker.on('change', this.onConnectionState);
    this.setup = this.setUpWatch(signal);
    try {
      await this.setup;
      if (this.closing !== null) throw new Error(`TreeCache for ${this.root} was closed while starting`);
      this.phase = 'started';
      this.readAll();
      await raceAbort(loaded, signal);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** The cached node at path, or undefined when it is not in the cache. */
  get(path: string): CachedNode | undefined {
    const entry = this.nodes.get(path);
    return entry && { data: entry.data, stat: entry.stat };
  }

  /** The names of the cached children of path, sorted ([] when path is not cached). */
  children(path: string): string[] {
    const entry = this.nodes.get(path);
    return entry ? [...entry.children].sort() : [];
  }

  /** Every cached node as [path, node], sorted by path. */
  entries(): [string, CachedNode][] {
    return [...this.nodes.keys()].sort().map((path) => [path, this.get(path)!]);
  }

  /** Whether the first load is complete. */
  get isInitialized(): boolean {
    return this.initialized;
  }

  /**
   * Stops watching: waits for the reads in flight, then removes the cache's watches (the
   * persistent one on the server too). The cache is empty afterwards. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.phase = 'closed';
    this.tracker?.close();
    this.loaded?.reject(new Error(`TreeCache for ${this.root} was closed`));
    await this.setup?.catch(() => {});
    await this.untilQuiet();
    await this.removeWatches();
    this.nodes.clear();
  }

  // ---- watches ----

  private async setUpWatch(signal: AbortSignal | undefined): Promise<void> {
    if (this.mode === 'one_shot') {
      this.watching = 'one_shot';
      return;
    }
    const mode = this.maxDepth === 0 ? 'persistent' : 'persistent_recursive';
    try {
      await retrying(() => this.client.addWatch(this.root, mode, this.watcher, { signal }), { signal });
      this.watching = 'persistent';
    } catch (err) {
      if (this.mode === 'auto' && err instanceof UnimplementedError) this.watching = 'one_shot';
      else throw err;
    }
  }

  private async removeWatches(): Promise<void> {
    const ignore = (): void => {};
    if (this.watching === 'persistent') {
      const type: WatcherType = this.maxDepth === 0 ? 'persistent' : 'persistent_recursive';
      await this.client.removeWatches(this.root, type, { watcher: this.watcher, local: true }).catch(ignore);
    } else if (this.watching === 'one_shot') {
      const paths = new Set([this.root, ...this.nodes.keys()]);
      await Promise.all([...paths].map((p) => this.client.removeWatches(p, 'any', { watcher: this.watcher, local: true }).catch(ignore)));
    }
    this.watching = null;
  }

  private onWatchEvent(event: WatchedEvent): void {
    const path = event.path;
    if (this.phase !== 'started' || path === null || this.depthOf(path) > this.maxDepth) return;
    const oneShot = this.watching === 'one_shot';
    switch (event.type) {
      case 'NodeCreated':
        // One-shot: only the root has an exists watch; the rest arrive through their parent.
        if (oneShot) this.refresh(path, true);
        else this.readData(path);
        break;
      case 'NodeDataChanged':
        this.readData(path);
        break;
      case 'NodeChildrenChanged':
        if (oneShot) this.readChildren(path, false);
        break;
      case 'NodeDeleted':
        this.removeSubtree(path);
        if (oneShot && path === this.root) this.watchRootCreation();
        break;
      default:
        break;
    }
  }

  private connectionChanged(state: ConnectionState): void {
    if (this.phase !== 'started') return;
    if (state === 'SUSPENDED' || state === 'LOST') this.stale = true;
    // Persistent watches replay nothing after a reconnection: read everything again and diff.
    else if (state === 'RECONNECTED' || this.stale) this.readAll();
  }

  // ---- reads: each result is applied in the continuation of the client's own promise ----

  private readAll(): void {
    this.stale = false;
    this.roundFailed = false;
    this.refresh(this.root, true);
  }

  /** Reads the node's data, and its children when deep (one-shot: always, to arm the child watch). */
  private refresh(path: string, deep: boolean): void {
    this.readData(path);
    if (deep || this.watching === 'one_shot') this.readChildren(path, deep);
  }

  private readData(path: string): void {
    if (this.phase !== 'started') return;
    this.apply(this.client.getData(path, { watch: this.oneShotWatcher() }), (res) => this.upsert(path, res.data, res.stat), () => {
      this.removeSubtree(path);
      if (path === this.root && this.watching === 'one_shot') this.watchRootCreation();
    });
  }

  private readChildren(path: string, deep: boolean): void {
    if (this.phase !== 'started' || this.depthOf(path) >= this.maxDepth) return;
    this.apply(this.client.getChildren(path, { watch: this.oneShotWatcher() }), (names) => this.reconcile(path, names, deep), () => this.removeSubtree(path));
  }

  /** One-shot mode: an exists watch waits for the root's creation. */
  private watchRootCreation(): void {
    if (this.phase !== 'started') return;
    this.apply(this.client.exists(this.root, { watch: this.watcher }), (stat) => {
      if (stat !== null) this.refresh(this.root, true);
    }, () => {});
  }

  private oneShotWatcher(): ((event: WatchedEvent) => void) | undefined {
    return this.watching === 'one_shot' ? this.watcher : undefined;
  }

  /** Applies the read's result (or its NoNode) as soon as the reply is in, before any later event. */
  private apply<T>(request: Promise<T>, onResult: (value: T) => void, onMissing: () => void): void {
    this.pending++;
    request
      .then(
        (value) => {
          if (this.phase === 'started') onResult(value);
        },
        (err: unknown) => {
          if (this.phase !== 'started') return;
          if (err instanceof NoNodeError) onMissing();
          else this.readFailed(err);
        },
      )
      .finally(() => {
        if (--this.pending === 0) this.quiet();
      });
  }

  private readFailed(err: unknown): void {
    if (isRetryable(err)) {
      // The reconnection reads everything again.
      this.roundFailed = true;
      this.stale = true;
      return;
    }
    if (err instanceof SessionExpiredError) {
      this.loaded?.reject(err);
      return;
    }
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private quiet(): void {
    if (this.phase === 'started' && !this.initialized && !this.roundFailed) {
      this.initialized = true;
      this.emit('initialized');
      this.loaded?.resolve();
    }
    for (const wake of this.quietWaiters.splice(0)) wake();
  }

  private untilQuiet(): Promise<void> {
    if (this.pending === 0) return Promise.resolve();
    return new Promise((resolve) => this.quietWaiters.push(resolve));
  }

  // ---- the cached tree ----

  private upsert(path: string, data: Buffer | null, stat: Stat): void {
    const parent = path === this.root ? null : this.nodes.get(parentOf(path));
    // A node whose parent is not cached (yet) comes in with the parent's own reading.
    if (parent === undefined) return;
    const entry = this.nodes.get(path);
    if (entry === undefined) {
      this.nodes.set(path, { data, stat, children: new Set() });
      parent?.children.add(nameOf(path));
      this.emit('nodeAdded', path, { data, stat });
    } else if (entry.stat.mzxid !== stat.mzxid) {
      entry.data = data;
      entry.stat = stat;
      this.emit('nodeUpdated', path, { data, stat });
    } else {
      entry.stat = stat;
    }
  }

  /** Children that went are dropped; new ones are read; with deep, known ones are read again too. */
  private reconcile(path: string, names: string[], deep: boolean): void {
    const entry = this.nodes.get(path);
    if (entry === undefined) return;
    const listed = new Set(names);
    for (const name of [...entry.children]) if (!listed.has(name)) this.removeSubtree(joinPath(path, name));
    for (const name of names) {
      const child = joinPath(path, name);
      if (deep || !this.nodes.has(child)) this.refresh(child, true);
    }
  }

  private removeSubtree(path: string): void {
    const entry = this.nodes.get(path);
    if (entry === undefined) return;
    for (const name of [...entry.children]) this.removeSubtree(joinPath(path, name));
    this.nodes.delete(path);
    if (path !== this.root) this.nodes.get(parentOf(path))?.children.delete(nameOf(path));
    this.emit('nodeRemoved', path);
  }

  /** 0 for the root, 1 for its children, …; Infinity for a path outside the root. */
  private depthOf(path: string): number {
    if (path === this.root) return 0;
    const prefix = this.root === '/' ? '/' : `${this.root}/`;
    if (!path.startsWith(prefix)) return Number.POSITIVE_INFINITY;
    return path.slice(prefix.length).split('/').length;
  }
}
