/**
 * The client's side of watches (ZKWatchManager): which watcher functions wait on which path, which
 * of them a server event triggers, and the lists setWatches re-registers after a reconnect.
 * Paths here are the server's (chroot included).
 */
import { parentOf } from '../protocol/path.ts';
import { watcherTypeOf, type EventType, type Watcher, type WatcherType } from './types.ts';

type Kind = 'data' | 'exist' | 'child' | 'persistent' | 'persistentRecursive';

const KINDS: readonly Kind[] = ['data', 'exist', 'child', 'persistent', 'persistentRecursive'];

export interface WatchLists {
  dataWatches: string[];
  existWatches: string[];
  childWatches: string[];
  persistentWatches: string[];
  persistentRecursiveWatches: string[];
}

export class WatchRegistry {
  private readonly maps: Record<Kind, Map<string, Set<Watcher>>> = {
    data: new Map(), exist: new Map(), child: new Map(), persistent: new Map(), persistentRecursive: new Map(),
  };

  add(kind: Kind, path: string, watcher: Watcher): void {
    const map = this.maps[kind];
    let set = map.get(path);
    if (!set) map.set(path, (set = new Set()));
    set.add(watcher);
  }

  get size(): number {
    let n = 0;
    for (const kind of KINDS) for (const set of this.maps[kind].values()) n += set.size;
    return n;
  }

  /** The watchers a server event fires, one-shot ones removed (Watcher.Event semantics of 3.8). */
  trigger(type: EventType, path: string): Set<Watcher> {
    const out = new Set<Watcher>();
    const take = (kind: Kind): void => {
      const set = this.maps[kind].get(path);
      if (!set) return;
      for (const w of set) out.add(w);
      this.maps[kind].delete(path);
    };
    const keep = (kind: Kind, p: string): void => {
      const set = this.maps[kind].get(p);
      if (set) for (const w of set) out.add(w);
    };
    switch (type) {
      case 'NodeCreated':
      case 'NodeDataChanged':
        take('data');
        take('exist');
        break;
      case 'NodeChildrenChanged':
        take('child');
        break;
      case 'NodeDeleted':
        take('data');
        take('exist');
        take('child');
        break;
      default:
        return out;
    }
    keep('persistent', path);
    if (type !== 'NodeChildrenChanged') {
      for (let p = path; ; p = parentOf(p)) {
        keep('persistentRecursive', p);
        if (p === '/') break;
      }
    }
    return out;
  }

  /** Whether `watcher` (or any watcher, when undefined) of the given type waits on path. */
  has(path: string, type: WatcherType, watcher?: Watcher): boolean {
    return kindsOf(type).some((kind) => {
      const set = this.maps[kind].get(path);
      return set !== undefined && (watcher === undefined ? set.size > 0 : set.has(watcher));
    });
  }

  /** How many watchers of the type wait on path. */
  count(path: string, type: WatcherType): number {
    return kindsOf(type).reduce((n, kind) => n + (this.maps[kind].get(path)?.size ?? 0), 0);
  }

  /**
   * Removes watchers of the type from path (only `watcher`, when given) and returns each removed
   * watcher with the event type that tells it so: once per event type, child watches first, as
   * ZooKeeper's client reports them.
   */
  remove(path: string, type: WatcherType, watcher?: Watcher): [Watcher, EventType][] {
    const removed: [Watcher, EventType][] = [];
    const wanted = kindsOf(type);
    for (const [kinds, event] of REMOVAL_EVENTS) {
      const told = new Set<Watcher>();
      for (const kind of kinds) {
        if (!wanted.includes(kind)) continue;
        const set = this.maps[kind].get(path);
        if (!set) continue;
        for (const w of set) if (watcher === undefined || w === watcher) told.add(w);
        if (watcher === undefined) this.maps[kind].delete(path);
        else {
          set.delete(watcher);
          if (set.size === 0) this.maps[kind].delete(path);
        }
      }
      for (const w of told) removed.push([w, event]);
    }
    return removed;
  }

  /** Every watcher, and forget them all (the session has ended). */
  clear(): Set<Watcher> {
    const out = new Set<Watcher>();
    for (const kind of KINDS) {
      for (const set of this.maps[kind].values()) for (const w of set) out.add(w);
      this.maps[kind].clear();
    }
    return out;
  }

  /** The paths to re-register with setWatches after reconnecting. */
  lists(): WatchLists {
    return {
      dataWatches: [...this.maps.data.keys()],
      existWatches: [...this.maps.exist.keys()],
      childWatches: [...this.maps.child.keys()],
      persistentWatches: [...this.maps.persistent.keys()],
      persistentRecursiveWatches: [...this.maps.persistentRecursive.keys()],
    };
  }
}

const REMOVAL_EVENTS: readonly (readonly [Kind[], EventType])[] = [
  [['child'], 'ChildWatchRemoved'],
  [['data', 'exist'], 'DataWatchRemoved'],
  [['persistent', 'persistentRecursive'], 'PersistentWatchRemoved'],
];

function kindsOf(type: WatcherType): Kind[] {
  switch (watcherTypeOf(type)) {
    case 'children': return ['child'];
    case 'data': return ['data', 'exist'];
    case 'persistent': return ['persistent'];
    case 'persistent_recursive': return ['persistentRecursive'];
    case 'any': return [...KINDS];
    default: return [];
  }
}
