import { after, before, describe } from 'node:test';

export interface ServerOptions {
  tickTimeMs?: number;
  extendedTypesEnabled?: boolean;
  superDigest?: string;
  containerCheckIntervalMs?: number;
  minSessionTimeoutMs?: number;
  maxSessionTimeoutMs?: number;
  /** Apache ZooKeeper only: its AdminServer on this loopback port (off otherwise). */
  adminServerPort?: number;
  /**
   * SASL: a JAAS file with a Server section (both servers: ZooKeeper's
   * -Djava.security.auth.login.config, Ensemble's --jaas). zooCfg's SASL keys (superUser, ...) reach Ensemble too.
   */
  jaasFile?: string;
  /** Apache ZooKeeper only: more zoo.cfg lines (secureClientPort and ssl.* put Netty's TLS jars on its class path). */
  zooCfg?: readonly string[];
}

export interface RunningServer {
  name: 'zookeeper' | 'ensemble';
  host: string;
  port: number;
  /** "127.0.0.1:PORT" */
  connectString: string;
  stop(): Promise<void>;
  /**
   * Stops the server and starts it again on the same port (ZooKeeper: with the same data dir,
   * so its tree and sessions come back; Ensemble: a new process state, as it has no durability yet).
   * Connections are dropped; resolves once the server answers again.
   */
  restart(): Promise<void>;
  /** Ensemble only (its TestingServer): end a session as its expiry would; resolves once applied. */
  expireSession?(sessionId: bigint): Promise<boolean>;
  /** An ensemble's members (absent for a standalone server); `connectString` names them all. */
  members?: readonly { id: number; clientPort: number; quorumPort: number; electionPort: number }[];
}

export type ServerName = RunningServer['name'];

/** Digest for user `super`, password `test` (the value kazoo's own test harness uses). */
export const SUPER_DIGEST = 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=';
export const SUPER_AUTH = 'super:test';

export const SERVER_NAMES: readonly ServerName[] = ['zookeeper', 'ensemble'];

/** Starts one server of the given kind. Modules are loaded lazily so that a file that only
 * needs one kind does not import the other. */
export async function startServerNamed(name: ServerName, opts: ServerOptions = {}): Promise<RunningServer> {
  if (name === 'zookeeper') {
    const { startZooKeeper } = await import('./zookeeper.ts');
    return startZooKeeper(opts);
  }
  const { startEnsemble } = await import('./ensemble.ts');
  return startEnsemble(opts);
}

/**
 * Runs the same block of tests once per server kind: a `describe` per server, whose
 * `before` starts the server and `after` stops it. `getServer()` is valid inside tests.
 */
export function forEachServer(
  opts: ServerOptions,
  body: (getServer: () => RunningServer, name: ServerName) => void,
  names: readonly ServerName[] = SERVER_NAMES,
): void {
  for (const name of names) {
    describe(name, () => {
      let server: RunningServer | undefined;
      before(async () => {
        server = await startServerNamed(name, opts);
      });
      after(async () => {
        await server?.stop();
        server = undefined;
      });
      body(() => {
        if (!server) throw new Error(`${name} server is not running`);
        return server;
      }, name);
    });
  }
}

/** Alias kept for the name used in planning notes. */
export const bothServers = forEachServer;

/**
 * Starts one ZooKeeper and one Ensemble for a whole test file (in `before`/`after` hooks
 * of the enclosing suite) and returns accessors. Used by the comparison tests. `start` starts
 * each (by default a standalone server; startProcessEnsemble starts ensembles).
 */
export function withBothServers(
  opts: ServerOptions = {},
  start: (name: ServerName, opts: ServerOptions) => Promise<RunningServer> = startServerNamed,
): {
  zookeeper: () => RunningServer;
  ensemble: () => RunningServer;
  get: (name: ServerName) => RunningServer;
} {
  const running = new Map<ServerName, RunningServer>();
  before(async () => {
    const results = await Promise.allSettled(SERVER_NAMES.map((n) => start(n, opts)));
    const errors: unknown[] = [];
    results.forEach((r, i) => {
      if (r.status === 'fulfilled') running.set(SERVER_NAMES[i], r.value);
      else errors.push(r.reason);
    });
    if (errors.length > 0) {
      await Promise.allSettled([...running.values()].map((s) => s.stop()));
      running.clear();
      throw errors[0];
    }
  });
  after(async () => {
    await Promise.allSettled([...running.values()].map((s) => s.stop()));
    running.clear();
  });
  const get = (name: ServerName): RunningServer => {
    const s = running.get(name);
    if (!s) throw new Error(`${name} server is not running`);
    return s;
  };
  return { zookeeper: () => get('zookeeper'), ensemble: () => get('ensemble'), get };
}
