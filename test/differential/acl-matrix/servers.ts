/**
 * The matrix's standalone servers, started alike: the super user's digest, extended types (TTL),
 * SASL (the JAAS file of test/security/sasl-support.ts, its provider registered) and a secure client
 * port that wants client certificates (x509 ids), beside the plain client port.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { parseZooCfg } from '../../../src/server/config.ts';
import { TestingServer } from '../../../src/testing/index.ts';
import { freePort } from '../../support/ports.ts';
import { SUPER_DIGEST, type RunningServer, type ServerName } from '../../support/servers.ts';
import { startZooKeeper } from '../../support/zookeeper.ts';
import { JAAS_FILE, SASL_ZOO_CFG } from '../../security/sasl-support.ts';
import { makeTestCerts, type CertFiles, type TestCerts } from '../../security/tls-certs.ts';

let certs: TestCerts | undefined;

/** The CA, the server's and the clients' certificates: made once per process, removed at its exit. */
export function testCerts(): TestCerts {
  if (certs === undefined) {
    const made = makeTestCerts();
    process.once('exit', () => made.remove());
    certs = made;
  }
  return certs;
}

/** TLS options trusting the test CA, presenting `who`'s certificate if given. */
export function tlsOptions(who?: CertFiles): ConnectionOptions {
  const c = testCerts();
  return { ca: readFileSync(c.ca), ...(who && { cert: readFileSync(who.cert), key: readFileSync(who.key) }) };
}

const securePorts = new WeakMap<RunningServer, number>();

export function securePortOf(server: RunningServer): number {
  const port = securePorts.get(server);
  if (port === undefined) throw new Error(`${server.name}: started without a secure client port`);
  return port;
}

export async function startMatrixServer(name: ServerName): Promise<RunningServer> {
  const c = testCerts();
  const securePort = await freePort();
  const zooCfg = [
    ...SASL_ZOO_CFG,
    `secureClientPort=${securePort}`, 'secureClientPortAddress=127.0.0.1',
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `ssl.keyStore.location=${c.server.pem}`, `ssl.trustStore.location=${c.ca}`, 'ssl.clientAuth=want',
  ];
  let server: RunningServer;
  if (name === 'zookeeper') {
    server = await startZooKeeper({ superDigest: SUPER_DIGEST, extendedTypesEnabled: true, jaasFile: JAAS_FILE, zooCfg });
  } else {
    const { config } = parseZooCfg([
      'clientPort=0', 'clientPortAddress=127.0.0.1', `DigestAuthenticationProvider.superDigest=${SUPER_DIGEST}`, 'extendedTypesEnabled=true', ...zooCfg,
    ].join('\n'));
    const t = await TestingServer.start({ fsync: true, config: { ...config, sasl: { ...config.sasl, jaasFile: JAAS_FILE } } });
    server = {
      name, host: '127.0.0.1', port: t.port, connectString: t.connectString,
      stop: () => t.stop(), restart: () => t.restart(),
    };
  }
  securePorts.set(server, securePort);
  return server;
}
