/**
 * kazoo's own test suite (shipped in Debian's python3-kazoo) run against Ensemble. kazoo's harness
 * starts "java ... QuorumPeerMain zoo.cfg"; a `java` shim on PATH starts Ensemble on that zoo.cfg
 * instead, translating -Dzookeeper.* system properties into --property. It runs the built server
 * (dist/, which `npm ci` builds), as a user would.
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

const ROOT = resolve(import.meta.dirname, '../..');

test('kazoo test suite passes against Ensemble', { timeout: 420_000 }, async () => {
  const shimDir = mkdtempSync(join(tmpdir(), 'ensemble-java-shim-'));
  try {
    const shim = join(shimDir, 'java');
    writeFileSync(shim, `#!/usr/bin/env bash
props=()
for a in "$@"; do
  case "$a" in -Dzookeeper.*) props+=(--property "\${a#-D}");; esac
done
exec node ${JSON.stringify(join(ROOT, 'bin/ensemble.js'))} server --config "\${@: -1}" "\${props[@]}"
`);
    chmodSync(shim, 0o755);
    const offset = (await freePort()) % 20000 + 20000;
    const out = await new Promise<string>((done, fail) => {
      const child = spawn('/usr/bin/python3', ['-m', 'pytest', '-q', '-rfE', '-p', 'no:warnings', '-p', 'no:cacheprovider', ...MODULES.map((m) => join(SUITE, m))], {
        cwd: shimDir,
        env: {
          ...process.env,
          PATH: `${shimDir}:${process.env.PATH}`,
          ZOOKEEPER_VERSION: '3.8.0',
          ZOOKEEPER_CLASSPATH: 'ensemble',
          ZOOKEEPER_CLUSTER_SIZE: '1',
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
    const summary = /(\d+) passed/.exec(out);
    assert.ok(summary && Number(summary[1]) > 150, `kazoo suite did not run:\n${out.slice(-3000)}`);
    const failed = [...out.matchAll(/^(?:FAILED|ERROR) \S*?tests\/(\S+?)(?: - .*)?$/gm)].map((m) => m[1]);
    const unexpected = failed.filter((t) => !(t in KNOWN_FAILURES));
    assert.deepEqual(unexpected, [], `unexpected kazoo failures:\n${out.slice(-6000)}`);
  } finally {
    rmSync(shimDir, { recursive: true, force: true });
  }
});
