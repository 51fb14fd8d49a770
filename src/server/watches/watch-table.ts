/**
 * One table of watches (ZooKeeper keeps two: data and child). A watcher is a connection; each
 * (watcher, path) pair has one mode, and setting a standard watch over a persistent one replaces
 * it, as in Apache ZooKeeper 3.8.
 */
import { EventType, Perms } from '../../protocol/constants.ts';
import { parentOf } from '../../protocol/path.ts';
import type { ACL, Id } from '../../protocol/records.ts';
import { mayAccess } from '../auth/acl.ts';
import { PathMap, PathSet } from './path-shards.ts';

export interface Watcher {
  readonly sessionId: bigint;
  /** The identities an event's ACL is checked against when it is delivered. */
  readonly authInfo: readonly Id[];
  /** Deliver one event. Called right after the txn that caused it is applied, before its reply. */
  notify(type: number, path: string, zxid: number): void;
}

const NONE: ReadonlySet<Watcher> = new Set();

export enum WatchMode { Standard = 0, Persistent = 1, PersistentRecursive = 2 }

/**
 * The watches on one path. Nearly every path has a single standard watch: that is held as the
 * watcher itself, so a million watches do not cost a million Maps (and the garbage collector's
 * time to trace them); a second watcher or another mode turns it into a Map.
 */
type PathWatches = Watcher | Map<Watcher, WatchMode>;

function modeIn(at: PathWatches | undefined, watcher: Watcher): WatchMode | undefined {
  if (at === undefined) return undefined;
  if (at instanceof Map) return at.get(watcher);
  return at === watcher ? WatchMode.Standard : undefined;
}

export class WatchTable {
  private readonly byPath = new PathMap<PathWatches>();
  private readonly byWatcher = new Map<Watcher, PathSet>();
  /**
   * Watchers gone (their connection closed) whose watches are still being taken out of byPath, a
   * slice at a time (sweep): a session with a million watches must not stall the event loop when
   * it leaves. They are heard no more meanwhile.
   */
  private readonly leaving = new Map<Watcher, Iterator<string>>();
  private recursiveCount = 0;

  add(path: string, watcher: Watcher, mode: WatchMode = WatchMode.Standard): void {
    const at = this.byPath.get(path);
    if (at === undefined) {
      this.byPath.set(path, mode === WatchMode.Standard ? watcher : new Map([[watcher, mode]]));
    } else {
      const previous = modeIn(at, watcher);
      if (previous === WatchMode.PersistentRecursive) this.recursiveCount--;
      if (at instanceof Map) at.set(watcher, mode);
      else if (at !== watcher || mode !== WatchMode.Standard) this.byPath.set(path, new Map([[at, WatchMode.Standard], [watcher, mode]]));
    }
    if (mode === WatchMode.PersistentRecursive) this.recursiveCount++;
    let paths = this.byWatcher.get(watcher);
    if (!paths) this.byWatcher.set(watcher, (paths = new PathSet()));
    paths.add(path);
  }

  /** Watches this watcher has in the table. */
  countOf(watcher: Watcher): number {
    return this.byWatcher.get(watcher)?.size ?? 0;
  }

  /**
   * Fire the watches an event on `path` triggers: every watch on the path itself (standard ones are
   * consumed) and recursive watches on its ancestors (never for NodeChildrenChanged). Each watcher is
   * told once, and only if `acl` (the znode's, or the parent's for NodeChildrenChanged) lets it
   * READ: a withheld event still consumes a one-shot watch (CVE-2024-23944, as ZooKeeper's fix).
   * Returns the watchers triggered so a second table can skip them (a delete fires data and child
   * watches once).
   */
  trigger(path: string, type: number, zxid: number, acl: readonly ACL[], skip?: ReadonlySet<Watcher>): ReadonlySet<Watcher> {
    // Most changes fire nothing: no watch on the path, no recursive watch anywhere.
    if (this.recursiveCount === 0 && !this.byPath.has(path)) return NONE;
    const fired = new Set<Watcher>();
    this.collect(path, path, type, fired);
    if (this.recursiveCount > 0 && path !== '/') {
      for (let p = parentOf(path); ; p = parentOf(p)) {
        this.collect(p, path, type, fired);
        if (p === '/') break;
      }
    }
    for (const w of fired) {
      if (!skip?.has(w) && mayAccess(acl, Perms.READ, w.authInfo)) w.notify(type, path, zxid);
    }
    return fired;
  }

