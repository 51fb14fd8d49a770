import { withSaslKey, type SaslSettings } from '../../src/server/auth/sasl.ts';
import { TestingServer } from '../../src/testing/index.ts';
import type { RunningServer, ServerOptions } from './servers.ts';

/** The JAAS file, and the SASL keys of these zoo.cfg lines (the others are not Ensemble's concern here). */
function saslSettings(jaasFile: string, zooCfg: readonly string[]): SaslSettings {
  let sasl: SaslSettings = { jaasFile };
  for (const line of zooCfg) {
    const m = /^(?:zookeeper\.)?([^=\s]+)\s*=\s*(.*)$/.exec(line.trim());
    if (m) sasl = withSaslKey(m[1], m[2], sasl) ?? sasl;
  }
  return sasl;
}

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
      sasl: opts.jaasFile === undefined ? undefined : saslSettings(opts.jaasFile, opts.zooCfg ?? []),
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
