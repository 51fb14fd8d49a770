/**
 * A member's state from any pair of stores: the newest usable snapshot, then every logged entry
 * after it applied in order. The file stores' start (recovery.ts) adds what only files need: torn
 * tails, older formats, temp files.
 */
import type { DataTree } from '../tree/data-tree.ts';
import type { ReplicatedSettings } from '../tree/settings.ts';
import { EMPTY_POSITION, type LogPosition, type LogStore, type SnapshotStore } from './stores.ts';

export interface Restored {
  tree: DataTree;
  /** The position of the last entry applied. */
  last: LogPosition;
  /** Entries applied after the snapshot. */
  replayed: number;
}

/**
 * Null when the stores hold no snapshot (a member that never started: its first start writes one,
 * with the settings). A gap between the snapshot and the log is an error: the state would be wrong.
 */
export function restoreFromStores(snapshots: SnapshotStore, log: LogStore, settings: ReplicatedSettings, warn: (msg: string) => void): Restored | null {
  const snapshot = snapshots.loadNewest(settings.extendedTypes, warn);
  if (snapshot === null) return null;
  const tree = snapshot.tree;
  let last: LogPosition = { index: snapshot.index, term: snapshot.term, zxid: snapshot.zxid };
  const end = log.last().index + 1;
  if (end > last.index + 1 && log.firstIndex() > last.index + 1) {
    throw new Error(`the log starts at index ${log.firstIndex()}, after the snapshot at ${last.index}: entries are missing`);
  }
  let replayed = 0;
  for (const e of log.entries(last.index + 1, end)) {
    if (e.index !== last.index + 1) throw new Error(`log entry ${e.index} after ${last.index}: entries are missing`);
    tree.apply(e.entry);
    last = { index: e.index, term: e.term, zxid: e.entry.header.zxid };
    replayed++;
  }
  return { tree, last: last.index === 0 ? EMPTY_POSITION : last, replayed };
}
