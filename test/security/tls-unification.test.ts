/**
 * client.portUnification=true: plain and TLS clients on the one client port, against Apache
 * ZooKeeper 3.8 and Ensemble from the same zoo.cfg lines. ZooKeeper 3.8.0 closes every TLS client
 * that shows a certificate on a unified port unless authProvider.x509 is set (it logs "X509 Auth
 * provider not found"), so the lines set it; Ensemble serves them either way.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectOptions } from '../../src/client/index.ts';
import { parseZooCfg } from '../../src/server/config.ts';
import { TestingServer } from '../../src/testing/index.ts';
import { SERVER_NAMES, type ServerName } from '../support/servers.ts';
import { fourLetterWord, startZooKeeper } from '../support/zookeeper.ts';
import { makeTestCerts, type CertFiles, type TestCerts } from './tls-certs.ts';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

describe('client.portUnification: plain and TLS clients on one port, Apache ZooKeeper and Ensemble', () => {
  let certs: TestCerts;
  const ports = new Map<ServerName, number>();
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    certs = makeTestCerts();
    const lines = [
      'client.portUnification=true',
      'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
      'authProvider.x509=org.apache.zookeeper.server.auth.X509AuthenticationProvider',
      `ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`,
    ];
    for (const name of SERVER_NAMES) {
      if (name === 'zookeeper') {
        const zk = await startZooKeeper({ zooCfg: lines });
        stops.push(() => zk.stop());
        ports.set(name, zk.port);
      } else {
        const server = await TestingServer.start({ config: parseZooCfg(lines.join('\n')).config });
        stops.push(() => server.stop());
        ports.set(name, server.port);
      }
    }
  });
  after(async () => {
    await Promise.allSettled(stops.map((s) => s()));
    certs?.remove();
  });

  const tls = (who?: CertFiles): ConnectOptions => ({
    connectTimeoutMs: 6000, logger: SILENT,
    tls: { ca: readFileSync(certs.ca), ...(who && { cert: readFileSync(who.cert), key: readFileSync(who.key) }) },
  });
  const whoAmI = async (name: ServerName, options: ConnectOptions): Promise<string> => {
    try {
      const zk = await connect(`127.0.0.1:${ports.get(name)}`, options);
      const who = (await zk.whoAmI()).map((c) => `${c.authScheme}:${c.user}`).join(' ');
      await zk.close();
      return who;
    } catch {
      return 'refused';
    }
  };

  test('a plain client, a TLS client with a certificate and one without, on the same port', async () => {
    for (const name of SERVER_NAMES) {
      assert.equal(await whoAmI(name, { logger: SILENT }), 'ip:127.0.0.1', name);
      assert.equal(await whoAmI(name, tls(certs.alice)), 'x509:CN=alice,O=Acme\\, Inc.,C=DE ip:127.0.0.1', name);
      assert.equal(await whoAmI(name, tls()), 'refused', name);
    }
  });

  test('four-letter words still answer in plain', async () => {
    for (const name of SERVER_NAMES) assert.equal(await fourLetterWord('127.0.0.1', ports.get(name)!, 'ruok'), 'imok', name);
  });
});
