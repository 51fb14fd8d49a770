import { TestingServer } from '../../src/testing/index.ts';
import type { RunningServer, ServerOptions } from './servers.ts';

/** Starts an in-process Ensemble server (the package's TestingServer) on a free loopback port. */
export async function startEnsemble(opts: ServerOptions = {}): Promise<RunningServer> {
  const server = await TestingServer.start({
    fsync: true,
    config: {
      tickTimeMs: opts.tickTimeMs,
      extendedTypesEnabled: opts.extendedTypesEnabled,
      superDigest: opts.superDigest,
      containerCheckIntervalMs: opts.containerCheckIntervalMs,
      minSessionTimeoutMs: opts.minSessionTimeoutMs,
      maxSessionTimeoutMs: opts.maxSessionTimeoutMs,
    },
  });
  const host = '127.0.0.1';
  const port = server.port;
  return {
    name: 'ensemble',
    host,
    port,
    connectString: server.connectString,
    stop: () => server.stop(),
    /** A new server on the same port and data dir: it recovers what the old one logged. */
    restart: () => server.restart(),
    expireSession: (sessionId) => server.expireSession(sessionId),
  };
}
