import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SERVER_NAMES, withBothServers, type RunningServer, type ServerName } from '../support/servers.ts';
import { Interactive, run } from './lib/process.ts';
import { maskHex, tidy } from './lib/normalize.ts';

const PYTHON = '/usr/bin/python3';
const KAZOO_DIR = join(dirname(fileURLToPath(import.meta.url)), 'kazoo');
/** KAZOO_SCENARIO_WAIT: how long the scripts wait for any one thing (seconds), generous for a busy machine. */
const ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1', PYTHONUNBUFFERED: '1', KAZOO_SCENARIO_WAIT: '30' };
const SCRIPT_TIMEOUT_MS = 120_000;
/** Waits for a script's progress line. */
const STEP_TIMEOUT_MS = 60_000;
const TICK_MS = 500;
/** Session timeout of the client whose session is left to expire (seconds). */
const SHORT_SESSION_S = 1.5;
/** The longest session the servers allow (20 ticks). */
const MAX_SESSION_MS = 20 * TICK_MS;

function normalize(text: string): string {
  return tidy(maskHex(text));
}

async function runScript(script: string, server: RunningServer, extra: string[] = []): Promise<string> {
  const res = await run(PYTHON, [join(KAZOO_DIR, script), server.connectString, ...extra], {
    cwd: KAZOO_DIR,
    env: ENV,
    timeoutMs: SCRIPT_TIMEOUT_MS,
  });
  assert.equal(
    res.code,
    0,
    `${script} against ${server.name} exited with ${res.code ?? res.signal}\n--- stdout ---\n${res.stdout}\n--- stderr ---\n${res.stderr}`,
  );
  assert.match(res.stdout, /^done$/m, `${script} against ${server.name} did not finish:\n${res.stdout}\n${res.stderr}`);
  return res.stdout;
}

/** Runs the same script against both servers (concurrently) and returns the transcripts. */
async function both<T>(fn: (server: RunningServer) => Promise<T>, get: (n: ServerName) => RunningServer): Promise<Record<ServerName, T>> {
  const [zookeeper, ensemble] = await Promise.all(SERVER_NAMES.map((n) => fn(get(n))));
  return { zookeeper, ensemble };
}

function assertLines(transcript: string, expected: readonly string[], label: string): void {
  const lines = new Set(transcript.split('\n'));
  for (const line of expected) {
    assert.ok(lines.has(line), `${label}: expected line ${JSON.stringify(line)} in transcript:\n${transcript}`);
  }
}

const TEST_TIMEOUT_MS = 300_000;