  private collect(at: string, eventPath: string, type: number, into: Set<Watcher>): void {
    const watchers = this.byPath.get(at);
    if (watchers === undefined) return;
    if (!(watchers instanceof Map)) {
      // A single standard watch: it fires (and is consumed) only on its own path.
      if (at === eventPath && !this.leaving.has(watchers)) {
        into.add(watchers);
        this.byPath.delete(at);
        this.byWatcher.get(watchers)?.delete(at);
      }
      return;
    }
    const atPath = at === eventPath;
    for (const [w, mode] of watchers) {
      if (this.leaving.has(w)) continue;
      if (mode === WatchMode.PersistentRecursive) {
        if (type !== EventType.NodeChildrenChanged) into.add(w);
      } else if (atPath) {
        into.add(w);
        if (mode === WatchMode.Standard) {
          watchers.delete(w);
          this.byWatcher.get(w)?.delete(at);
        }
      }
    }
    if (watchers.size === 0) this.byPath.delete(at);
  }

  /** Remove one watch; false when the watcher had none on the path. */
  remove(path: string, watcher: Watcher): boolean {
    const paths = this.byWatcher.get(watcher);
    if (!paths || !paths.delete(path)) return false;
    return this.takeOut(path, watcher);
  }

  /** Takes the watcher's watch on path out of byPath; false when there was none. */
  private takeOut(path: string, watcher: Watcher): boolean {
    const at = this.byPath.get(path);
    const mode = modeIn(at, watcher);
    if (mode === undefined) return false;
    if (mode === WatchMode.PersistentRecursive) this.recursiveCount--;
    if (at instanceof Map) {
      at.delete(watcher);
      if (at.size === 0) this.byPath.delete(path);
    } else {
      this.byPath.delete(path);
    }
    return true;
  }

  /**
   * As ZooKeeper 3.8's containsWatcher: a watch of this watcher registered on exactly this path
   * (a recursive watch on an ancestor does not count).
   */
  contains(path: string, watcher: Watcher): boolean {
    return modeIn(this.byPath.get(path), watcher) !== undefined;
  }

  /** A connection went away: none of its watches fires from now on; sweep() takes them out. */
  removeWatcher(watcher: Watcher): void {
    const paths = this.byWatcher.get(watcher);
    if (!paths) return;
    this.byWatcher.delete(watcher);
    this.leaving.set(watcher, paths[Symbol.iterator]());
  }

  /** Takes out up to `budget` watches of watchers gone; true while some remain. */
  sweep(budget: number): boolean {
    for (const [watcher, paths] of this.leaving) {
      for (;;) {
        if (budget-- <= 0) return true;
        const next = paths.next();
        if (next.done === true) break;
        this.takeOut(next.value, watcher);
      }
      this.leaving.delete(watcher);
    }
    return false;
  }

  get pathCount(): number {
    return this.byPath.size;
  }

  get watchCount(): number {
    let n = 0;
    for (const paths of this.byWatcher.values()) n += paths.size;
    return n;
  }

  get watcherCount(): number {
    return this.byWatcher.size;
  }

  /** session id -> paths, for wchc. */
  bySession(): Map<bigint, Set<string>> {
    const out = new Map<bigint, Set<string>>();
    for (const [w, paths] of this.byWatcher) {
      if (paths.size === 0) continue;
      let s = out.get(w.sessionId);
      if (!s) out.set(w.sessionId, (s = new Set()));
      for (const p of paths) s.add(p);
    }
    return out;
  }

  /** path -> session ids, for wchp. */
  byPathSessions(): Map<string, bigint[]> {
    const out = new Map<string, bigint[]>();
    for (const [p, watchers] of this.byPath.entries()) {
      const sessions: bigint[] = [];
      for (const w of watchers instanceof Map ? watchers.keys() : [watchers]) if (!this.leaving.has(w)) sessions.push(w.sessionId);
      if (sessions.length > 0) out.set(p, sessions);
    }
    return out;
  }
}
