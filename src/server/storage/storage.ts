/**
 * Durable storage as the pipeline's commit stage: recovery at open, every txn into the log (group
 * commit) before it is applied, a snapshot every snapCount txns, and retention.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { CommitStage } from '../pipeline/commit.ts';
import type { DataTree } from '../tree/data-tree.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { hex } from './files.ts';
import { purge } from './purge.ts';
import { recover, type Recovered } from './recovery.ts';
import { writeSnapshot } from './snapshot.ts';
import { fsyncDir, TxnLog } from './txn-log.ts';

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
  extendedTypes: boolean;
  /** Snapshots kept by autopurge; 0 with purgeIntervalHours 0 disables it. */
  snapRetainCount: number;
  purgeIntervalHours: number;
}

export interface StorageLog {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

const SECRET_FILE = 'session.secret';
/** How long after a start that replayed the log its snapshot waits, not to slow the first requests. */
const SNAPSHOT_AFTER_REPLAY_MS = 1_000;

export class Storage implements CommitStage {
  readonly tree: DataTree;
  readonly recovered: Recovered;
  /** Key of the session passwords: kept on disk so that sessions survive a restart. */
  readonly secret: Buffer;
  private readonly log: TxnLog;
  private txnsSinceSnapshot = 0;
  private nextSnapshotAt: number;
  private snapshotting: Promise<void> | null = null;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private purgeTimer: NodeJS.Timeout | null = null;
  private fatal: ((err: Error) => void) | null = null;

  constructor(private readonly options: StorageOptions, private readonly logger: StorageLog) {
    mkdirSync(options.dataDir, { recursive: true });
    mkdirSync(options.logDir, { recursive: true });
    this.secret = loadSecret(options.dataDir);
    const started = performance.now();
    this.recovered = recover({
      dataDir: options.dataDir,
      logDir: options.logDir,
      extendedTypes: options.extendedTypes,
      maxRecordBytes: options.maxRecordBytes,
      warn: (msg) => logger.warn(msg),
    });
    this.tree = this.recovered.tree;
    const r = this.recovered;
    logger.info({
      snapshot: r.snapshot, snapshotZxid: hex(r.snapshotZxid), replayed: r.replayed, lastZxid: hex(r.lastZxid),
      znodes: this.tree.nodeCount, sessions: this.tree.sessions.size, ms: Math.round(performance.now() - started),
    }, 'state recovered');
    this.log = new TxnLog({
      dir: options.logDir,
      forceSync: options.forceSync,
      rollBytes: options.rollBytes,
      preallocBytes: options.preallocBytes,
      onFatal: (err) => this.onFatal(err),
    });
    this.nextSnapshotAt = this.randomSnapInterval();
    // A replay is folded into a snapshot once the server has started, so the next start is quick.
    if (r.replayed > 0) {
      this.snapshotTimer = setTimeout(() => this.snapshotSoon(), SNAPSHOT_AFTER_REPLAY_MS);
      this.snapshotTimer.unref();
    }
    if (options.purgeIntervalHours > 0) {
      this.purgeTimer = setInterval(() => this.purge(), options.purgeIntervalHours * 3_600_000);
      this.purgeTimer.unref();
    }
  }

  /** What to do when the disk fails (the server stops: it can no longer acknowledge writes). */
  onFailure(handler: (err: Error) => void): void {
    this.fatal = handler;
  }

  submit(entry: TxnEntry, done: () => void): void {
    this.log.append(entry, done);
    if (++this.txnsSinceSnapshot >= this.nextSnapshotAt) this.snapshotSoon();
  }

  /** Resolves once every txn submitted so far is on disk. */
  sync(): Promise<void> {
    return this.log.sync();
  }

  async close(): Promise<void> {
    if (this.purgeTimer) clearInterval(this.purgeTimer);
    if (this.snapshotTimer) this.snapshotSoon();
    await this.snapshotting;
    await this.log.close();
  }

  /** Takes a snapshot now (unless one is being written); resolves when it is on disk. */
  snapshot(): Promise<void> {
    this.snapshotSoon();
    return this.snapshotting ?? Promise.resolve();
  }

  private snapshotSoon(): void {
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    if (this.snapshotting) return;
    this.txnsSinceSnapshot = 0;
    this.nextSnapshotAt = this.randomSnapInterval();
    this.log.roll();
    this.snapshotting = (async () => {
      // No need to wait for the log: the tree holds only applied txns, and a txn is applied only
      // once it is durable, so whatever the snapshot catches is in the log too.
      const started = performance.now();
      const info = await writeSnapshot(this.tree, this.options.dataDir);
      this.logger.info({ path: info.path, zxid: hex(info.zxid), znodes: info.nodes, bytes: info.bytes, ms: Math.round(performance.now() - started) }, 'snapshot written');
    })().catch((err: unknown) => {
      this.logger.error({ err }, 'snapshot failed; the log still holds every txn');
    }).finally(() => {
      this.snapshotting = null;
    });
  }

  private purge(): void {
    try {
      const { removed } = purge(this.options.dataDir, this.options.logDir, this.options.snapRetainCount);
      if (removed.length > 0) this.logger.info({ removed }, 'autopurge');
    } catch (err) {
      this.logger.error({ err }, 'autopurge failed');
    }
  }

  private randomSnapInterval(): number {
    // As ZooKeeper: after more than snapCount/2 txns plus a random share of the other half.
    const half = Math.max(1, Math.floor(this.options.snapCount / 2));
    return half + 1 + Math.floor(Math.random() * half);
  }

  private onFatal(err: Error): void {
    this.logger.error({ err }, 'the transaction log cannot be written: stopping');
    if (this.fatal) this.fatal(err);
    else throw err;
  }
}

function loadSecret(dataDir: string): Buffer {
  const path = join(dataDir, SECRET_FILE);
  if (existsSync(path)) {
    const secret = readFileSync(path);
    if (secret.length === 32) return secret;
  }
  const secret = randomBytes(32);
  const fd = openSync(path, 'w', 0o600);
  try {
    writeSync(fd, secret);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  fsyncDir(dataDir);
  return secret;
}
