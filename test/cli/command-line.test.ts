/**
 * The `ensemble` command line: --version, --help for every command with its options' defaults, and
 * `ensemble cli --quiet` / `--json`, whose stdout is only the command's result (for scripts).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startServer, type StartedServer } from '../../src/server/index.ts';
import { VERSION } from '../../src/server/version.ts';

const REPO = resolve(import.meta.dirname, '../..');
const MAIN = join(REPO, 'src/cli/main.ts');
const TEST_TIMEOUT_MS = 120_000;

function ensemble(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

test('--version: the package version and the ZooKeeper version it is compatible with', { timeout: TEST_TIMEOUT_MS }, async () => {
  const { version } = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { version: string };
  const r = await ensemble('--version');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `ensemble ${version}\ncompatible with Apache ZooKeeper 3.8.0 (servers report ${VERSION.zookeeperCompatible})\n`);
});

describe('--help', () => {
  const cases: Array<[string[], RegExp[]]> = [
    [[], [/^ {2}server \[options\]/m, /^ {2}cli \[--quiet \| --json\]/m, /^ {2}cluster /m, /^ {2}demo /m, /ENSEMBLE_LOG_LEVEL/, /ENSEMBLE_LOG_FORMAT/]],
    [['server'], [
      /--port <port> +client port \(clientPort; default: 2181\)/, /--bind <address>[^]*default: 127\.0\.0\.1 without\s+--config, every address with one/, /default: \.\/data\)/,
      /--tick-time <ms>[\s\S]*default: 2000\)/, /--config <zoo\.cfg>/, /--property <key=value>/,
      /--log-level <level>[\s\S]*default: info/, /--log-format <format>[\s\S]*default: pretty on a\s+terminal, json otherwise/,
      /ENSEMBLE_LOG_LEVEL/, /ENSEMBLE_LOG_FORMAT/,
    ]],
    [['cli'], [/--quiet/, /--json/, /-server host:port.*\(default: localhost:2181\)/, /-timeout ms .*\(default: 30000\)/, /ENSEMBLE_CLI_HISTORY/]],
    [['cluster'], [/--size <n> .*\(default: 3\)/, /--base-port <port> .*\(default: 2181\)/, /--tick-time <ms> .*\(default: 2000\)/, /--log-level <level>/]],
    [['demo'], [/--workers <n> .*\(default: 4\)/, /--session-timeout <ms>[\s\S]*\(default: 4000\)/]],
    [['logs'], [/^Usage: ensemble logs DIR\|SEGMENT/m, /--from <zxid>/, /--to <zxid>/, /--json/]],
    [['snapshot'], [/^Usage: ensemble snapshot DIR\|FILE/m, /--nodes/]],
    [['purge'], [/^Usage: ensemble purge DATA_DIR \[LOG_DIR\] -n COUNT/m, /-n, --count <count>/]],
  ];
  for (const [command, patterns] of cases) {
    test(`ensemble ${[...command, '--help'].join(' ')}`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const r = await ensemble(...command, '--help');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      for (const p of patterns) assert.match(r.stdout, p);
    });
  }

  test('an unknown command or option: exit 2, with a pointer to the help', { timeout: TEST_TIMEOUT_MS }, async () => {
    for (const args of [['nosuchcommand'], ['server', '--no-such-flag'], ['server', '--log-level', 'loud']]) {
      const r = await ensemble(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^error: /);
      assert.match(r.stderr, /ensemble --help/);
    }
  });
});

describe('ensemble cli --quiet and --json', () => {
  let server: StartedServer;
  let dir: string;
  let connect: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ensemble-cli-json-'));
    server = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: dir }, { log: pino({ level: 'silent' }) });
    connect = `127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('one-shot commands print only their result', { timeout: TEST_TIMEOUT_MS }, async () => {
    const made = await ensemble('cli', '--quiet', '-server', connect, 'create', '/quiet', 'the data');
    assert.equal(made.code, 0, made.stderr);
    assert.equal(made.stdout, '');
    assert.equal(made.stderr, 'Created /quiet\n');
    // Without --quiet, zkCli's banner comes first: what $(ensemble cli … get /x) must not get.
    const plain = await ensemble('cli', '-server', connect, 'get', '/quiet');
    assert.match(plain.stdout, new RegExp(`^Connecting to ${connect}\\n`));
    const quiet = await ensemble('cli', '-server', connect, '--quiet', 'get', '/quiet');
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.equal(quiet.stdout, 'the data\n');
    assert.equal(quiet.stderr, '');
    const missing = await ensemble('cli', '--quiet', '-server', connect, 'get', '/missing');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'Node does not exist: /missing\n');
  });

  test('--json: get is {data, stat}, ls an array, stat an object, 64-bit values as strings', { timeout: TEST_TIMEOUT_MS }, async () => {
    const made = await ensemble('cli', '--json', '-server', connect, 'create', '/json', 'some data');
    assert.equal(made.code, 0, made.stderr);
    assert.deepEqual(JSON.parse(made.stdout), { path: '/json' });
    await ensemble('cli', '--quiet', '-server', connect, 'create', '/json/child');

    const get = await ensemble('cli', '--json', '-server', connect, 'get', '/json');
    assert.equal(get.code, 0, get.stderr);
    const { data, stat } = JSON.parse(get.stdout) as { data: string; stat: Record<string, unknown> };
    assert.equal(data, 'some data');
    const node = server.server.tree.get('/json')!;
    assert.equal(stat.czxid, `0x${node.czxid.toString(16)}`);
    assert.equal(stat.ctime, String(node.ctime));
    assert.equal(stat.ephemeralOwner, '0x0');
    assert.equal(stat.dataLength, 9);
    assert.equal(stat.numChildren, 1);

    const ls = await ensemble('cli', '--json', '-server', connect, 'ls', '/json');
    assert.deepEqual(JSON.parse(ls.stdout), ['child']);
    const lsStat = await ensemble('cli', '--json', '-server', connect, 'ls', '-s', '/');
    const listed = JSON.parse(lsStat.stdout) as { children: string[]; stat: { numChildren: number } };
    assert.ok(listed.children.includes('json') && listed.children.includes('zookeeper'));
    assert.equal(listed.stat.numChildren, listed.children.length);

    const statOut = await ensemble('cli', '--json', '-server', connect, 'stat', '/json');
    assert.deepEqual(JSON.parse(statOut.stdout), stat);

    const set = await ensemble('cli', '--json', '-server', connect, 'set', '/json', 'new');
    assert.equal((JSON.parse(set.stdout) as { version: number }).version, 1);

    const missing = await ensemble('cli', '--json', '-server', connect, 'stat', '/missing');
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.equal(missing.stderr, 'Node does not exist: /missing\n');
  });
});
