/**
 * The package as an application imports it: `import { connect } from 'ensemble'` (and the embeddable
 * server from 'ensemble/server', the testing server from 'ensemble/testing'), from the compiled output in dist/ (`npm test` builds it first),
 * in a process of its own.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;

const APP = `
import { connect, NoNodeError, CreateMode } from 'ensemble';
import { startServer } from 'ensemble/server';
import { TestingServer } from 'ensemble/testing';
const server = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir: process.env.DATA_DIR });
const zk = await connect('127.0.0.1:' + server.port + '/app');
const out = {};
try { await zk.getData('/missing'); } catch (e) { out.missing = e instanceof NoNodeError; }
await zk.create('/', null).catch(() => {});
out.created = await zk.create('/job-', 'payload', { mode: CreateMode.EPHEMERAL_SEQUENTIAL });
out.data = (await zk.getData(out.created)).data.toString();
await zk.close();
out.state = zk.state;
await server.close();
const testing = await TestingServer.start();
out.testing = testing.connectString;
await testing.stop();
console.log(JSON.stringify(out));
`;

test('the compiled package works under its own name', async () => {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', APP], {
    cwd: ROOT,
    env: { ...process.env, DATA_DIR: tmpdir() },
    timeout: 60_000,
  });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!);
  assert.equal(out.missing, true);
  assert.match(out.created, /^\/job-\d{10}$/);
  assert.equal(out.data, 'payload');
  assert.equal(out.state, 'Closed');
  assert.match(out.testing, /^127\.0\.0\.1:\d+$/);
});
