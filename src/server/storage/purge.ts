/**
 * Retention (PurgeTxnLog): keep the newest `retain` snapshots and the log segments needed to replay
 * from the oldest of them; delete the rest.
 */
import { rmSync } from 'node:fs';
import { listFiles } from './files.ts';

export const MIN_SNAP_RETAIN_COUNT = 3;

export interface PurgeResult {
  removed: string[];
}

export function purge(dataDir: string, logDir: string, retain: number): PurgeResult {
  if (!Number.isInteger(retain) || retain < MIN_SNAP_RETAIN_COUNT) {
    throw new Error(`snapRetainCount must be at least ${MIN_SNAP_RETAIN_COUNT}`);
  }
  const snapshots = listFiles(dataDir, 'snapshot');
  if (snapshots.length <= retain) return { removed: [] };
  const kept = snapshots.slice(-retain);
  const oldestKeptIndex = kept[0].index;
  const removed: string[] = [];
  for (const snap of snapshots.slice(0, -retain)) {
    rmSync(snap.path, { force: true });
    removed.push(snap.path);
  }
  // A segment is needed if it holds index oldestKeptIndex + 1 or later: keep the last one starting at
  // or before that, and everything after it.
  const logs = listFiles(logDir, 'log');
  let firstNeeded = 0;
  for (let i = 0; i < logs.length; i++) if (logs[i].index <= oldestKeptIndex + 1) firstNeeded = i;
  for (const seg of logs.slice(0, firstNeeded)) {
    rmSync(seg.path, { force: true });
    removed.push(seg.path);
  }
  return { removed };
}
