/**
 * An Ensemble server for tests, in this process: a free loopback port, a private data dir, and the
 * two buttons tests of ZooKeeper applications need (Curator's TestingServer and KillSession, kazoo's
 * harness): expire a session, drop every connection.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerConfig } from '../server/config.ts';
import { startServer, type StartedServer } from '../server/index.ts';

export interface TestingServerOptions {
  /** Port to listen on (default 0: a free one, kept across restarts). */
  port?: number;
  /** Data dir to use and keep (default: a fresh temporary one, removed by stop()). */
  dataDir?: string;
  /** Make each write durable before answering it (default false: faster, and nothing is lost unless the machine crashes). */
  fsync?: boolean;
  /** Any other setting of the server (tickTimeMs, maxSessionTimeoutMs, extendedTypesEnabled, superDigest…). */
  config?: Partial<ServerConfig>;
}

const HOST = '127.0.0.1';

export class TestingServer {
  private stopped = false;

  private constructor(
    private running: StartedServer,
    private readonly settings: Partial<ServerConfig>,
    private readonly ownDataDir: boolean,
  ) {}

  /** Start a server; resolves once it listens. */
  static async start(options: TestingServerOptions = {}): Promise<TestingServer> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'ensemble-testing-')));
    const settings: Partial<ServerConfig> = {
      maxClientCnxns: 0,
      fourLetterWhitelist: ['*'],
      forceSync: options.fsync ?? false,
      ...options.config,
      clientPort: options.port ?? 0,
      clientPortAddress: HOST,
      dataDir,
    };
    try {
      return new TestingServer(await startServer(settings), settings, options.dataDir === undefined);
    } catch (err) {
      if (options.dataDir === undefined) await rm(dataDir, { recursive: true, force: true });
      throw err;
    }
  }

  get port(): number {
    return this.running.port;
  }

  /** "127.0.0.1:PORT", for connect(). */
  get connectString(): string {
    return `${HOST}:${this.port}`;
  }

  get dataDir(): string {
    return this.settings.dataDir!;
  }

  /**
   * End a session now, as its expiry would: its ephemerals are deleted, watchers are told, and its
   * client learns that the session expired. Resolves once the session's end is applied (its
   * ephemerals are gone); false when no such session is live.
   */
  expireSession(sessionId: bigint): Promise<boolean> {
    return this.running.server.expireSession(sessionId);
  }

  /** Close every client connection without ending sessions: clients see Disconnected, then reconnect. */
  dropConnections(): number {
    return this.running.server.dropConnections();
  }

  /** Stop and start again on the same port with the same data: sessions and znodes come back. */
  async restart(): Promise<void> {
    if (this.stopped) throw new Error('TestingServer: restart after stop');
    await this.running.close();
    this.running = await startServer({ ...this.settings, clientPort: this.port });
  }

  /** Stop, and remove the data dir unless it was given. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    try {
      await this.running.close();
    } finally {
      if (this.ownDataDir) await rm(this.dataDir, { recursive: true, force: true });
    }
  }
}
