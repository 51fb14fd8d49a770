import type { WatchedEvent, Watcher } from './types.ts';

/**
 * The awaitable form of a one-shot watch:
 *
 *   const w = watchOnce();
 *   const { data } = await zk.getData('/config', { watch: w.watcher });
 *   const event = await w.event; // NodeDataChanged, NodeDeleted … or None when the session ended
 */
export function watchOnce(): { watcher: Watcher; event: Promise<WatchedEvent> } {
  let deliver!: (e: WatchedEvent) => void;
  const event = new Promise<WatchedEvent>((resolve) => (deliver = resolve));
  return { watcher: (e) => deliver(e), event };
}
