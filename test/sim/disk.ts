/**
 * The simulated disk of the server: the in-memory log and snapshot stores, whose syncs take a random
 * while and whose unsynced entries a crash loses, and the server's commit stage over them. Planted
 * bugs, to show the simulator catches them, are wrappers around the log.
 */
import type { Environment } from '../../src/server/env/environment.ts';
import type { CommitStage } from '../../src/server/pipeline/commit.ts';
import { MemoryLogStore } from '../../src/server/storage/memory-log-store.ts';
import { restoreFromStores } from '../../src/server/storage/restore.ts';
import { MemorySnapshotStore } from '../../src/server/storage/snapshot-stores.ts';
import type { LogStore } from '../../src/server/storage/stores.ts';
import { epochOf } from '../../src/server/tree/zxid.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import { SESSION_SECRET_BYTES } from '../../src/server/tree/settings.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';
import type { VirtualWorld } from './virtual-env.ts';

export const PLANTED_BUGS = ['ack-before-fsync', 'drop-last-replayed'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

export class SimDisk {
  readonly log: MemoryLogStore;
  readonly snapshots: MemorySnapshotStore;

  constructor(private readonly world: VirtualWorld) {
    // A sync (write + fdatasync) takes 0.3 to 5 ms of virtual time.
    const env: Environment = {
      clock: world.clock,
      random: world.random,
      scheduler: { ...world.scheduler, soon: (fn) => void world.scheduler.after(0.3 + world.random.float() * 4.7, fn) },
    };
    this.log = new MemoryLogStore(env);
    this.snapshots = new MemorySnapshotStore(env);
  }

  /** Power lost: the log keeps only what was synced. */
  crash(): void {
    this.log.crash();
  }

  /** The server's state at start: restored from the stores, or a fresh tree whose settings are made durable. */
  open(bug: PlantedBug | null): DataTree {
    const log: LogStore = bug === 'drop-last-replayed' ? hidingNewest(this.log) : this.log;
    const restored = restoreFromStores(this.snapshots, log, { extendedTypes: false, sessionSecret: Buffer.alloc(0) }, () => {});
    if (restored !== null) return restored.tree;
    const tree = new DataTree({ extendedTypes: false, sessionSecret: this.world.random.bytes(SESSION_SECRET_BYTES) });
    this.snapshots.saveNow(tree, { index: 0, term: 0, zxid: 0, timeMs: this.world.clock.now() });
    return tree;
  }
}

/**
 * The server's commit stage on the simulated disk: each Txn appended to the log as the next entry,
 * done once it is synced; a snapshot every `snapEvery` entries. `applied` hears of each Txn as it
 * is handed back to be applied (what the server may then acknowledge).
 */
export class SimCommit implements CommitStage {
  private lastIndex: number;
  private sinceSnapshot = 0;
  private crashed = false;

  constructor(
    private readonly disk: SimDisk,
    private readonly tree: DataTree,
    private readonly world: VirtualWorld,
    private readonly options: { snapEvery: number; bug: PlantedBug | null; applied: (entry: TxnEntry) => void },
  ) {
    this.lastIndex = disk.log.last().index;
  }

  submit(entry: TxnEntry, done: () => void): void {
    const index = ++this.lastIndex;
    const complete = (): void => {
      if (this.crashed) return;
      this.options.applied(entry);
      done();
      if (++this.sinceSnapshot >= this.options.snapEvery) this.snapshot(index, entry);
    };
    if (this.options.bug === 'ack-before-fsync') {
      this.disk.log.append(index, epochOf(entry.header.zxid), entry, () => {});
      queueMicrotask(complete);
    } else {
      this.disk.log.append(index, epochOf(entry.header.zxid), entry, complete);
    }
  }

  /** The machine died: nothing more completes. */
  crash(): void {
    this.crashed = true;
  }

  async close(): Promise<void> {
    if (!this.crashed) await this.disk.log.sync();
  }

  private snapshot(index: number, entry: TxnEntry): void {
    this.sinceSnapshot = 0;
    const zxid = entry.header.zxid;
    this.disk.snapshots.saveNow(this.tree, { index, term: epochOf(zxid), zxid, timeMs: this.world.clock.now() });
  }
}

/** Planted bug: replay stops one entry short of the end of the log (an off-by-one). */
function hidingNewest(log: LogStore): LogStore {
  return {
    append: (...args) => log.append(...args),
    sync: () => log.sync(),
    entries: (from, to) => log.entries(from, Math.min(to, log.last().index)),
    truncateAfter: (index) => log.truncateAfter(index),
    last: () => log.last(),
    firstIndex: () => log.firstIndex(),
    close: () => log.close(),
  };
}
