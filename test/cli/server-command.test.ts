/**
 * `ensemble server`: zoo.cfg honoured, one line with the address, clean exit on SIGINT and SIGTERM;
 * a member of an ensemble started from server lines, keys that are read but not acted upon named in warnings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as connectClient } from '../../src/index.ts';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/ports.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
/** Each test's limit: starting a server through tsx takes seconds on a busy machine. */
const TEST_TIMEOUT_MS = 120_000;

function fourLetter(port: number, word: string): Promise<string> {
  return new Promise((done, fail) => {
    const s = connect(port, '127.0.0.1', () => s.write(word));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => done(out));
    s.on('error', fail);
  });
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`server from zoo.cfg answers, and exits 0 on ${signal}`, { timeout: TEST_TIMEOUT_MS }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ensemble-cli-'));
    try {
      const port = await freePort();
      const cfg = join(dir, 'zoo.cfg');
      writeFileSync(cfg, `tickTime=500\nclientPort=${port}\nclientPortAddress=127.0.0.1\ndataDir=${dir}\n4lw.commands.whitelist=ruok,conf\nnoSuchKey=1\n`);
      const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
      while (!out.includes('listening on') && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
      assert.match(out, new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
      assert.match(out, /unknown key \\"noSuchKey\\" ignored/);
      assert.equal(await fourLetter(port, 'ruok'), 'imok');
      const conf = await fourLetter(port, 'conf');
      assert.match(conf, /tickTime=500/);
      assert.match(conf, /minSessionTimeout=1000/);
      assert.match(await fourLetter(port, 'stat'), /stat is not executed because it is not in the whitelist/);
      child.kill(signal);
      assert.equal(await exited, 0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a bad flag is a clear error and a non-zero exit', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--port', 'abc'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err += d));
  const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
  assert.notEqual(code, 0);
  assert.match(err, /--port must be a port number/);
  assert.doesNotMatch(err, /at .*\.ts:\d+/);
});

/** Runs `ensemble server` with these arguments until it prints "listening on" or exits. */
function startCommand(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { text: '' };
  child.stdout.on('data', (d) => (output.text += d));
  child.stderr.on('data', (d) => (output.text += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let running = true;
  void exited.then(() => (running = false));
  const started = (async () => {
    while (running && !output.text.includes('listening on')) await new Promise((r) => setTimeout(r, 50));
  })();
  return { child, output, exited, started };
}

test('a zoo.cfg with server.N lines starts a member: it listens, and serves nothing until its ensemble has a leader', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-cli-'));
  try {
    const port = await freePort();
    const quorum = await freePort();
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(join(dir, 'myid'), '1\n');
    writeFileSync(cfg, [
      'tickTime=2000', `dataDir=${dir}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1', 'initLimit=5', 'syncLimit=2',
      `server.1=127.0.0.1:${quorum}:3888`, 'server.2=127.0.0.1:2889:3889', 'server.3=127.0.0.1:2890:3890', '4lw.commands.whitelist=*', '',
    ].join('\n'));
    const { child, output, exited, started } = startCommand(['--config', cfg]);
    await started;
    assert.match(output.text, new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
    assert.equal(await fourLetter(port, 'ruok'), 'imok');
    assert.equal(await fourLetter(port, 'srvr'), 'This ZooKeeper instance is not currently serving requests\n');
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    assert.doesNotMatch(output.text, /at .*\.ts:\d+/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keys read but not acted upon are each a warning, and the server works', { timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-cli-'));
  try {
    const port = await freePort();
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, [
      'tickTime=500', `dataDir=${dir}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1',
      'ssl.crl=true', 'metricsProvider.numWorkerThreads=2',
      'admin.enableServer=false', '',
    ].join('\n'));
    const { child, output, exited, started } = startCommand(['--config', cfg, '--property', 'zookeeper.admin.idleTimeout=30000']);
    await started;
    assert.match(output.text, new RegExp(`listening on 127\\.0\\.0\\.1:${port}`));
    assert.match(output.text, /\\"ssl\.crl\\" is recognised but not acted upon \(Ensemble checks no revocation list/);
    assert.match(output.text, /\\"metricsProvider\.numWorkerThreads\\" is recognised but not acted upon \(the metrics endpoint has no worker threads/);
    assert.match(output.text, /--property: \\"zookeeper\.admin\.idleTimeout\\" is recognised but not acted upon \(the admin server has no TLS, idle timeout/);
    // admin.enableServer=false asks for what Ensemble does anyway.
    assert.doesNotMatch(output.text, /admin\.enableServer/);
    const zk = await connectClient(`127.0.0.1:${port}`, { sessionTimeoutMs: 10_000 });
    try {
      await zk.create('/works', 'yes');
      assert.equal(String((await zk.getData('/works')).data), 'yes');
    } finally {
      await zk.close();
    }
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
