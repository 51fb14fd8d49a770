/**
 * The files' storage as the pipeline's commit stage: recovery from the data dir at open, the
 * replicated settings made durable, then the durable commit (log with group commit, snapshots)
 * over the file stores, and retention.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Environment, Timer } from '../env/environment.ts';
import { realEnvironment } from '../env/real.ts';
import type { CommitStage } from '../pipeline/commit.ts';
import type { DataTree } from '../tree/data-tree.ts';
import { SESSION_SECRET_BYTES, type ReplicatedSettings } from '../tree/settings.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { FileLogStore, type BatchWritten } from './file-log-store.ts';
import { purge } from './purge.ts';
import { recover, type Recovered } from './recovery.ts';
import { DurableCommit } from './durable-commit.ts';
import { FileSnapshotStore } from './snapshot-stores.ts';
import { hex } from '../tree/zxid.ts';

export interface StorageOptions {
  dataDir: string;
  logDir: string;
  forceSync: boolean;
  /** A snapshot after a random number of txns in (snapCount/2, snapCount] (ZooKeeper's spread). */
  snapCount: number;
  preallocBytes: number;
  rollBytes: number;
  /** Largest record accepted when reading the log back. */
  maxRecordBytes: number;
  /** Recorded in the snapshots; when it differs from what a data dir recorded, this wins. */
  extendedTypes: boolean;
  /** Snapshots kept by autopurge; 0 with purgeIntervalHours 0 disables it. */
  snapRetainCount: number;
  purgeIntervalHours: number;
  onBatchWritten?: BatchWritten;
  /** How long recovery took (ms), then each snapshot's writing. */
  onRecovered?: (ms: number) => void;
  onSnapshot?: (ms: number) => void;
}

export interface StorageLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** Where versions before snapshot format 3 kept the session secret (read once, to migrate). */
const LEGACY_SECRET_FILE = 'session.secret';
/** How long after a start that replayed the log its snapshot waits, not to slow the first requests. */
const SNAPSHOT_AFTER_REPLAY_MS = 1_000;

export class Storage implements CommitStage {
  readonly tree: DataTree;
  readonly recovered: Recovered;
  private readonly commit: DurableCommit;
  private snapshotTimer: Timer | null = null;
  private purgeTimer: Timer | null = null;
  private fatal: ((err: Error) => void) | null = null;

  constructor(private readonly options: StorageOptions, private readonly logger: StorageLog, private readonly env: Environment = realEnvironment) {
    mkdirSync(options.dataDir, { recursive: true });
    mkdirSync(options.logDir, { recursive: true });
    const started = env.clock.monotonic();
    this.recovered = recover({
      dataDir: options.dataDir,
      logDir: options.logDir,
      extendedTypes: options.extendedTypes,
      maxRecordBytes: options.maxRecordBytes,
      warn: (msg) => logger.warn(msg),
      env,
    });
    this.tree = this.recovered.tree;
    const r = this.recovered;
    const recoveryMs = env.clock.monotonic() - started;
    options.onRecovered?.(recoveryMs);
    logger.info({
      snapshot: r.snapshot, snapshotZxid: hex(r.snapshotZxid), replayed: r.replayed, lastZxid: hex(r.lastZxid),
      znodes: this.tree.nodeCount, sessions: this.tree.sessions.size, ms: Math.round(recoveryMs),
    }, 'state recovered');
    const log = new FileLogStore({
      dir: options.logDir,
      forceSync: options.forceSync,
      rollBytes: options.rollBytes,
      preallocBytes: options.preallocBytes,
      maxRecordBytes: options.maxRecordBytes,
      onFatal: (err) => this.onFatal(err),
      onBatchWritten: options.onBatchWritten,
      log: logger,
    }, env, r.last);
    this.commit = new DurableCommit(this.tree, log, new FileSnapshotStore(options.dataDir, env), { snapCount: options.snapCount, env, logger, onSnapshot: options.onSnapshot }, r.last);
    const recorded = this.settleSettings();
    // A replay is folded into a snapshot once the server has started, so the next start is quick.
    if (r.replayed > 0 && !recorded) this.snapshotTimer = env.scheduler.after(SNAPSHOT_AFTER_REPLAY_MS, () => this.snapshotSoon());
    if (options.purgeIntervalHours > 0) this.purgeTimer = env.scheduler.every(options.purgeIntervalHours * 3_600_000, () => this.purge());
  }

