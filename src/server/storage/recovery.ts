/**
 * Recovery at start: the newest snapshot that reads back intact and that the log can carry on from
 * (an older one otherwise), then every logged entry after it (see log-replay.ts).
 */
import type { Environment } from '../env/environment.ts';
import { realEnvironment } from '../env/real.ts';
import { DataTree } from '../tree/data-tree.ts';
import type { ReplicatedSettings } from '../tree/settings.ts';
import { listFiles } from './files.ts';
import { RecoveryError, replayLog, type Replayed } from './log-replay.ts';
import { FileSnapshotStore } from './snapshot-stores.ts';
import { EMPTY_POSITION, type LogPosition } from './stores.ts';
import { hex } from '../tree/zxid.ts';

export { RecoveryError };

export interface RecoveryOptions {
  dataDir: string;
  logDir: string;
  /** For data written before the settings were recorded. */
  extendedTypes: boolean;
  maxRecordBytes: number;
  warn: (msg: string) => void;
  env?: Environment;
}

export interface Recovered {
  tree: DataTree;
  /** The snapshot the state started from (null: an empty tree). */
  snapshot: string | null;
  snapshotZxid: number;
  /** Txns replayed from the log. */
  replayed: number;
  lastZxid: number;
  /** The last entry of the log, or the snapshot's position when the log holds nothing after it. */
  last: LogPosition;
  /** The settings the snapshot recorded; null when it did not (format 2, or no snapshot). */
  settings: ReplicatedSettings | null;
}

export function recover(opts: RecoveryOptions): Recovered {
  const snapshots = new FileSnapshotStore(opts.dataDir, opts.env ?? realEnvironment);
  snapshots.removeTempFiles();
  let replay: Replayed = { last: EMPTY_POSITION, replayed: 0 };
  const restored = snapshots.loadNewest(opts.extendedTypes, opts.warn, (s) => {
    quotaWarnings(s.tree, opts.warn);
    replay = replayLog(opts, s, (r) => s.tree.apply(r.entry));
    // A fuzzy snapshot may hold effects of txns up to its endZxid: the log must reach that far.
    if (replay.last.zxid >= s.endZxid) return null;
    return `holds txns up to ${hex(s.endZxid)} but the log ends at ${hex(replay.last.zxid)}`;
  });
  if (restored) {
    return {
      tree: restored.tree, snapshot: restored.name, snapshotZxid: restored.zxid, replayed: replay.replayed, lastZxid: replay.last.zxid,
      last: replay.last, settings: restored.settings,
    };
  }
  const logs = listFiles(opts.logDir, 'log');
  if (snapshots.list().length > 0) {
    if (logs.length === 0 || logs[0].index > 1) {
      throw new RecoveryError(`no usable snapshot in ${opts.dataDir}, and the log does not reach back to the start`);
    }
    opts.warn('no usable snapshot: rebuilding the state from the whole log');
  }
  const tree = new DataTree({ extendedTypes: opts.extendedTypes });
  quotaWarnings(tree, opts.warn);
  replay = replayLog(opts, EMPTY_POSITION, (r) => tree.apply(r.entry));
  return { tree, snapshot: null, snapshotZxid: 0, replayed: replay.replayed, lastZxid: replay.last.zxid, last: replay.last, settings: null };
}

/** Quota bookkeeping that fails while replaying (where ZooKeeper would not start) is a warning. */
function quotaWarnings(tree: DataTree, warn: (msg: string) => void): void {
  tree.onQuotaError = (err, path) => warn(`replaying the change of ${path}: quota statistics not updated (${err.message})`);
}
