/**
 * kazoo's own test suite (shipped in Debian's python3-kazoo) run against Ensemble: a standalone
 * server, and an ensemble of three members. kazoo's harness starts "java ... QuorumPeerMain zoo.cfg"
 * once per member (ZOOKEEPER_CLUSTER_SIZE of them, with server.N lines and a myid for more than
 * one); a `java` shim on PATH starts Ensemble on that zoo.cfg instead, translating -Dzookeeper.*
 * system properties into --property. It runs the built server (dist/, which `npm ci` builds), as a
 * user would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/ports.ts';

const SUITE = '/usr/lib/python3/dist-packages/kazoo/tests';
const MODULES = [
  'test_client.py', 'test_watchers.py', 'test_lock.py', 'test_election.py', 'test_cache.py',
  'test_queue.py', 'test_barrier.py', 'test_party.py', 'test_counter.py', 'test_lease.py',
  'test_partitioner.py', 'test_security.py', 'test_paths.py', 'test_exceptions.py', 'test_retry.py',
];

/**
 * Tests that fail for a reason Ensemble does not address yet, each with that reason. Anything else
 * that fails fails this test.
 */
const KNOWN_FAILURES: Record<string, string> = {
  // These fail against a standalone Apache ZooKeeper 3.8 as well (they need a multi-server ensemble).
  'test_client.py::TestClient::test_update_host_list': 'fails against standalone Apache ZooKeeper too',
  'test_client.py::TestReconfig::test_add_remove_observer': 'reconfig: needs a replicated ensemble',
  'test_client.py::TestReconfig::test_bad_input': 'reconfig: needs a replicated ensemble',
  'test_client.py::TestReconfig::test_no_super_auth': 'reconfig: needs a replicated ensemble',
};

/**
 * Against three members: every module above (all 260 of their tests pass against three Apache
 * ZooKeeper 3.8 members here, TestReconfig included), and test_connection.py, whose tests stop
 * members under a connected client (10 of its 11 pass against ZooKeeper's members).
 */
const ENSEMBLE_MODULES = [...MODULES, 'test_connection.py'];

const ENSEMBLE_KNOWN_FAILURES: Record<string, string> = {
  'test_connection.py::TestReadOnlyMode::test_read_only':
    'fails against three Apache ZooKeeper members here too (no read-only connection within its 6 s); '
    + 'Ensemble has no read-only mode (docs/ensemble.md, Not done yet)',
};

/**
 * Not run against three members. kazoo's zoo.cfg says reconfigEnabled=true, which an Ensemble
 * member refuses (membership is fixed: docs/ensemble.md, Not done yet), so the shim leaves that line
 * out; a member then answers reconfig with RECONFIGDISABLED (-123), as ZooKeeper does with
 * reconfiguration disabled, and kazoo 2.8, which has no exception for that code, never returns from
 * the call: these tests would hang.
 */
const ENSEMBLE_DESELECTED: Record<string, string> = {
  'test_client.py::TestReconfig': 'dynamic reconfiguration is not implemented (see above)',
};

const ROOT = resolve(import.meta.dirname, '../..');

/** Runs the modules under kazoo's harness with `size` Ensemble servers; returns pytest's output. */
async function runSuite(size: 1 | 3, modules: readonly string[], deselected: readonly string[]): Promise<string> {
  const shimDir = mkdtempSync(join(tmpdir(), 'ensemble-java-shim-'));
  try {
    const shim = join(shimDir, 'java');
    writeFileSync(shim, `#!/usr/bin/env bash
props=()
for a in "$@"; do
  case "$a" in -Dzookeeper.*) props+=(--property "\${a#-D}");; esac
done
cfg="\${@: -1}"
# A member refuses reconfigEnabled=true (see ENSEMBLE_DESELECTED); a standalone server takes it.
if grep -q '^server\\.' "$cfg"; then sed -i '/^reconfigEnabled=/d' "$cfg"; fi
exec node ${JSON.stringify(join(ROOT, 'bin/ensemble.js'))} server --config "$cfg" "\${props[@]}"
`);
    chmodSync(shim, 0o755);
    const offset = (await freePort()) % 20000 + 20000;
    return await new Promise<string>((done, fail) => {
      const args = ['-m', 'pytest', '-q', '-rfE', '-p', 'no:warnings', '-p', 'no:cacheprovider'];
      // (node ids relative to the suite's directory, pytest's root here)
      for (const d of deselected) args.push('--deselect', d);
      const child = spawn('/usr/bin/python3', [...args, ...modules.map((m) => join(SUITE, m))], {
        cwd: shimDir,
        env: {
          ...process.env,
          PATH: `${shimDir}:${process.env.PATH}`,
          ZOOKEEPER_VERSION: '3.8.0',
          ZOOKEEPER_CLASSPATH: 'ensemble',
          ZOOKEEPER_CLUSTER_SIZE: String(size),
          ZOOKEEPER_PORT_OFFSET: String(offset),
          ENSEMBLE_LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (d) => (text += d));
      child.stderr.on('data', (d) => (text += d));
      child.on('error', fail);
      child.on('close', () => done(text));
    });
  } finally {
    rmSync(shimDir, { recursive: true, force: true });
  }
}

/** Asserts that enough tests ran and that none failed but the known ones. */
function assertOnlyKnownFailures(out: string, minPassed: number, known: Record<string, string>): void {
  const summary = /(\d+) passed/.exec(out);
  assert.ok(summary && Number(summary[1]) >= minPassed, `kazoo suite did not run:\n${out.slice(-3000)}`);
  const failed = [...out.matchAll(/^(?:FAILED|ERROR) \S*?tests\/(\S+?)(?: - .*)?$/gm)].map((m) => m[1]);
  const unexpected = failed.filter((t) => !(t in known));
  assert.deepEqual(unexpected, [], `unexpected kazoo failures:\n${out.slice(-6000)}`);
}

test('kazoo test suite passes against Ensemble', { timeout: 420_000 }, async () => {
  assertOnlyKnownFailures(await runSuite(1, MODULES, []), 150, KNOWN_FAILURES);
});

test('kazoo test suite passes against an ensemble of three Ensemble members', { timeout: 420_000 }, async () => {
  const out = await runSuite(3, ENSEMBLE_MODULES, Object.keys(ENSEMBLE_DESELECTED));
  assert.match(out, /\d+ deselected/, 'the reconfig tests are left out');
  assertOnlyKnownFailures(out, 250, ENSEMBLE_KNOWN_FAILURES);
});
