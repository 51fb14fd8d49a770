/**
 * ZooKeeper's ssl.* keys as Ensemble reads them: key and trust store types, what is refused at
 * startup and how the message says to fix it, Java cipher suite and protocol names, clientAuth
 * none and want, and a secure client port without a plain one. Ensemble only (the comparisons
 * with Apache ZooKeeper are in tls.test.ts and tls-client-auth.test.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import fc from 'fast-check';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectOptions } from '../../src/client/index.ts';
import { parseZooCfg, type ServerConfig } from '../../src/server/config.ts';
import { startServer } from '../../src/server/index.ts';
import { opensslCipherName, serverTlsOptions, tlsSettings } from '../../src/server/net/tls-settings.ts';
import { isValidX509Id, subjectName } from '../../src/server/auth/x509.ts';
import { tlsLogin } from '../../src/cli/shell/tls-login.ts';
import { makeTestCerts, type TestCerts } from './tls-certs.ts';

const SILENT = { debug() {}, info() {}, warn() {}, error() {} };

describe('TLS settings', () => {
  let certs: TestCerts;
  before(() => {
    certs = makeTestCerts();
  });
  after(() => certs.remove());

  /** Starts Ensemble from zoo.cfg lines on free loopback ports (secureClientPort=0: any). */
  async function start(lines: string[]) {
    const { config } = parseZooCfg(['secureClientPort=0', 'secureClientPortAddress=127.0.0.1', ...lines].join('\n'));
    const settings: Partial<ServerConfig> = { clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: certs.dir, forceSync: false, ...config };
    const started = await startServer(settings);
    return { started, secure: `127.0.0.1:${started.server.secureAddress!.port}` };
  }

  const client = (who: 'alice' | undefined): ConnectOptions => ({
    connectTimeoutMs: 5000,
    logger: SILENT,
    tls: { ca: readFileSync(certs.ca), ...(who && { cert: readFileSync(certs[who].cert), key: readFileSync(certs[who].key) }) },
  });

  test('a PKCS12 key store with its password serves TLS clients', async () => {
    const { started, secure } = await start([`ssl.keyStore.location=${certs.serverP12}`, 'ssl.keyStore.password=secret', `ssl.trustStore.location=${certs.ca}`]);
    try {
      const zk = await connect(secure, client('alice'));
      assert.deepEqual((await zk.whoAmI()).map((c) => c.authScheme), ['x509', 'ip']);
      await zk.close();
    } finally {
      await started.close();
    }
  });

  test('a PEM key store with an encrypted key and its password', async () => {
    const encrypted = join(certs.dir, 'encrypted.pem');
    const key = join(certs.dir, 'encrypted.key');
    execFileSync('openssl', ['pkcs8', '-topk8', '-in', certs.server.key, '-out', key, '-passout', 'pass:secret', '-v2', 'aes-256-cbc']);
    writeFileSync(encrypted, readFileSync(key, 'utf8') + readFileSync(certs.server.cert, 'utf8'));
    const { started, secure } = await start([`ssl.keyStore.location=${encrypted}`, 'ssl.keyStore.password=secret', `ssl.trustStore.location=${certs.ca}`]);
    try {
      await (await connect(secure, client('alice'))).close();
    } finally {
      await started.close();
    }
    await assert.rejects(start([`ssl.keyStore.location=${encrypted}`, 'ssl.keyStore.password=wrong']), /encrypted\.pem cannot be used: .*bad decrypt/);
  });

  test('ssl.keyStore.passwordPath: the password read from a file', async () => {
    const file = join(certs.dir, 'password');
    writeFileSync(file, 'secret\n');
    const { started, secure } = await start([`ssl.keyStore.location=${certs.serverP12}`, `ssl.keyStore.passwordPath=${file}`, `ssl.trustStore.location=${certs.ca}`]);
    try {
      await (await connect(secure, client('alice'))).close();
    } finally {
      await started.close();
    }
  });

  test('a wrong PKCS12 password stops the server at startup', async () => {
    await assert.rejects(start([`ssl.keyStore.location=${certs.serverP12}`, 'ssl.keyStore.password=wrong']),
      /ssl\.keyStore\.location=.*server\.p12 cannot be used: .*(mac verify failure|decrypt).*is ssl\.keyStore\.password right/i);
  });

  test('JKS stores are refused at startup with how to convert them', async () => {
    await assert.rejects(start(['ssl.keyStore.location=/etc/zk/keystore.jks', 'ssl.keyStore.password=x']),
      /ssl\.keyStore\.location=\/etc\/zk\/keystore\.jks is a JKS store, which Ensemble cannot read: convert it to PKCS12 \(keytool -importkeystore -srckeystore \/etc\/zk\/keystore\.jks -destkeystore \/etc\/zk\/keystore\.p12 -deststoretype PKCS12\)/);
    await assert.rejects(start([`ssl.keyStore.location=${certs.server.pem}`, 'ssl.trustStore.location=/etc/zk/trust.store', 'ssl.trustStore.type=JKS']),
      /ssl\.trustStore\.location=\/etc\/zk\/trust\.store is a JKS store, which Ensemble cannot read: export its certificates to PEM \(keytool -exportcert -rfc/);
  });

  test('a PKCS12 trust store, an unknown store type and a missing file are refused by name', async () => {
    await assert.rejects(start([`ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.serverP12}`]),
      /ssl\.trustStore\.location=.*server\.p12 is a PKCS12 trust store, which Ensemble cannot read: export its certificates to PEM \(openssl pkcs12/);
    await assert.rejects(start(['ssl.keyStore.location=/etc/zk/keystore']), /the store's type cannot be told from its name: set ssl\.keyStore\.type \(PEM or PKCS12\)/);
    await assert.rejects(start(['ssl.keyStore.location=/no/such/key.pem']), /ssl\.keyStore\.location=\/no\/such\/key\.pem cannot be read: ENOENT/);
    await assert.rejects(start([]), /ssl\.keyStore\.location is not set/);
  });

  test('a key store whose key is not its certificate\'s stops the server at startup, before its data dir is touched', async () => {
    const mismatched = join(certs.dir, 'mismatched.pem');
    writeFileSync(mismatched, readFileSync(certs.alice.key, 'utf8') + readFileSync(certs.server.cert, 'utf8'));
    const dataDir = join(certs.dir, 'never-made');
    const { config } = parseZooCfg(['secureClientPort=0', `ssl.keyStore.location=${mismatched}`].join('\n'));
    await assert.rejects(startServer({ ...config, clientPort: 0, clientPortAddress: '127.0.0.1', dataDir }), /key values mismatch/);
    assert.equal(existsSync(dataDir), false);
  });

  test('ssl.clientAuth must be none, want or need', () => {
    assert.throws(() => parseZooCfg('ssl.clientAuth=maybe'), /ssl\.clientAuth must be none, want or need, got "maybe"/);
    assert.equal(parseZooCfg('ssl.clientAuth=WANT').config.clientTls?.clientAuth, 'want');
  });

  test('ssl.clientAuth=none: no certificate asked for; want: a client without one is served, one with an untrusted one is not', async () => {
    for (const clientAuth of ['none', 'want'] as const) {
      const { started, secure } = await start([`ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`, `ssl.clientAuth=${clientAuth}`]);
      try {
        const anonymous = await connect(secure, client(undefined));
        assert.deepEqual((await anonymous.whoAmI()).map((c) => c.authScheme), ['ip'], clientAuth);
        await anonymous.close();
        const alice = await connect(secure, client('alice'));
        // With none the server never asks, so the certificate is not sent and gives no identity.
        assert.deepEqual((await alice.whoAmI()).map((c) => c.authScheme), clientAuth === 'none' ? ['ip'] : ['x509', 'ip'], clientAuth);
        await alice.close();
        const stranger = connect(secure, { ...client(undefined), tls: { ca: readFileSync(certs.ca), cert: readFileSync(certs.stranger.cert), key: readFileSync(certs.stranger.key) } });
        if (clientAuth === 'want') await assert.rejects(stranger);
        else await (await stranger).close();
      } finally {
        await started.close();
      }
    }
  });

  test('secureClientPort without clientPort: only TLS clients, as ZooKeeper', async () => {
    const { config } = parseZooCfg(['secureClientPort=0', `ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`, 'secureClientPortAddress=127.0.0.1'].join('\n'));
    assert.equal(config.clientPortEnabled, false);
    const started = await startServer({ ...config, dataDir: certs.dir, forceSync: false });
    try {
      const { port } = started.server.secureAddress!;
      assert.equal(started.port, port);
      await (await connect(`127.0.0.1:${port}`, client('alice'))).close();
    } finally {
      await started.close();
    }
  });

  test('Java cipher suite names become OpenSSL\'s; an unknown one is refused', () => {
    assert.equal(opensslCipherName('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256'), 'ECDHE-RSA-AES128-GCM-SHA256');
    assert.equal(opensslCipherName('TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384'), 'ECDHE-ECDSA-AES256-SHA384');
    assert.equal(opensslCipherName('TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA'), 'ECDHE-RSA-AES256-SHA');
    assert.equal(opensslCipherName('TLS_RSA_WITH_AES_128_GCM_SHA256'), 'AES128-GCM-SHA256');
    assert.equal(opensslCipherName('TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256'), 'ECDHE-RSA-CHACHA20-POLY1305');
    assert.equal(opensslCipherName('TLS_AES_128_GCM_SHA256'), 'TLS_AES_128_GCM_SHA256');
    const settings = (extra: string) => tlsSettings('ssl.', new Map([['keyStore.location', certs.server.pem], ...parseLines(extra)]), 'test');
    assert.equal(serverTlsOptions(settings('ciphersuites=TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384')).ciphers,
      'ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384');
    assert.throws(() => serverTlsOptions(settings('ciphersuites=TLS_FOO_WITH_BAR')), /ssl\.ciphersuites: "TLS_FOO_WITH_BAR" is not a cipher suite/);
  });

  test('ssl.protocol and ssl.enabledProtocols: the versions allowed (TLSv1.2 only by default, as ZooKeeper 3.8)', () => {
    const options = (extra: string) => serverTlsOptions(tlsSettings('ssl.', new Map([['keyStore.location', certs.server.pem], ...parseLines(extra)]), 'test'));
    assert.deepEqual([options('').minVersion, options('').maxVersion], ['TLSv1.2', 'TLSv1.2']);
    assert.deepEqual([options('protocol=TLSv1.3').minVersion, options('protocol=TLSv1.3').maxVersion], ['TLSv1.3', 'TLSv1.3']);
    const both = options('enabledProtocols=TLSv1.3,TLSv1.2');
    assert.deepEqual([both.minVersion, both.maxVersion], ['TLSv1.2', 'TLSv1.3']);
    assert.throws(() => options('protocol=SSLv3'), /ssl\.protocol: unknown protocol "SSLv3"/);
  });

  test('a TLS 1.3 client is refused by a server left at ZooKeeper 3.8\'s default (TLSv1.2)', async () => {
    const { started, secure } = await start([`ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`]);
    try {
      await assert.rejects(connect(secure, { ...client('alice'), tls: { ...client('alice').tls, minVersion: 'TLSv1.3' } }));
    } finally {
      await started.close();
    }
  });

  test('plain bytes on the secure port: closed, and the server serves the next client', async () => {
    const { started, secure } = await start([`ssl.keyStore.location=${certs.server.pem}`, `ssl.trustStore.location=${certs.ca}`]);
    try {
      const port = started.server.secureAddress!.port;
      const closed = await new Promise<boolean>((resolve) => {
        const sock = netConnect({ host: '127.0.0.1', port }, () => sock.write(Buffer.alloc(64, 0xff)));
        const timer = setTimeout(() => resolve(false), 30_000);
        sock.on('error', () => {});
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      assert.ok(closed);
      await (await connect(secure, client('alice'))).close();
    } finally {
      await started.close();
    }
  });

  test('ensemble cli\'s TLS: --tls-* files, or zkCli.sh\'s properties in CLIENT_JVMFLAGS', () => {
    assert.equal(tlsLogin({}, {}), undefined);
    assert.deepEqual(tlsLogin({ tls: true }, {}), {});
    assert.throws(() => tlsLogin({ cert: certs.alice.cert }, {}), /--tls-cert and --tls-key go together/);
    assert.throws(() => tlsLogin({ ca: '/no/such/ca.pem' }, {}), /--tls-ca \/no\/such\/ca\.pem cannot be read/);
    assert.deepEqual(tlsLogin({ ca: certs.ca }, {}), { ca: readFileSync(certs.ca) });
    // Without zookeeper.client.secure=true the ssl properties are not a reason for TLS, as in zkCli.
    assert.equal(tlsLogin({}, { CLIENT_JVMFLAGS: `-Dzookeeper.ssl.trustStore.location=${certs.ca}` }), undefined);
    const fromJvm = tlsLogin({}, { JVMFLAGS: `-Dzookeeper.client.secure=true -Dzookeeper.ssl.keyStore.location=${certs.alice.pem} -Dzookeeper.ssl.trustStore.location=${certs.ca} -Dzookeeper.ssl.hostnameVerification=false` })!;
    assert.equal(typeof fromJvm.checkServerIdentity, 'function');
    assert.equal(fromJvm.ca?.toString().includes('BEGIN CERTIFICATE'), true);
    assert.equal(fromJvm.key?.toString().includes('PRIVATE KEY'), true);
  });

  test('the certificate subject reader on damaged DER: an Error or an answer, never anything else', () => {
    const der = new X509Certificate(readFileSync(certs.alice.cert)).raw;
    assert.equal(subjectName(der), 'CN=alice,O=Acme\\, Inc.,C=DE');
    for (let n = 0; n < der.length; n++) assert.throws(() => subjectName(der.subarray(0, n)), Error);
    fc.assert(fc.property(fc.nat(der.length - 1), fc.nat(7), (at, bit) => {
      const damaged = Buffer.from(der);
      damaged[at] ^= 1 << bit;
      try {
        return typeof subjectName(damaged) === 'string';
      } catch (e) {
        return e instanceof Error;
      }
    }), { numRuns: 5000, seed: 42 });
  });

  test('x509 ACL ids must be distinguished names', () => {
    assert.ok(isValidX509Id('CN=alice,O=Acme\\, Inc.,C=DE'));
    assert.ok(isValidX509Id('1.2.840.113549.1.9.1=#160d61406578616d706c652e636f6d+CN=x'));
    assert.ok(!isValidX509Id('alice'));
    assert.ok(!isValidX509Id('CN=alice,bob'));
  });
});

function parseLines(text: string): [string, string][] {
  return text === '' ? [] : text.split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]);
}
