/**
 * Real clients with SASL DIGEST-MD5 against Apache ZooKeeper and Ensemble started with the same
 * JAAS file: kazoo's sasl_options, and zkCli.sh with a JAAS Client section (as CLIENT_JVMFLAGS
 * passes it). Each runs the same steps against both servers; the transcripts must agree.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVER_NAMES, withBothServers, type RunningServer, type ServerName } from '../support/servers.ts';
import { isJavaNoiseLine, tidy } from '../real-clients/lib/normalize.ts';
import { run, ZKCLI, ZKCLI_JVMFLAGS, zkCliEnv } from '../real-clients/lib/process.ts';
import { JAAS_FILE, SASL_SERVER_OPTIONS } from './sasl-support.ts';

const PYTHON = '/usr/bin/python3';
const KAZOO_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'sasl_kazoo.py');
/** Far more than either needs (a JVM start included), for a busy machine. */
const RUN_TIMEOUT_MS = 120_000;

const servers = withBothServers(SASL_SERVER_OPTIONS);

async function onBoth<T>(fn: (server: RunningServer, name: ServerName) => Promise<T>): Promise<Record<ServerName, T>> {
  const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => fn(servers.get(n), n)));
  return { zookeeper, ensemble };
}

describe('kazoo sasl_options', () => {
  test('the same transcript from both servers: users, sasl ACLs, the super user, refusals', async () => {
    const out = await onBoth(async (server, name) => {
      const res = await run(PYTHON, [KAZOO_SCRIPT, server.connectString, `/kazoo-${name}`], {
        timeoutMs: RUN_TIMEOUT_MS, env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      });
      assert.equal(res.code, 0, `kazoo against ${name}: ${res.stdout}\n${res.stderr}`);
      return tidy(res.stdout);
    });
    assert.equal(out.ensemble, out.zookeeper);
    assert.equal(out.zookeeper, [
      'bob start: ok',
      'bob create sasl:bob: ok',
      "bob get: b'x'",
      "bob acl: [(31, 'sasl', 'bob')]",
      'alice start: ok',
      'alice get: NoAuthError',
      'alice set: NoAuthError',
      'super start: ok',
      "super get: b'x'",
      'wrong password: refused',
      'stranger: refused',
      'done',
      '',
    ].join('\n'));
  });
});

/** zkCli.sh reading `commands` from stdin, with the JAAS file's `section` as its login context. */
async function zkCli(server: RunningServer, section: string, commands: readonly string[]): Promise<string> {
  const env = {
    ...zkCliEnv(),
    CLIENT_JVMFLAGS: `${ZKCLI_JVMFLAGS} -Djava.security.auth.login.config=${JAAS_FILE} -Dzookeeper.sasl.clientconfig=${section}`,
  };
  const res = await run(ZKCLI, ['-server', server.connectString], { input: [...commands, 'quit', ''].join('\n'), env, timeoutMs: RUN_TIMEOUT_MS });
  return tidy(res.stdout + res.stderr)
    .split('\n')
    .filter((l) => l !== '' && !isJavaNoiseLine(l) && !/^\s+at /.test(l) && !/^(Connecting to |Welcome to ZooKeeper!|JLine support)/.test(l))
    .join('\n');
}

/**
 * zkCli's event thread prints notifications while its main thread prints command output: their
 * interleaving varies from run to run, so transcripts are compared as sorted lines.
 */
const sorted = (text: string): string[] => text.split('\n').sort();

describe('zkCli.sh with a JAAS Client section', () => {
  test('bob authenticates: SaslAuthenticated, whoami, a sasl ACL', async () => {
    const out = await onBoth((server, name) => zkCli(server, 'Client', [
      `create /zkcli-${name} data sasl:bob:cdrwa`, 'whoami', `getAcl /zkcli-${name}`, `get /zkcli-${name}`,
    ]));
    assert.deepEqual(sorted(out.ensemble.replace(/zkcli-ensemble/g, 'zkcli-X')), sorted(out.zookeeper.replace(/zkcli-zookeeper/g, 'zkcli-X')));
    for (const line of ['WatchedEvent state:SaslAuthenticated type:None path:null', 'sasl: bob', "'sasl,'bob", ': cdrwa', 'data']) {
      assert.ok(out.ensemble.split('\n').includes(line), `expected ${JSON.stringify(line)} in:\n${out.ensemble}`);
    }
  });

  test('a wrong password and a user not in the file: AuthFailed, and the command fails', async () => {
    for (const section of ['WrongPassword', 'Stranger']) {
      const out = await onBoth((server) => zkCli(server, section, ['get /']));
      assert.deepEqual(sorted(out.ensemble), sorted(out.zookeeper), section);
      for (const line of ['WatchedEvent state:AuthFailed type:None path:null', 'KeeperErrorCode = AuthFailed for /']) {
        assert.ok(out.ensemble.split('\n').includes(line), `${section}: expected ${JSON.stringify(line)} in:\n${out.ensemble}`);
      }
    }
  });
});
