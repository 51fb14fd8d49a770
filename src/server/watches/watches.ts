/**
 * A member's watches: the data and child tables (ZooKeeper's two WatchManagers), filled by reads and
 * fired by the events that applying a Txn returns. Not replicated: each member holds the watches of
 * its own connections.
 */
import { Err, EventType, KeeperError } from '../../protocol/constants.ts';
import type { ACL } from '../../protocol/records.ts';
import type { DataTree } from '../tree/data-tree.ts';
import { WatchMode, WatchTable, type Watcher } from './watch-table.ts';

/** A change a Txn made that watches may be waiting for, with the ACL that decides who may hear of it. */
export interface WatchEvent {
  type: number;
  path: string;
  /** The znode's ACL (the parent's for NodeChildrenChanged). */
  acl: readonly ACL[];
}

export interface SetWatchesRequest {
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
  persistentWatches: string[];
  persistentRecursiveWatches: string[];
}

/** What a member does when a session would go over its watch limit. */
export interface WatchLimit {
  /** Watches one session may hold in both tables together (ensemble.maxWatchesPerSession); 0: no limit. */
  maxPerSession: number;
  /** Told the first time each connection is refused. */
  onRefused?(watcher: Watcher, held: number): void;
}

export class Watches {
  readonly data = new WatchTable();
  readonly child = new WatchTable();
  /** Requests refused (THROTTLEDOP) because they would have set watches beyond the limit. */
  refusedCount = 0;
  private readonly warned = new WeakSet<Watcher>();

  constructor(private readonly limit: WatchLimit = { maxPerSession: 0 }) {}

  /** A one-shot data watch (getData, exists). */
  watchData(path: string, watcher: Watcher): void {
    this.admit(path, watcher, this.data.contains(path, watcher) ? 0 : 1);
    this.data.add(path, watcher);
  }

  /** A one-shot child watch (getChildren). */
  watchChildren(path: string, watcher: Watcher): void {
    this.admit(path, watcher, this.child.contains(path, watcher) ? 0 : 1);
    this.child.add(path, watcher);
  }

  /**
   * Refuses (THROTTLEDOP: the request is not executed at all, as ZooKeeper's throttled requests)
   * a request that would take its session's watches beyond the limit. A connection holds one
   * session, so its watches are the session's.
   */
  private admit(path: string, watcher: Watcher, adding: number): void {
    const max = this.limit.maxPerSession;
    if (max <= 0 || adding === 0) return;
    const held = this.data.countOf(watcher) + this.child.countOf(watcher);
    if (held + adding <= max) return;
    this.refusedCount++;
    if (!this.warned.has(watcher)) {
      this.warned.add(watcher);
      this.limit.onRefused?.(watcher, held);
    }
    throw new KeeperError(Err.THROTTLEDOP, path);
  }

  /** Fire what a Txn's events trigger, in their order; a delete tells each watcher once. */
  deliver(events: readonly WatchEvent[], zxid: number): void {
    for (const e of events) {
      switch (e.type) {
        case EventType.NodeCreated:
        case EventType.NodeDataChanged:
          this.data.trigger(e.path, e.type, zxid, e.acl);
          break;
        case EventType.NodeChildrenChanged:
          this.child.trigger(e.path, e.type, zxid, e.acl);
          break;
        case EventType.NodeDeleted: {
          const fired = this.data.trigger(e.path, e.type, zxid, e.acl);
          this.child.trigger(e.path, e.type, zxid, e.acl, fired);
          break;
        }
      }
    }
  }

  addWatch(path: string, watcher: Watcher, recursive: boolean): void {
    this.admit(path, watcher, (this.data.contains(path, watcher) ? 0 : 1) + (this.child.contains(path, watcher) ? 0 : 1));
    this.setPersistent(path, watcher, recursive ? WatchMode.PersistentRecursive : WatchMode.Persistent);
  }

  private setPersistent(path: string, watcher: Watcher, mode: WatchMode): void {
    this.data.add(path, watcher, mode);
    this.child.add(path, watcher, mode);
  }

  /** Re-arm a reconnecting client's watches, firing at once those whose change it missed. */
  setWatches(tree: DataTree, relativeZxid: number, w: SetWatchesRequest, watcher: Watcher): void {
    // Counted before any is set, as if none fired at once: the request is refused whole or not at all.
    const most = w.dataWatches.length + w.existWatches.length + w.childWatches.length + 2 * (w.persistentWatches.length + w.persistentRecursiveWatches.length);
    this.admit('/', watcher, most);
    const zxid = tree.lastProcessedZxid;
    for (const path of w.dataWatches) {
      const n = tree.nodes.get(path);
      if (!n) watcher.notify(EventType.NodeDeleted, path, zxid);
      else if (n.mzxid > relativeZxid) watcher.notify(EventType.NodeDataChanged, path, zxid);
      else this.data.add(path, watcher);
    }
    for (const path of w.existWatches) {
      if (tree.nodes.has(path)) watcher.notify(EventType.NodeCreated, path, zxid);
      else this.data.add(path, watcher);
    }
    for (const path of w.childWatches) {
      const n = tree.nodes.get(path);
      if (!n) watcher.notify(EventType.NodeDeleted, path, zxid);
      else if (n.pzxid > relativeZxid) watcher.notify(EventType.NodeChildrenChanged, path, zxid);
      else this.child.add(path, watcher);
    }
    for (const path of w.persistentWatches) this.setPersistent(path, watcher, WatchMode.Persistent);
    for (const path of w.persistentRecursiveWatches) this.setPersistent(path, watcher, WatchMode.PersistentRecursive);
  }

  /** No watch is set: no event can be heard. */
  get isEmpty(): boolean {
    return this.data.pathCount === 0 && this.child.pathCount === 0;
  }

  /** A connection went away: its watches go with it (taken out by sweep, a slice at a time). */
  removeWatcher(watcher: Watcher): void {
    this.data.removeWatcher(watcher);
    this.child.removeWatcher(watcher);
  }

  /** Takes out up to `budget` watches of connections gone; true while some remain. */
  sweep(budget: number): boolean {
    return this.data.sweep(budget) || this.child.sweep(budget);
  }

  get watchCount(): number {
    return this.data.watchCount + this.child.watchCount;
  }
}

export { WatchMode, type Watcher } from './watch-table.ts';
