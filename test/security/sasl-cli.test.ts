/**
 * `ensemble cli` with a JAAS Client section (--jaas, or CLIENT_JVMFLAGS as zkCli.sh reads it)
 * against Apache ZooKeeper and Ensemble; `ensemble server`'s refusals of JAAS files it cannot use.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { spawn } from 'node:child_process';
import { run } from '../real-clients/lib/process.ts';
import { freePort } from '../support/ports.ts';
import { SERVER_NAMES, withBothServers, type RunningServer } from '../support/servers.ts';
import { JAAS_FILE, SASL_SERVER_OPTIONS, saslConnect } from './sasl-support.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const TIMEOUT_MS = 60_000;

const ensemble = (args: readonly string[], env: NodeJS.ProcessEnv = {}, input = '') =>
  run(process.execPath, ['--import', 'tsx', MAIN, ...args], { timeoutMs: TIMEOUT_MS, input, env: { ...process.env, ...env } });

describe('ensemble cli with SASL', () => {
  const servers = withBothServers(SASL_SERVER_OPTIONS);

  test('--jaas: the Client section\'s user, as zkCli prints it, on both servers', async () => {
    for (const name of SERVER_NAMES) {
      const res = await ensemble(['cli', '-server', servers.get(name).connectString, '--jaas', JAAS_FILE], {}, 'whoami\nquit\n');
      assert.equal(res.code, 0, `${name}: ${res.stderr}`);
      assert.equal(res.stdout.replace(/\n+/g, '\n'), [
        `Connecting to ${servers.get(name).connectString}`, 'Welcome to ZooKeeper!', 'JLine support is disabled', 'WATCHER::',
        'WatchedEvent state:SyncConnected type:None path:null', 'WATCHER::', 'WatchedEvent state:SaslAuthenticated type:None path:null',
        'Auth scheme: User', 'sasl: bob', 'ip: 127.0.0.1', 'WATCHER::', 'WatchedEvent state:Closed type:None path:null', '',
      ].join('\n'), name);
    }
  });

  test('CLIENT_JVMFLAGS with zookeeper.sasl.clientconfig, as zkCli.sh takes them: a wrong password is AuthFailed', async () => {
    const env = { CLIENT_JVMFLAGS: `-Xmx64m -Djava.security.auth.login.config=${JAAS_FILE} -Dzookeeper.sasl.clientconfig=WrongPassword` };
    for (const name of SERVER_NAMES) {
      const res = await ensemble(['cli', '-server', servers.get(name).connectString, 'get', '/'], env);
      assert.equal(res.code, 1, name);
      assert.match(res.stdout, /WatchedEvent state:AuthFailed type:None path:null/, name);
      assert.equal(res.stderr, 'KeeperErrorCode = AuthFailed for /\n', name);
    }
  });

  test('--jaas naming a section the file does not have is a usage error', async () => {
    const res = await ensemble(['cli', '-server', servers.ensemble().connectString, '--jaas', JAAS_FILE, '--jaas-section', 'Nope', 'ls', '/']);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /no JAAS configuration section named 'Nope' was found \(sections: Server, Client, WrongPassword, Stranger\)/);
  });
});

describe('ensemble server --jaas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sasl-cli-'));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  test('a JAAS file it cannot use stops the server at start, saying why', async () => {
    const cases: Array<[string, RegExp]> = [
      [file('client-only.conf', 'Client { org.apache.zookeeper.server.auth.DigestLoginModule required username="u" password="p"; };'),
        /no JAAS configuration section named 'Server' was found \(sections: Client\)/],
      [file('kerberos.conf', 'Server { com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true keyTab="/k"; };'),
        /Kerberos \(GSSAPI\) is not supported/],
      [file('broken.conf', 'Server { org.apache.zookeeper.server.auth.DigestLoginModule required user_a="x" '), /broken.conf: line 1: expected/],
      [join(dir, 'missing.conf'), /cannot read the JAAS configuration/],
    ];
    for (const [jaas, message] of cases) {
      const res = await ensemble(['server', '--port', '0', '--data-dir', join(dir, 'data'), '--jaas', jaas]);
      assert.equal(res.code, 1, jaas);
      assert.match(res.stderr, message, jaas);
    }
  });
});

describe('ensemble server with SASL from zoo.cfg, --property and SERVER_JVMFLAGS', () => {
  test('the JAAS file from SERVER_JVMFLAGS; the provider from zoo.cfg and a super user from -D add up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sasl-server-'));
    const port = await freePort();
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, `clientPort=${port}\nclientPortAddress=127.0.0.1\ndataDir=${join(dir, 'data')}\n` +
      'authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n');
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--config', cfg, '-D', 'superUser=alice'], {
      env: { ...process.env, SERVER_JVMFLAGS: `-Xmx1g -Djava.security.auth.login.config=${JAAS_FILE}` }, stdio: 'ignore',
    });
    const server = { connectString: `127.0.0.1:${port}` } as RunningServer;
    try {
      // The client keeps trying while the server starts.
      const alice = await saslConnect(server, 'alice', undefined, { connectTimeoutMs: TIMEOUT_MS });
      try {
        assert.deepEqual((await alice.whoAmI()).map((i) => i.authScheme).sort(), ['ip', 'sasl', 'super']);
        await alice.create('/sasl-acl', '', { acl: [{ perms: 31, id: { scheme: 'sasl', id: 'bob' } }] });
      } finally {
        await alice.close();
      }
    } finally {
      child.kill();
    }
  });
});
