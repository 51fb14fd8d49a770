/**
 * ssl.clientAuth=want, with a PKCS12 key store, against Apache ZooKeeper 3.8 and Ensemble from the same zoo.cfg lines: a
 * TLS client without a certificate is served with no x509 identity, one with an untrusted
 * certificate is refused; and the x509 id of a certificate whose subject has every character
 * RFC 2253 escapes, a multi-valued RDN, a type with no RFC 2253 keyword (emailAddress) and a
 * non-ASCII name is the same string on both (Java's X500Principal.getName()).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectOptions } from '../../src/client/index.ts';
import { freePort } from '../support/ports.ts';
import { SERVER_NAMES, type ServerName } from '../support/servers.ts';
import { issue, makeTestCerts, startFromZooCfg, type CertFiles, type TestCerts } from './tls-certs.ts';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };
const TRICKY_SUBJECT = '/C=US/ST=Some State/O=a\\+b "q" <x>;#h=1=2/OU=Unit 1+UID=u1/CN= lead and trail /emailAddress=me@example.com/DC=example/CN=Zoë';

describe('ssl.clientAuth=want and x509 ids, Apache ZooKeeper and Ensemble', () => {
  let certs: TestCerts;
  let tricky: CertFiles;
  const secure = new Map<ServerName, string>();
  const stops: (() => Promise<void>)[] = [];
  before(async () => {
    certs = makeTestCerts();
    tricky = issue(certs.dir, 'tricky', TRICKY_SUBJECT);
    for (const name of SERVER_NAMES) {
      const port = await freePort();
      const lines = [
        `secureClientPort=${port}`, 'secureClientPortAddress=127.0.0.1',
        'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
        // A PKCS12 key store here (PEM in tls.test.ts): the same lines serve on both.
        `ssl.keyStore.location=${certs.serverP12}`, 'ssl.keyStore.type=PKCS12', 'ssl.keyStore.password=secret',
        `ssl.trustStore.location=${certs.ca}`, 'ssl.clientAuth=want',
      ];
      stops.push(await startFromZooCfg(name, lines));
      secure.set(name, `127.0.0.1:${port}`);
    }
  });
  after(async () => {
    await Promise.allSettled(stops.map((s) => s()));
    certs?.remove();
  });

  const options = (who?: CertFiles): ConnectOptions => ({
    connectTimeoutMs: 8000,
    logger: SILENT,
    tls: { ca: readFileSync(certs.ca), ...(who && { cert: readFileSync(who.cert), key: readFileSync(who.key) }) },
  });

  test('without a certificate: served, with only its ip identity', async () => {
    for (const name of SERVER_NAMES) {
      const zk = await connect(secure.get(name)!, options());
      assert.deepEqual(await zk.whoAmI(), [{ authScheme: 'ip', user: '127.0.0.1' }], name);
      await zk.close();
    }
  });

  test('the x509 id of a subject with escapes, a multi-valued RDN, emailAddress and UTF-8 is the same', async () => {
    const ids = new Map<ServerName, unknown>();
    for (const name of SERVER_NAMES) {
      const zk = await connect(secure.get(name)!, options(tricky));
      ids.set(name, (await zk.whoAmI()).find((c) => c.authScheme === 'x509')?.user);
      await zk.close();
    }
    assert.equal(typeof ids.get('zookeeper'), 'string');
    assert.equal(ids.get('ensemble'), ids.get('zookeeper'));
  });

  test('a certificate from an untrusted CA is refused even with want', async () => {
    for (const name of SERVER_NAMES) {
      await assert.rejects(connect(secure.get(name)!, options(certs.stranger)), Error, name);
    }
  });
});
