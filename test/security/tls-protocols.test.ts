/**
 * ssl.clientAuth=none, ssl.protocol and ssl.enabledProtocols set to TLSv1.3, and ssl.ciphersuites,
 * against Apache ZooKeeper 3.8 and Ensemble from the same zoo.cfg lines: a client certificate is
 * not asked for (so it gives no x509 identity), a TLS 1.2 client and a client without the one
 * allowed suite are refused by both.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect } from '../../src/client/index.ts';
import { freePort } from '../support/ports.ts';
import { SERVER_NAMES, type ServerName } from '../support/servers.ts';
import { makeTestCerts, startFromZooCfg, type TestCerts } from './tls-certs.ts';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

describe('TLS 1.3 only, one cipher suite, clientAuth=none: Apache ZooKeeper and Ensemble', () => {
  let certs: TestCerts;
  const secure = new Map<ServerName, string>();
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    certs = makeTestCerts();
    for (const name of SERVER_NAMES) {
      const port = await freePort();
      const lines = [
        `secureClientPort=${port}`, 'secureClientPortAddress=127.0.0.1',
        'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
        `ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`, 'ssl.clientAuth=none',
        'ssl.protocol=TLSv1.3', 'ssl.enabledProtocols=TLSv1.3', 'ssl.ciphersuites=TLS_AES_256_GCM_SHA384',
      ];
      stops.push(await startFromZooCfg(name, lines));
      secure.set(name, `127.0.0.1:${port}`);
    }
  });
  after(async () => {
    await Promise.allSettled(stops.map((s) => s()));
    certs?.remove();
  });

  const attempt = async (name: ServerName, tls: ConnectionOptions): Promise<string> => {
    try {
      const zk = await connect(secure.get(name)!, {
        connectTimeoutMs: 6000, logger: SILENT,
        tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.alice.cert), key: readFileSync(certs.alice.key), ...tls },
      });
      const who = (await zk.whoAmI()).map((c) => c.authScheme).join(',');
      await zk.close();
      return `served as ${who}`;
    } catch {
      return 'refused';
    }
  };

  for (const [what, tls, expected] of [
    ['a TLS 1.3 client with a certificate', {}, 'served as ip'],
    ['a TLS 1.2 client', { maxVersion: 'TLSv1.2' }, 'refused'],
    ['a client offering only the allowed suite', { ciphers: 'TLS_AES_256_GCM_SHA384' }, 'served as ip'],
    ['a client without the allowed suite', { ciphers: 'TLS_AES_128_GCM_SHA256' }, 'refused'],
  ] as const) {
    test(`${what}: ${expected}`, async () => {
      for (const name of SERVER_NAMES) assert.equal(await attempt(name, tls), expected, name);
    });
  }
});
