/**
 * Safe defaults: the limits' keys and defaults (ZooKeeper 3.8's where it has the limit), where
 * `ensemble server` listens with and without a zoo.cfg and what it says about it, one log line per
 * limit per interval however often it is reached, and packet lengths that are never allocated.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { FrameDecoder, FrameTooLargeError } from '../../src/protocol/frame-decoder.ts';
import { OpCode } from '../../src/protocol/constants.ts';
import { parseZooCfg, resolveConfig } from '../../src/server/config.ts';
import { ServerMetrics } from '../../src/server/admin/metrics.ts';
import { ConnectionLimits } from '../../src/server/net/limits.ts';
import { exposureWarning, isLoopback } from '../../src/server/net/exposure.ts';
import { freePort } from '../support/ports.ts';
import { HealthyClient, JUTE_MAX_BUFFER, lengthPrefix, pathWatchRecord, RawClient } from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard } from './harness.ts';
import { handshakeAnswered, serverWith } from './limits-harness.ts';

installUncaughtGuard();

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const WAIT_MS = 60_000;

describe('limits: keys and defaults', () => {
  test('the defaults are ZooKeeper 3.8\'s where it has the limit', () => {
    const c = resolveConfig({});
    // NIOServerCnxnFactory: sessionlessCnxnTimeout 10000, maxClientCnxns 60; ServerCnxnFactory: maxCnxns 0;
    // ZooKeeperServer: globalOutstandingLimit 1000; BinaryInputArchive: jute.maxbuffer 0xfffff.
    assert.deepEqual(
      [c.sessionlessCnxnTimeoutMs, c.maxClientCnxns, c.maxCnxns, c.globalOutstandingLimit, c.juteMaxBufferBytes],
      [10_000, 60, 0, 1000, 0xfffff],
    );
    assert.equal(c.maxOutputBytesPerConnection, 64 * 1024 * 1024);
    assert.equal(c.maxOutputBytes, 256 * 1024 * 1024);
    assert.equal(c.maxInputBytes, 256 * 1024 * 1024);
  });

  test('zoo.cfg keys, with or without ZooKeeper\'s "zookeeper." system-property prefix', () => {
    const { config, warnings } = parseZooCfg([
      'maxCnxns=100', 'zookeeper.nio.sessionlessCnxnTimeout=2500', 'globalOutstandingLimit=50',
      'ensemble.maxOutputBytes=1000000', 'ensemble.maxOutputBytesPerConnection=200000', 'ensemble.maxInputBytes=3000000',
    ].join('\n'));
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, {
      maxCnxns: 100, sessionlessCnxnTimeoutMs: 2500, globalOutstandingLimit: 50, maxOutputBytes: 1_000_000, maxOutputBytesPerConnection: 200_000,
      maxInputBytes: 3_000_000,
    });
  });

  test('a negative maxCnxns is no limit, as ZooKeeper; a timeout or byte bound that is not positive is refused', () => {
    assert.equal(resolveConfig({ maxCnxns: -5 }).maxCnxns, 0);
    assert.throws(() => resolveConfig({ sessionlessCnxnTimeoutMs: 0 }), /nio\.sessionlessCnxnTimeout must be positive/);
    assert.throws(() => resolveConfig({ maxOutputBytes: -1 }), /ensemble\.maxOutputBytes must be positive/);
    assert.throws(() => resolveConfig({ globalOutstandingLimit: -1 }), /globalOutstandingLimit must not be negative/);
  });
});

describe('limits: one log line per limit per interval', () => {
  test('a thousand refusals are counted one by one and logged once per interval, with how many were not', () => {
    const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
    let nowMs = 0;
    const limits = new ConnectionLimits({ maxCnxns: 1, maxClientCnxns: 0, globalOutstandingLimit: 1000, maxOutputBytes: 1, maxInputBytes: 1 },
      { warn: (fields, msg) => lines.push({ fields: fields as Record<string, unknown>, msg }) },
      { now: () => nowMs, monotonic: () => nowMs }, 10_000);
    limits.opened('10.0.0.1');
    for (let i = 0; i < 1000; i++) assert.equal(limits.admit('10.0.0.2'), false);
    assert.equal(limits.connectionsRejected, 1000);
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0].fields, { client: '10.0.0.2', max: 1 });
    assert.match(lines[0].msg, /maxCnxns/);
    // Another limit has its own line.
    limits.reached('jute.maxbuffer', { remote: '10.0.0.3' });
    assert.equal(lines.length, 2);
    nowMs += 10_000;
    assert.equal(limits.admit('10.0.0.2'), false);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[2].fields, { client: '10.0.0.2', max: 1, notLogged: 999 });
    // A place given back is taken again.
    limits.closed('10.0.0.1');
    assert.equal(limits.admit('10.0.0.2'), true);
  });
});

describe('limits: packet lengths', () => {
  test('a length prefix that is negative, huge or just under jute.maxbuffer allocates nothing of its size', () => {
    const allocUnsafe = Buffer.allocUnsafe;
    let largest = 0;
    Buffer.allocUnsafe = (n: number) => {
      largest = Math.max(largest, n);
      return allocUnsafe(n);
    };
    try {
      for (const len of [-1, -0x80000000, 0x7fffffff, JUTE_MAX_BUFFER + 1]) {
        // The prefix split across two reads, as a slow sender's would be.
        const d = new FrameDecoder(JUTE_MAX_BUFFER);
        d.push(lengthPrefix(len).subarray(0, 1));
        d.push(Buffer.concat([lengthPrefix(len).subarray(1), Buffer.alloc(10)]));
        assert.throws(() => d.nextReader(), FrameTooLargeError);
      }
      // A frame that may come: what is buffered grows with what arrives, not with what is announced.
      const d = new FrameDecoder(JUTE_MAX_BUFFER);
      d.push(lengthPrefix(JUTE_MAX_BUFFER).subarray(0, 3));
      d.push(Buffer.concat([lengthPrefix(JUTE_MAX_BUFFER).subarray(3), Buffer.alloc(100)]));
      assert.equal(d.nextReader(), null);
    } finally {
      Buffer.allocUnsafe = allocUnsafe;
    }
    assert.ok(largest <= 64 * 1024, `allocated ${largest} bytes`);
  });

  describe('a packet over jute.maxbuffer closes its own connection only', () => {
    const server = serverWith('ensemble', []);
    test('twenty oversize packets: twenty connections closed and counted, a session opened before keeps working', async () => {
      const t = server();
      const healthy = await HealthyClient.connect(t.host, t.port);
      const limits = t.inProcess!.server.limits;
      try {
        for (let i = 0; i < 20; i++) {
          const c = await RawClient.connect(t.host, t.port);
          await c.handshake();
          c.send(Buffer.concat([lengthPrefix(JUTE_MAX_BUFFER + 1 + i), Buffer.alloc(64)]));
          assert.ok(await c.waitClosed(), `oversize packet ${i}: connection kept`);
        }
        assert.equal(limits.count('jute.maxbuffer'), 20);
        assert.equal((await healthy.call(OpCode.exists, pathWatchRecord('/'))).err, 0);
        assert.ok(await eventually(() => t.inProcess!.server.connections.size === 1, WAIT_MS));
      } finally {
        healthy.close();
      }
      assertNothingEscaped();
    });
  });
});

describe('limits: the Prometheus metrics', () => {
  const server = serverWith('ensemble', ['maxCnxns=2']);
  test('connection_rejected and ensemble_limit_reached_total move as mntr does', async () => {
    const t = server();
    const metrics = new ServerMetrics({ host: '127.0.0.1', port: 0, processInfo: false });
    await metrics.start(t.inProcess!.server, { info: () => {}, warn: () => {} });
    const sessions = [await HealthyClient.connect(t.host, t.port), await HealthyClient.connect(t.host, t.port)];
    try {
      assert.equal(await handshakeAnswered(t), false);
      assert.equal(await handshakeAnswered(t), false);
      const text = await metrics.registry.metrics();
      assert.match(text, /^connection_rejected 2$/m);
      assert.match(text, /^sessionless_connections_expired 0$/m);
      assert.match(text, /^ensemble_limit_reached_total\{limit="maxCnxns"\} 2$/m);
      assert.match(text, /^ensemble_limit_reached_total\{limit="jute\.maxbuffer"\} 0$/m);
      assert.match(text, /^ensemble_unsent_output_bytes \d+$/m);
      assert.match(text, /^ensemble_unfinished_input_bytes \d+$/m);
    } finally {
      for (const c of sessions) c.close();
      await metrics.close();
    }
    assertNothingEscaped();
  });
});

describe('limits: where `ensemble server` listens', () => {
  test('isLoopback and the warning for a server open to other hosts without authentication', () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) assert.ok(isLoopback(a), a);
    for (const a of ['0.0.0.0', '::', '10.0.0.5', '128.0.0.1', 'example.com']) assert.ok(!isLoopback(a), a);
    /** The warning for the configuration these zoo.cfg lines make. */
    const warning = (...lines: string[]): string | undefined => exposureWarning(parseZooCfg(lines.join('\n')).config);
    assert.equal(warning('clientPortAddress=127.0.0.1'), undefined);
    assert.match(warning('clientPort=2181') ?? '', /every interface.*no authentication is configured/);
    assert.match(warning('clientPortAddress=10.0.0.5') ?? '', /\(10\.0\.0\.5\)/);
    // SASL serves both ports.
    assert.equal(exposureWarning({ sasl: { jaasFile: '/etc/zookeeper/jaas.conf' } }), undefined);
    // A certificate (ssl.clientAuth=need, ZooKeeper's default) only the secure port: a plain port open to all still warns.
    assert.equal(warning('secureClientPort=2182'), undefined);
    assert.equal(warning('secureClientPort=2182', 'ssl.clientAuth=need'), undefined);
    assert.match(warning('secureClientPort=2182', 'ssl.clientAuth=want') ?? '', /every interface/);
    assert.match(warning('secureClientPort=2182', 'clientPort=2181') ?? '', /every interface/);
    assert.equal(warning('secureClientPort=2182', 'clientPort=2181', 'clientPortAddress=127.0.0.1'), undefined);
    assert.match(warning('secureClientPort=2182', 'ssl.clientAuth=none', 'secureClientPortAddress=10.0.0.5') ?? '', /10\.0\.0\.5/);
  });

  test('without a zoo.cfg: loopback only, and the startup line says so', async () => {
    const server = await startCli([]);
    try {
      const listening = server.records().find((r) => r.msg.startsWith('ensemble listening on'));
      assert.match(listening?.msg ?? '', /^ensemble listening on 127\.0\.0\.1:\d+ \(loopback only/);
      assert.equal(server.records().filter((r) => r.level >= 40).length, 0, 'no warning');
      const c = await HealthyClient.connect('127.0.0.1', server.port);
      c.close();
      // Another address of this host, if it has one, is not served.
      const other = Object.values(networkInterfaces()).flat().find((i) => i?.family === 'IPv4' && !i.internal)?.address;
      if (other !== undefined) await assert.rejects(RawClient.connect(other, server.port), /ECONNREFUSED/);
    } finally {
      await server.stop();
    }
  });

  test('with a zoo.cfg and no clientPortAddress: every interface, as ZooKeeper, and a warning that nothing authenticates', async () => {
    const server = await startCli([], 'tickTime=2000\n');
    try {
      const warning = server.records().find((r) => r.level === 40 && /no authentication is configured/.test(r.msg));
      assert.ok(warning, 'no warning');
      assert.match(warning.msg, /every interface/);
      const listening = server.records().find((r) => r.msg.startsWith('ensemble listening on'));
      assert.match(listening?.msg ?? '', /^ensemble listening on (\[::\]|0\.0\.0\.0):\d+$/);
    } finally {
      await server.stop();
    }
  });
});

interface LogRecord {
  level: number;
  msg: string;
}

/** `ensemble server` with these arguments, its data in a temporary directory, on a free port; with `zooCfg`, --config of a file with it. */
async function startCli(args: string[], zooCfg?: string) {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-defaults-'));
  const port = await freePort();
  if (zooCfg !== undefined) {
    writeFileSync(join(dir, 'zoo.cfg'), zooCfg);
    args = [...args, '--config', join(dir, 'zoo.cfg')];
  }
  const env = { ...process.env };
  delete env.ENSEMBLE_LOG_LEVEL;
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--port', String(port), '--data-dir', join(dir, 'data'), '--log-format', 'json', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'], env,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  const records = (): LogRecord[] => stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogRecord);
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  if (!(await eventually(() => stdout.includes('listening on') || child.exitCode !== null, WAIT_MS)) || child.exitCode !== null) {
    await stop();
    throw new Error(`ensemble server did not start:\n${stdout}\n${stderr}`);
  }
  return { port, records, stop };
}
