/**
 * The secure client port (secureClientPort with ZooKeeper's ssl.* keys) and the x509 scheme, run
 * against Apache ZooKeeper 3.8 and Ensemble started from the same zoo.cfg lines and certificates:
 * our client, kazoo (use_ssl=True) and zkCli.sh (the Netty client socket) see the same thing.
 * ssl.clientAuth is ZooKeeper's default, need.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, type ConnectOptions, type ZooKeeperClient } from '../../src/client/index.ts';
import { parseZooCfg } from '../../src/server/config.ts';
import { TestingServer } from '../../src/testing/index.ts';
import { run } from '../real-clients/lib/process.ts';
import { stripJavaNoise, tidy } from '../real-clients/lib/normalize.ts';
import { freePort } from '../support/ports.ts';
import { SERVER_NAMES, type ServerName } from '../support/servers.ts';
import { fourLetterWord, startZooKeeper } from '../support/zookeeper.ts';
import { ADMIN_DN, ALICE_DN, makeTestCerts, type CertFiles, type TestCerts } from './tls-certs.ts';

const HOST = '127.0.0.1';
const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
/** Generous bounds for a busy machine: a refused client gives up after this. */
const CONNECT_TIMEOUT_MS = 8000;
const PROCESS_TIMEOUT_MS = 120_000;

interface TlsServer {
  name: ServerName;
  /** host:port of the plain client port. */
  plain: string;
  /** host:port of the secure client port. */
  secure: string;
  securePort: number;
  stop(): Promise<void>;
}

function zooCfgLines(certs: TestCerts, securePort: number): string[] {
  return [
    `secureClientPort=${securePort}`,
    `secureClientPortAddress=${HOST}`,
    'serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory',
    `ssl.keyStore.location=${certs.server.pem}`,
    'ssl.keyStore.type=PEM',
    `ssl.trustStore.location=${certs.ca}`,
    'ssl.trustStore.type=PEM',
    `X509AuthenticationProvider.superUser=${ADMIN_DN}`,
  ];
}

async function startTlsServer(name: ServerName, certs: TestCerts): Promise<TlsServer> {
  const securePort = await freePort();
  const lines = zooCfgLines(certs, securePort);
  const secure = `${HOST}:${securePort}`;
  if (name === 'zookeeper') {
    const zk = await startZooKeeper({ zooCfg: lines });
    return { name, plain: zk.connectString, secure, securePort, stop: () => zk.stop() };
  }
  // TestingServer sets the plain client port; without one the secure port would be the only one.
  const server = await TestingServer.start({ config: parseZooCfg(['clientPort=0', ...lines].join('\n')).config });
  return { name, plain: server.connectString, secure, securePort, stop: () => server.stop() };
}

function tlsOptions(certs: TestCerts, who?: CertFiles, trustCa = true): ConnectOptions {
  return {
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    logger: { debug() {}, info() {}, warn() {}, error() {} },
    tls: {
      ...(trustCa && { ca: readFileSync(certs.ca) }),
      ...(who && { cert: readFileSync(who.cert), key: readFileSync(who.key) }),
    },
  };
}

async function tlsClient(server: TlsServer, options: ConnectOptions): Promise<ZooKeeperClient> {
  return connect(server.secure, options);
}

/** Sends plain bytes (a four-letter word, then a ConnectRequest's worth of zeros) to a port and returns what came back before it closed. */
function plainBytesTo(port: number): Promise<{ closed: boolean; reply: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const sock = netConnect({ host: HOST, port }, () => sock.write(Buffer.concat([Buffer.from('ruok'), Buffer.alloc(44)])));
    const timer = setTimeout(() => {
      sock.destroy();
      resolve({ closed: false, reply: Buffer.concat(chunks).toString('latin1') });
    }, 30_000);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, reply: Buffer.concat(chunks).toString('latin1') });
    });
  });
}

function zkCliFlags(certs: TestCerts, who: CertFiles): string {
  return [
    // zkCli.sh's class path lacks Netty's codec and resolver, which its Netty socket needs: a later -cp wins.
    '-cp /usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar',
    '-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto',
    '-Dzookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNetty',
    '-Dzookeeper.client.secure=true',
    `-Dzookeeper.ssl.keyStore.location=${who.pem}`,
    '-Dzookeeper.ssl.keyStore.type=PEM',
    `-Dzookeeper.ssl.trustStore.location=${certs.ca}`,
    '-Dzookeeper.ssl.trustStore.type=PEM',
  ].join(' ');
}

