/**
 * The three stores a member keeps on disk, each behind a narrow interface with a file
 * implementation and an in-memory twin for the simulator:
 *
 *   LogStore        Raft entries (index, term, Txn), group-committed
 *   HardStateStore  { term, vote, commit }, replaced atomically
 *   SnapshotStore   fuzzy snapshots of the tree with the position they start from
 */
import type { DataTree } from '../tree/data-tree.ts';
import type { ReplicatedSettings } from '../tree/settings.ts';
import type { TxnEntry } from '../tree/txn.ts';

/** Where an entry sits in the log. The zxid is its Txn's (header.zxid). */
export interface LogPosition {
  index: number;
  term: number;
  zxid: number;
}

export const EMPTY_POSITION: Readonly<LogPosition> = Object.freeze({ index: 0, term: 0, zxid: 0 });

export interface LogEntry {
  index: number;
  term: number;
  entry: TxnEntry;
}

export interface LogStore {
  /**
   * Appends the entry after the last one (index = last index + 1). Entries appended while a batch is
   * being made durable go together into the next batch; `done` runs once this one is durable, in
   * index order.
   */
  append(index: number, term: number, entry: TxnEntry, done: () => void): void;
  /** Resolves once everything appended so far is durable. */
  sync(): Promise<void>;
  /** The durable entries with index in [from, to), in order. */
  entries(from: number, to: number): LogEntry[];
  /** Removes every entry after `index`, durably (waits for the appends in flight first). */
  truncateAfter(index: number): Promise<void>;
  /** The last entry appended (durable or not); the start position when the log is empty. */
  last(): LogPosition;
  /** The index of the first entry held, or last().index + 1 when none is. */
  firstIndex(): number;
  /** At a snapshot: a store that keeps segments starts a new one, so that old ones can be purged. */
  roll?(): void;
  close(): Promise<void>;
}

export interface HardState {
  term: number;
  /** The member voted for in `term`; 0 for none. */
  vote: number;
  commit: number;
}

export interface HardStateStore {
  /** The last state saved; all zeros when none was. */
  load(): HardState;
  /** Replaces the saved state atomically: after a crash, either the old one or the new one reads back. */
  save(state: HardState): void;
}

export interface SnapshotMeta extends LogPosition {
  /** Wall-clock time the snapshot began. */
  timeMs: number;
}

export interface SnapshotInfo {
  /** The file written ('' for the memory store). */
  path: string;
  index: number;
  zxid: number;
  nodes: number;
  sessions: number;
  bytes: number;
}

export interface RestoredSnapshot extends LogPosition {
  /** Where it came from (a path for files). */
  name: string;
  tree: DataTree;
  /** The last txn applied when it finished: replay must reach it for the snapshot to be usable. */
  endZxid: number;
  /** null for a format that had no settings (snapshot format 2). */
  settings: ReplicatedSettings | null;
}

export interface SnapshotListing {
  name: string;
  index: number;
}

export interface SnapshotStore {
  /** Writes a fuzzy snapshot a slice at a time, so requests go on meanwhile. */
  save(tree: DataTree, meta: SnapshotMeta): Promise<SnapshotInfo>;
  /** Writes it at once (at start, before anything is served). */
  saveNow(tree: DataTree, meta: SnapshotMeta): SnapshotInfo;
  /** Oldest first. */
  list(): SnapshotListing[];
  /**
   * The newest snapshot that reads back intact and that `usable` accepts (it may replay the log
   * onto the tree, which is then returned as it left it); damage and refusals go to `warn`.
   * `extendedTypes` is for the formats that did not record it. null when none is left.
   */
  loadNewest(extendedTypes: boolean, warn: (msg: string) => void, usable?: (s: RestoredSnapshot) => string | null): RestoredSnapshot | null;
}
