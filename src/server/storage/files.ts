/**
 * Names of the files in a data dir: `log.<index>`, `snapshot.<index>` and a member's `raft-log.<index>`,
 * in hex as ZooKeeper names its files by zxid. Files written before log format 2 and snapshot
 * format 3 are named by zxid, and there the index is the zxid (as it is on a standalone server).
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type FileKind = 'log' | 'snapshot' | 'raft-log';

export interface DataFile {
  kind: FileKind;
  /** For a log: the index of its first entry. For a snapshot: of the last entry applied when it began. */
  index: number;
  path: string;
}

export function fileName(kind: FileKind, index: number): string {
  return `${kind}.${index.toString(16)}`;
}

/** The data files of one kind in dir, oldest first; other files are ignored. */
export function listFiles(dir: string, kind: FileKind): DataFile[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  const prefix = `${kind}.`;
  const out: DataFile[] = [];
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const hex = name.slice(prefix.length);
    if (!/^[0-9a-f]{1,16}$/.test(hex)) continue;
    out.push({ kind, index: parseInt(hex, 16), path: join(dir, name) });
  }
  return out.sort((a, b) => a.index - b.index);
}

/** Bytes in the data files of one kind (what ZooKeeper reports as dataDirSize / dataLogSize). */
export function filesSize(dir: string, kind: FileKind): number {
  let total = 0;
  for (const f of listFiles(dir, kind)) {
    try {
      total += statSync(f.path).size;
    } catch {
      // removed meanwhile (retention)
    }
  }
  return total;
}