describe('TLS client port and the x509 scheme, Apache ZooKeeper and Ensemble', () => {
  let certs: TestCerts;
  const servers = new Map<ServerName, TlsServer>();
  before(async () => {
    certs = makeTestCerts();
    for (const name of SERVER_NAMES) servers.set(name, await startTlsServer(name, certs));
  });
  after(async () => {
    await Promise.allSettled([...servers.values()].map((s) => s.stop()));
    certs?.remove();
  });
  const server = (name: ServerName): TlsServer => servers.get(name)!;

  test('a client with the CA and a certificate is served, and is its certificate subject (x509)', async () => {
    const seen = new Map<ServerName, unknown>();
    for (const name of SERVER_NAMES) {
      const zk = await tlsClient(server(name), tlsOptions(certs, certs.alice));
      try {
        await zk.create('/tls-hello', Buffer.from('over TLS'));
        assert.equal((await zk.getData('/tls-hello')).data?.toString(), 'over TLS');
        await zk.delete('/tls-hello');
        seen.set(name, await zk.whoAmI());
      } finally {
        await zk.close();
      }
    }
    assert.deepEqual(seen.get('zookeeper'), [{ authScheme: 'x509', user: ALICE_DN }, { authScheme: 'ip', user: HOST }]);
    assert.deepEqual(seen.get('ensemble'), seen.get('zookeeper'));
  });

  for (const [what, who, trustCa] of [
    ['a client that does not trust the server certificate', 'alice', false],
    ['a client without a certificate (ssl.clientAuth=need)', undefined, true],
    ['a client whose certificate comes from an untrusted CA', 'stranger', true],
  ] as const) {
    test(`${what} is refused`, async () => {
      for (const name of SERVER_NAMES) {
        await assert.rejects(
          tlsClient(server(name), tlsOptions(certs, who === undefined ? undefined : certs[who], trustCa)),
          (err: Error) => /session|connect|certificate|handshake|socket/i.test(err.message),
          `${name} accepted ${what}`,
        );
      }
    });
  }

  test('plain bytes on the secure port get no answer: the connection is closed', async () => {
    for (const name of SERVER_NAMES) {
      const { closed, reply } = await plainBytesTo(server(name).securePort);
      assert.ok(closed, `${name} kept a plain connection open on its secure port`);
      assert.doesNotMatch(reply, /imok/, `${name} answered a four-letter word on its secure port`);
    }
  });

  test('conf names the secure client port', async () => {
    for (const name of SERVER_NAMES) {
      const [host, port] = server(name).plain.split(':');
      assert.match(await fourLetterWord(host, Number(port), 'conf'), new RegExp(`^secureClientPort=${server(name).securePort}$`, 'm'), name);
    }
  });

  test('kazoo with use_ssl=True: x509 ACLs, the auth scheme, the super user and the refusals are the same', async () => {
    const outputs = new Map<ServerName, string>();
    for (const name of SERVER_NAMES) {
      const res = await run('/usr/bin/python3', [join(import.meta.dirname, 'tls_kazoo.py'), server(name).secure, server(name).plain, certs.dir], {
        env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
        timeoutMs: PROCESS_TIMEOUT_MS,
      });
      assert.match(res.stdout, /^done$/m, `kazoo against ${name}:\n${res.stdout}\n${res.stderr}`);
      outputs.set(name, res.stdout);
    }
    const zk = outputs.get('zookeeper')!;
    assert.match(zk, /^its ACL: \[\('x509', 'CN=alice,O=Acme\\\\, Inc.,C=DE', 31\)\]$/m);
    assert.match(zk, /^whose ACL: \[\('x509', 'CN=alice,O=Acme\\\\, Inc.,C=DE', 31\)\]$/m);
    assert.match(zk, /^an x509 ACL that is no name: InvalidACLError$/m);
    assert.match(zk, /^a plain client reads: NoAuthError$/m);
    assert.match(zk, /^the super user reads: b'secret'$/m);
    assert.match(zk, /^no client certificate: (KazooTimeoutError|\w+Error)$/m);
    assert.equal(outputs.get('ensemble'), zk);
  });

  test('zkCli.sh with the Netty socket and zookeeper.client.secure=true; ensemble cli with the same flags or --tls-*', async () => {
    const input = 'whoami\ncreate /zkcli-tls hello\nget /zkcli-tls\ndelete /zkcli-tls\nget /zkcli-tls\nquit\n';
    const env = { ...process.env, CLIENT_JVMFLAGS: zkCliFlags(certs, certs.alice), LC_ALL: 'C.UTF-8' };
    const clients = {
      'zkCli.sh': (to: string) => run('/usr/share/zookeeper/bin/zkCli.sh', ['-server', to], { input, env, timeoutMs: PROCESS_TIMEOUT_MS }),
      'ensemble cli, CLIENT_JVMFLAGS': (to: string) => run(process.execPath, ['--import', 'tsx', MAIN, 'cli', '-server', to], { input, env, timeoutMs: PROCESS_TIMEOUT_MS }),
      'ensemble cli --tls-*': (to: string) => run(process.execPath, ['--import', 'tsx', MAIN, 'cli', '-server', to,
        '--tls-ca', certs.ca, '--tls-cert', certs.alice.cert, '--tls-key', certs.alice.key], { input, timeoutMs: PROCESS_TIMEOUT_MS }),
    };
    const outputs = new Map<string, string>();
    for (const name of SERVER_NAMES) {
      for (const [client, start] of Object.entries(clients)) {
        const res = await start(server(name).secure);
        // The connected event comes on another thread, before or after whoami's answer; the port differs.
        const lines = stripJavaNoise(`${res.stdout}\n--- stderr ---\n${res.stderr}`).split('\n')
          .filter((l) => !/^(Connecting to |WATCHER::$|WatchedEvent state:SyncConnected type:None path:null$|\s*$)/.test(l));
        outputs.set(`${client} against ${name}`, tidy(lines.join('\n')));
      }
    }
    const zk = outputs.get('zkCli.sh against zookeeper')!;
    assert.match(zk, /^x509: CN=alice,O=Acme\\, Inc\.,C=DE$/m);
    assert.match(zk, /^hello$/m);
    assert.match(zk, /^Created \/zkcli-tls$/m);
    assert.match(zk, /^Node does not exist: \/zkcli-tls$/m);
    for (const [what, output] of outputs) assert.equal(output, zk, what);
  });
});
