/** `ensemble server`: zoo.cfg honoured, one line with the address, clean exit on SIGINT and SIGTERM. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../support/ports.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');

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
  test(`server from zoo.cfg answers, and exits 0 on ${signal}`, { timeout: 30_000 }, async () => {
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
      const deadline = Date.now() + 20_000;
      while (!out.includes('listening on') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
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
