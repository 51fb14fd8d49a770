import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/index.ts';
import type { RunningServer, ServerOptions } from './servers.ts';

/** Starts an in-process Ensemble server on a free loopback port (port 0: the OS picks). */
export async function startEnsemble(opts: ServerOptions = {}): Promise<RunningServer> {
  // A private data directory, so that a server that persists never writes into the repository.
  const dataDir = await mkdtemp(join(tmpdir(), 'ensemble-test-'));
  const start = (clientPort: number): ReturnType<typeof startServer> =>
    startServer({
      clientPort,
      clientPortAddress: '127.0.0.1',
      dataDir,
      tickTimeMs: opts.tickTimeMs,
      extendedTypesEnabled: opts.extendedTypesEnabled,
      superDigest: opts.superDigest,
      containerCheckIntervalMs: opts.containerCheckIntervalMs,
      minSessionTimeoutMs: opts.minSessionTimeoutMs,
      maxSessionTimeoutMs: opts.maxSessionTimeoutMs,
      fourLetterWhitelist: ['*'],
      maxClientCnxns: 0,
    });
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await start(0);
  } catch (err) {
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
  const host = '127.0.0.1';
  const port = server.port;
  let stopped = false;
  return {
    name: 'ensemble',
    host,
    port,
    connectString: `${host}:${port}`,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await server.close();
      } finally {
        await rm(dataDir, { recursive: true, force: true });
      }
    },
    /** A new server on the same port and data dir: it recovers what the old one logged. */
    async restart() {
      if (stopped) throw new Error('restart: the server was stopped');
      await server.close();
      server = await start(port);
    },
  };
}
