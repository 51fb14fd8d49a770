/**
 * `ensemble server`'s logs: JSON lines when asked (--log-format json) with the records operators
 * need (session established, closed, expired; each new log segment), the requests at debug; and
 * readable lines with --log-format pretty.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { freePort } from '../support/ports.ts';
import { RawClient } from '../support/raw-client.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const TEST_TIMEOUT_MS = 120_000;
/** How long a record may take to show up (generous: the machine may be busy). */
const WAIT_MS = 60_000;

interface Record {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** `ensemble server` on a free loopback port and a temporary data dir, its stdout kept. */
async function startServer(args: string[]) {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-logs-'));
  const port = await freePort();
  const env = { ...process.env };
  delete env.ENSEMBLE_LOG_LEVEL;
  delete env.ENSEMBLE_LOG_FORMAT;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--port', String(port), '--bind', '127.0.0.1', '--data-dir', dir, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (output.stdout += d));
  child.stderr.on('data', (d) => (output.stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const waitFor = async (what: string, found: () => boolean): Promise<void> => {
    const deadline = Date.now() + WAIT_MS;
    while (!found()) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${what} in:\n${output.stdout}\n${output.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  await waitFor('"listening on"', () => output.stdout.includes('listening on'));
  const records = (): Record[] => output.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record);
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    rmSync(dir, { recursive: true, force: true });
  };
  return { port, output, records, waitFor, stop };
}

const hexId = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;

test('--log-format json: session established, closed and expired, with their fields; a new log segment', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer(['--log-format', 'json', '--tick-time', '200']);
  try {
    const find = (msg: string, session: string) => server.records().find((r) => r.msg === msg && r.session === session);
    const closing = await RawClient.connect('127.0.0.1', server.port, { timeoutMs: 5000 });
    const closedId = hexId(closing.sessionId);
    await closing.create('/logged', 'x');
    await closing.close();
    await server.waitFor('session closed', () => find('session closed', closedId) !== undefined);

    const established = find('session established', closedId)!;
    assert.equal(established.level, 30);
    assert.match(String(established.client), /^127\.0\.0\.1:\d+$/);
    assert.equal(established.timeoutMs, 4000, 'the negotiated timeout (20 ticks of 200 ms at most)');
    assert.equal(find('session closed', closedId)!.client, established.client);
    const segment = server.records().find((r) => r.msg === 'new log segment');
    assert.ok(segment, 'the first write starts a log segment');
    assert.match(String(segment.path), /log\.1$/);

    // A client that goes away without closing: its session expires after its timeout.
    const vanishing = await RawClient.connect('127.0.0.1', server.port, { timeoutMs: 400, autoPing: false });
    const expiredId = hexId(vanishing.sessionId);
    vanishing.destroy();
    await server.waitFor('session expired', () => find('session expired', expiredId) !== undefined);
    assert.equal(find('session established', expiredId)!.timeoutMs, 400);
    assert.match(String(find('session expired', expiredId)!.reason), /timeout of 400ms exceeded/);
    assert.equal(find('session closed', expiredId), undefined, 'an expired session is not closed by its client');
    // Nothing but JSON lines on stdout.
    assert.ok(server.records().length > 0);
  } finally {
    await server.stop();
  }
});

test('--log-level debug shows each request with its session, op and path; a connection over maxClientCnxns is a warning', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer(['--log-format', 'json', '--log-level', 'debug', '--property', 'maxClientCnxns=1']);
  try {
    const client = await RawClient.connect('127.0.0.1', server.port);
    const id = hexId(client.sessionId);
    await client.getData('/zookeeper');
    await assert.rejects(RawClient.connect('127.0.0.1', server.port), 'a second connection from the address is refused');
    await client.close();
    const refusal = (): Record | undefined => server.records().find((r) => r.msg.startsWith('connection refused: too many connections'));
    await server.waitFor('refusal', () => refusal() !== undefined);
    const refused = refusal();
    assert.equal(refused?.level, 40);
    assert.equal(refused?.client, '127.0.0.1');
    assert.equal(refused?.max, 1);
    const request = (): Record | undefined => server.records().find((r) => r.msg === 'request' && r.op === 'getData');
    await server.waitFor('getData request', () => request() !== undefined);
    assert.equal(request()!.level, 20);
    assert.equal(request()!.session, id);
    assert.equal(request()!.path, '/zookeeper');
  } finally {
    await server.stop();
  }
});

test('--log-format pretty: one readable line per record, no JSON', { timeout: TEST_TIMEOUT_MS }, async () => {
  const server = await startServer(['--log-format', 'pretty']);
  const client = await RawClient.connect('127.0.0.1', server.port);
  await client.close();
  await server.waitFor('session closed', () => server.output.stdout.includes('session closed'));
  await server.stop();
  const lines = server.output.stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length >= 3, server.output.stdout);
  for (const line of lines) {
    assert.doesNotMatch(line, /^\{/, 'not a JSON record');
    assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|DEBUG|ERROR): /);
  }
  assert.match(server.output.stdout, /INFO: session established \{"session":"0x[0-9a-f]+","client":"127\.0\.0\.1:\d+","timeoutMs":\d+\}/);
  assert.match(server.output.stdout, /INFO: SIGTERM: shutting down$/m, 'the last line before the exit is there');
});

test('ENSEMBLE_LOG_LEVEL and ENSEMBLE_LOG_FORMAT are read; a bad value is one clear line', { timeout: TEST_TIMEOUT_MS }, async () => {
  const run = (env: NodeJS.ProcessEnv) => new Promise<{ code: number | null; stderr: string }>((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => done({ code, stderr }));
  });
  const level = await run({ ENSEMBLE_LOG_LEVEL: 'loud' });
  assert.notEqual(level.code, 0);
  assert.equal(level.stderr, 'ensemble: ENSEMBLE_LOG_LEVEL must be one of trace, debug, info, warn, error, fatal, silent, got "loud"\n');
  const format = await run({ ENSEMBLE_LOG_LEVEL: 'info', ENSEMBLE_LOG_FORMAT: 'xml' });
  assert.notEqual(format.code, 0);
  assert.equal(format.stderr, 'ensemble: ENSEMBLE_LOG_FORMAT must be one of json, pretty, got "xml"\n');
});
