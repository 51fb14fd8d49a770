/**
 * The commit stage of a standalone member, over any log and snapshot store: each Txn is appended as
 * the next entry (its term the zxid's epoch) and handed back once the store has made it durable
 * (group commit), and a fuzzy snapshot follows a random number of Txns in (snapCount/2, snapCount],
 * ZooKeeper's spread. The files' Storage and the simulator both run it.
 */
import type { Environment } from '../env/environment.ts';
import type { CommitStage } from '../pipeline/commit.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { epochOf, hex } from '../tree/zxid.ts';
import type { LogPosition, LogStore, SnapshotInfo, SnapshotMeta, SnapshotStore } from './stores.ts';

export interface CommitLog {
  info(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

export interface DurableCommitOptions {
  snapCount: number;
  env: Environment;
  logger: CommitLog;
  /** Each snapshot written, and how long it took (ms). */
  onSnapshot?: (ms: number) => void;
}

export class DurableCommit implements CommitStage {
  /** The last entry submitted. */
  private lastIndex: number;
  private lastZxid: number;
  private txnsSinceSnapshot = 0;
  private nextSnapshotAt: number;
  private snapshotting: Promise<void> | null = null;

  /** `last`: the position of the last entry in the log (where the next one follows). */
  constructor(
    private readonly tree: DataTree,
    private readonly log: LogStore,
    private readonly snapshots: SnapshotStore,
    private readonly options: DurableCommitOptions,
    last: LogPosition,
  ) {
    this.lastIndex = last.index;
    this.lastZxid = last.zxid;
    this.nextSnapshotAt = this.randomSnapInterval();
  }

  submit(entry: TxnEntry, done: () => void): void {
    const zxid = entry.header.zxid;
    this.lastZxid = zxid;
    this.log.append(++this.lastIndex, epochOf(zxid), entry, done);
    if (++this.txnsSinceSnapshot >= this.nextSnapshotAt) this.snapshotSoon();
  }

  /** Resolves once every Txn submitted so far is durable. */
  sync(): Promise<void> {
    return this.log.sync();
  }

  /** Takes a snapshot now (unless one is being written); resolves when it is stored. */
  snapshot(): Promise<void> {
    this.snapshotSoon();
    return this.snapshotting ?? Promise.resolve();
  }

  /** Writes a snapshot at once (at start, before anything is served). */
  snapshotNow(): void {
    const started = this.options.env.clock.monotonic();
    this.logSnapshot(this.snapshots.saveNow(this.tree, this.snapshotMeta()), started);
  }

  async close(): Promise<void> {
    await this.snapshotting;
    await this.log.close();
  }

  private snapshotSoon(): void {
    if (this.snapshotting) return;
    this.txnsSinceSnapshot = 0;
    this.nextSnapshotAt = this.randomSnapInterval();
    this.log.roll?.();
    // No need to wait for the log: the tree holds only applied Txns, and a Txn is applied only once
    // it is durable, so whatever the snapshot catches is in the log too.
    const started = this.options.env.clock.monotonic();
    this.snapshotting = this.snapshots.save(this.tree, this.snapshotMeta()).then((info) => this.logSnapshot(info, started), (err: unknown) => {
      this.options.logger.error({ err }, 'snapshot failed; the log still holds every txn');
    }).finally(() => {
      this.snapshotting = null;
    });
  }

  private snapshotMeta(): SnapshotMeta {
    const zxid = this.tree.lastProcessedZxid;
    // Standalone, each zxid and each index is the one before + 1: the applied zxid's index is as far
    // behind the last index as the zxid is behind the last zxid.
    return { index: this.lastIndex - (this.lastZxid - zxid), term: epochOf(zxid), zxid, timeMs: this.options.env.clock.now() };
  }

  private logSnapshot(info: SnapshotInfo, started: number): void {
    const ms = this.options.env.clock.monotonic() - started;
    this.options.onSnapshot?.(ms);
    this.options.logger.info({
      path: info.path, index: info.index, zxid: hex(info.zxid), znodes: info.nodes, bytes: info.bytes, ms: Math.round(ms),
    }, 'snapshot written');
  }

  private randomSnapInterval(): number {
    const half = Math.max(1, Math.floor(this.options.snapCount / 2));
    return half + 1 + Math.floor(this.options.env.random.float() * half);
  }
}
