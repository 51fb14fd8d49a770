/**
 * The simulated disk of the server: the in-memory log and snapshot stores, whose syncs take a random
 * while and whose unsynced entries a crash loses, under the server's real commit stage
 * (DurableCommit) and restore. Planted bugs, to show the simulator catches them, are wrappers
 * around the log.
 */
import type { Environment } from '../../src/server/env/environment.ts';
import type { CommitStage } from '../../src/server/pipeline/commit.ts';
import { MemoryLogStore } from '../../src/server/storage/memory-log-store.ts';
import { restoreFromStores } from '../../src/server/storage/restore.ts';
import { MemorySnapshotStore } from '../../src/server/storage/snapshot-stores.ts';
import { DurableCommit } from '../../src/server/storage/durable-commit.ts';
import type { LogStore, SnapshotStore } from '../../src/server/storage/stores.ts';
import { DataTree } from '../../src/server/tree/data-tree.ts';
import { SESSION_SECRET_BYTES } from '../../src/server/tree/settings.ts';
import type { TxnEntry } from '../../src/server/tree/txn.ts';
import type { VirtualWorld } from './virtual-env.ts';

export const PLANTED_BUGS = ['ack-before-fsync', 'drop-last-replayed'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

export class SimDisk {
  readonly log: MemoryLogStore;
  private readonly snapshots: MemorySnapshotStore;
  private readonly env: Environment;
  /** Bumped by a crash: a snapshot being written then never lands. */
  private generation = 0;

  constructor(private readonly world: VirtualWorld) {
    // A sync (write + fdatasync) takes 0.3 to 5 ms of virtual time.
    this.env = {
      clock: world.clock,
      random: world.random,
      scheduler: { ...world.scheduler, soon: (fn) => void world.scheduler.after(0.3 + world.random.float() * 4.7, fn) },
    };
    this.log = new MemoryLogStore(this.env);
    this.snapshots = new MemorySnapshotStore(this.env);
  }

  /**
   * Power lost: the log keeps what was synced and, of the batch being written, a random part (the
   * writes that reached the disk first); a snapshot being written is lost.
   */
  crash(): void {
    this.generation++;
    this.log.crash(this.world.random.int(this.log.unsyncedCount + 1));
  }

  /** Every Txn the log holds durably, in order. */
  durableEntries(): TxnEntry[] {
    return this.log.entries(1, this.log.last().index + 1).map((e) => e.entry);
  }

  /**
   * The server's state and commit stage at start: the state restored from the stores (or, on the
   * first start, a fresh tree whose settings a first snapshot makes durable), and the standalone
   * commit stage over them, with the planted bug, if any, in its log.
   */
  open(bug: PlantedBug | null): { tree: DataTree; commit: CommitStage } {
    const snapshots = this.crashableSnapshots();
    const restored = restoreFromStores(snapshots, bug === 'drop-last-replayed' ? hidingNewest(this.log) : this.log, { extendedTypes: false, sessionSecret: Buffer.alloc(0) }, () => {});
    const tree = restored?.tree ?? new DataTree({ extendedTypes: false, sessionSecret: this.world.random.bytes(SESSION_SECRET_BYTES) });
    const log = bug === 'ack-before-fsync' ? ackingEarly(this.log) : this.log;
    const commit = new DurableCommit(tree, log, snapshots, { snapCount: 40 + this.world.random.int(100), env: this.env, logger: silent }, this.log.last());
    if (restored === null) commit.snapshotNow();
    return { tree, commit };
  }

  /** The snapshot store as a process sees it: a save under way when the machine dies never lands. */
  private crashableSnapshots(): SnapshotStore {
    const store = this.snapshots;
    const generation = this.generation;
    return {
      save: async (tree, meta) => {
        await new Promise<void>((resolve) => this.env.scheduler.soon(resolve));
        if (generation !== this.generation) throw new Error('the machine crashed');
        return store.saveNow(tree, meta);
      },
      saveNow: (tree, meta) => store.saveNow(tree, meta),
      list: () => store.list(),
      loadNewest: (...args) => store.loadNewest(...args),
    };
  }
}

const silent = { info() {}, error() {} };

/** A log store that passes everything to `log` but what `overrides` replaces. */
function wrapping(log: LogStore, overrides: Partial<LogStore>): LogStore {
  return {
    append: (...args) => log.append(...args),
    sync: () => log.sync(),
    entries: (from, to) => log.entries(from, to),
    truncateAfter: (index) => log.truncateAfter(index),
    last: () => log.last(),
    firstIndex: () => log.firstIndex(),
    close: () => log.close(),
    ...overrides,
  };
}

/** Planted bug: each entry is acknowledged as soon as it is handed to the log, before it is synced. */
function ackingEarly(log: LogStore): LogStore {
  return wrapping(log, {
    append: (index, term, entry, done) => {
      log.append(index, term, entry, () => {});
      queueMicrotask(done);
    },
  });
}

/** Planted bug: replay stops one entry short of the end of the log (an off-by-one). */
function hidingNewest(log: LogStore): LogStore {
  return wrapping(log, { entries: (from, to) => log.entries(from, Math.min(to, log.last().index)) });
}