describe('kazoo 2.8 against Apache ZooKeeper and Ensemble', () => {
  const servers = withBothServers({ tickTimeMs: TICK_MS });

  test('CRUD, errors, ACLs and transactions give the same transcript', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = await both((s) => runScript('crud.py', s), servers.get);
    const zk = normalize(out.zookeeper);
    assertLines(
      zk,
      [
        "get a -> b'alpha' czxid=Z1 mzxid=Z1 pzxid=Z1 version=0 cversion=0 aversion=0 owner=none dataLength=5 numChildren=0 ctime==mtime recent=True",
        'set a version=7 -> BadVersionError',
        'create child of ephemeral -> NoChildrenForEphemeralsError',
        'delete non-empty -> NotEmptyError',
        'get secret (no auth) -> NoAuthError',
        "transaction failing -> ['RolledBackError', 'BadVersionError', 'RuntimeInconsistency']",
        'add_auth unknown scheme -> AuthFailedError',
      ],
      'zookeeper crud',
    );
    assert.equal(normalize(out.ensemble), zk);
  });

  test('data, exists and child watches fire the same events', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = await both((s) => runScript('watches.py', s), servers.get);
    const zk = normalize(out.zookeeper);
    assertLines(
      zk,
      [
        "events after set -> ['get-watch: type=CHANGED state=CONNECTED path=/kazoo-watch/node']",
        'events after second set (one-shot) -> []',
        "events after create -> ['exists-watch: type=CREATED state=CONNECTED path=/kazoo-watch/later']",
        'events after child data change -> []',
        "events after child create -> ['child-watch: type=CHILD state=CONNECTED path=/kazoo-watch']",
        "events after delete c1 -> ['c1-child-watch: type=DELETED state=CONNECTED path=/kazoo-watch/c1', 'child-watch: type=CHILD state=CONNECTED path=/kazoo-watch']",
        "ChildrenWatch last -> ['k1', 'k2', 'later', 'm1']",
      ],
      'zookeeper watches',
    );
    assert.equal(normalize(out.ensemble), zk);
  });

  test('ephemeral nodes vanish when a killed client’s session expires', { timeout: TEST_TIMEOUT_MS }, async () => {
    const scenario = async (server: RunningServer): Promise<{ transcript: string; elapsedMs: number }> => {
      const holder = new Interactive(PYTHON, [join(KAZOO_DIR, 'expiry_holder.py'), server.connectString, String(SHORT_SESSION_S)], {
        cwd: KAZOO_DIR,
        env: ENV,
      });
      let observer: Interactive | undefined;
      try {
        const { match } = await holder.waitFor(/^ready ([0-9a-f]+) ([0-9a-f]+)$/m, STEP_TIMEOUT_MS);
        observer = new Interactive(PYTHON, [join(KAZOO_DIR, 'expiry_observer.py'), server.connectString, match[1], match[2]], {
          cwd: KAZOO_DIR,
          env: ENV,
        });
        await observer.waitFor(/^watching$/m, STEP_TIMEOUT_MS);
        const killedAt = Date.now();
        holder.kill('SIGKILL');
        await holder.waitExit(STEP_TIMEOUT_MS);
        await observer.waitFor(/^events -> .*$/m, STEP_TIMEOUT_MS);
        const elapsedMs = Date.now() - killedAt;
        const exit = await observer.waitExit(STEP_TIMEOUT_MS);
        assert.equal(exit.code, 0, `expiry observer against ${server.name} failed\n${observer.dump()}`);
        return { transcript: observer.output, elapsedMs };
      } finally {
        await observer?.stop();
        await holder.stop();
      }
    };
    const out = await both(scenario, servers.get);
    const zk = normalize(out.zookeeper.transcript);
    assertLines(
      zk,
      [
        'owner is holder -> True',
        "events -> ['eph: type=DELETED state=CONNECTED path=/kazoo-expiry/eph', 'root-children: type=CHILD state=CONNECTED path=/kazoo-expiry']",
        'eph exists -> None',
        'children after expiry -> []',
        'kazoo saw expiry -> True',
        'new session differs -> True',
        'done',
      ],
      'zookeeper expiry',
    );
    assert.equal(normalize(out.ensemble.transcript), zk);
    for (const name of SERVER_NAMES) {
      const { elapsedMs } = out[name];
      // The session must outlive its socket (not expire at once), and expire by its own timeout:
      // before a session of the longest timeout the server allows would have (over 5 times the
      // 1.5-2 s it takes, so that a busy machine's delays do not count).
      assert.ok(elapsedMs >= SHORT_SESSION_S * 1000 * 0.5, `${name}: ephemeral vanished too early (${elapsedMs} ms after kill)`);
      assert.ok(elapsedMs < MAX_SESSION_MS, `${name}: ephemeral vanished only ${elapsedMs} ms after the kill, as late as the longest session would`);
    }
  });

  test('Lock recipe: exclusion, FIFO hand-over, release on session close', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = await both((s) => runScript('lock.py', s), servers.get);
    const zk = normalize(out.zookeeper);
    assertLines(
      zk,
      [
        'c1 acquire -> True',
        'c2 acquire non-blocking -> False',
        'c3 acquire with timeout -> LockTimeout',
        "contenders while c2 waits -> ['c1', 'c2']",
        'c2 acquired before release -> False',
        "contenders after hand-over -> ['c2']",
        "children after hand-over -> ['0000000003']",
        "order -> ['c1 acquired', 'c1 releasing', 'c2 acquired', 'c2 session closing', 'c1 acquired again']",
      ],
      'zookeeper lock',
    );
    assert.equal(normalize(out.ensemble), zk);
  });

  test('Election recipe: leadership passes in order', { timeout: TEST_TIMEOUT_MS }, async () => {
    const out = await both((s) => runScript('election.py', s), servers.get);
    const zk = normalize(out.zookeeper);
    assertLines(
      zk,
      [
        "contenders -> ['e1', 'e2', 'e3']",
        "leaders so far -> ['e1']",
        "contenders after e1 resigned -> ['e2', 'e3']",
        "contenders after e2 session closed -> ['e3']",
        'contenders at end -> []',
      ],
      'zookeeper election',
    );
    assert.match(zk, /^log -> \['e1 leads', 'e1 resigns', 'e2 leads', 'e2 session closing', 'e3 leads', /m);
    assert.equal(normalize(out.ensemble), zk);
  });
});