  /** Key of the session passwords: replicated state, recorded in the snapshots. */
  get secret(): Buffer {
    return this.tree.settings.sessionSecret;
  }

  /** What to do when the disk fails (the server stops: it can no longer acknowledge writes). */
  onFailure(handler: (err: Error) => void): void {
    this.fatal = handler;
  }

  submit(entry: TxnEntry, done: () => void): void {
    this.commit.submit(entry, done);
  }

  /** Resolves once every txn submitted so far is on disk. */
  sync(): Promise<void> {
    return this.commit.sync();
  }

  async close(): Promise<void> {
    this.purgeTimer?.cancel();
    if (this.snapshotTimer) this.snapshotSoon();
    await this.commit.close();
  }

  /** Takes a snapshot now (unless one is being written); resolves when it is on disk. */
  snapshot(): Promise<void> {
    this.snapshotTimer?.cancel();
    this.snapshotTimer = null;
    return this.commit.snapshot();
  }

  private snapshotSoon(): void {
    void this.snapshot();
  }

  /**
   * Makes the tree's replicated settings durable where they are not yet: a fresh data dir gets a
   * new secret; one written before snapshot format 3 keeps its `session.secret` (sessions survive
   * the upgrade); a configured extendedTypes that differs from the recorded one wins. Each of these
   * writes a snapshot at once, before anything is served. Returns whether one was written.
   */
  private settleSettings(): boolean {
    const r = this.recovered;
    const configured = this.options.extendedTypes;
    if (r.settings === null) {
      const legacy = readLegacySecret(this.options.dataDir);
      const settings: ReplicatedSettings = { extendedTypes: configured, sessionSecret: legacy ?? this.env.random.bytes(SESSION_SECRET_BYTES) };
      this.tree.adoptSettings(settings);
      if (r.snapshot !== null || r.last.index > 0) {
        this.logger.info({
          from: r.snapshot ?? 'the log', extendedTypes: configured,
          sessionSecret: legacy ? `from ${LEGACY_SECRET_FILE}` : `new (no ${LEGACY_SECRET_FILE}: sessions from before the restart cannot be resumed)`,
        }, 'data dir written before settings were recorded: recording them in a snapshot (format 3)');
      }
    } else if (r.settings.extendedTypes !== configured) {
      this.logger.warn(`extendedTypesEnabled is ${configured} in the configuration but ${r.settings.extendedTypes} in the data dir (${r.snapshot}): the configuration wins, and a snapshot records it`);
      this.tree.adoptSettings({ ...r.settings, extendedTypes: configured });
    } else {
      return false;
    }
    this.commit.snapshotNow();
    return true;
  }

  private purge(): void {
    try {
      const { removed } = purge(this.options.dataDir, this.options.logDir, this.options.snapRetainCount);
      if (removed.length > 0) this.logger.info({ removed }, 'autopurge');
    } catch (err) {
      this.logger.error({ err }, 'autopurge failed');
    }
  }

  private onFatal(err: Error): void {
    this.logger.error({ err }, 'the transaction log cannot be written: stopping');
    if (this.fatal) this.fatal(err);
    else throw err;
  }
}

function readLegacySecret(dataDir: string): Buffer | null {
  try {
    const secret = readFileSync(join(dataDir, LEGACY_SECRET_FILE));
    return secret.length === SESSION_SECRET_BYTES ? secret : null;
  } catch {
    return null;
  }
}
