/**
 * The Prometheus endpoint (metricsProvider.* keys, as ZooKeeper's PrometheusMetricsProvider): a
 * standalone server and ensemble members started with the keys, scraped with plain fetch, the text
 * format parsed, and the values checked against what was done.
 */
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, connect as netConnect, type AddressInfo } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { LatencySummary } from '../../src/server/admin/metrics.ts';
import { parseZooCfg, resolveConfig } from '../../src/server/config.ts';
import { startServer, type StartedServer } from '../../src/server/index.ts';
import { startMember } from '../../src/server/quorum/start-member.ts';
import { freePort, freePorts } from '../support/ports.ts';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import { RawClient } from '../support/raw-client.ts';
import { eventually } from '../support/recipes.ts';
import { fourLetterWord } from '../support/zookeeper.ts';

const PROMETHEUS = 'metricsProvider.className=org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';

/** Samples by name with their labels as written (`name{a="b"}`), and the families' types. */
interface Scrape {
  samples: Map<string, number>;
  types: Map<string, string>;
}

function parseMetrics(text: string): Scrape {
  const samples = new Map<string, number>();
  const types = new Map<string, string>();
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type !== null) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return { samples, types };
}

async function scrape(port: number, host = '127.0.0.1'): Promise<Scrape> {
  const res = await fetch(`http://${host}:${port}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
  return parseMetrics(await res.text());
}

function value(s: Scrape, key: string): number {
  const v = s.samples.get(key);
  assert.ok(v !== undefined, `no sample ${key} in the scrape`);
  return v;
}

/** Whether something accepts TCP connections at host:port. */
function listening(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A logger whose records (parsed) the test can read. */
function capturedLog(): { log: pino.Logger; records: Array<Record<string, unknown>> } {
  const records: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') records.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'info' }, sink), records };
}

describe('metricsProvider.* keys', () => {
  it('Prometheus\' provider turns the endpoint on, with ZooKeeper\'s port and process metrics by default, on loopback', () => {
    const { config, warnings } = parseZooCfg(PROMETHEUS);
    assert.deepEqual(config.metrics, { host: '127.0.0.1', port: 7000, processInfo: true });
    assert.deepEqual(warnings, []);
    const set = parseZooCfg(`${PROMETHEUS}\nmetricsProvider.httpHost=0.0.0.0\nmetricsProvider.httpPort=7001\nmetricsProvider.exportJvmInfo=false\n`);
    assert.deepEqual(set.config.metrics, { host: '0.0.0.0', port: 7001, processInfo: false });
    assert.deepEqual(set.warnings, []);
  });

  it('ZooKeeper\'s providers without an endpoint mean none; another class name is refused by name', () => {
    for (const name of ['org.apache.zookeeper.metrics.impl.NullMetricsProvider', 'org.apache.zookeeper.metrics.impl.DefaultMetricsProvider']) {
      const { config, warnings } = parseZooCfg(`metricsProvider.className=${name}\n`);
      assert.equal(config.metrics, undefined);
      assert.deepEqual(warnings, []);
    }
    assert.throws(() => parseZooCfg('metricsProvider.className=com.example.StatsdProvider\n'), /metricsProvider\.className=com\.example\.StatsdProvider is not supported.*PrometheusMetricsProvider/);
    const alone = parseZooCfg('metricsProvider.httpPort=7001\n');
    assert.equal(alone.config.metrics, undefined);
    assert.match(alone.warnings.join('\n'), /"metricsProvider\.httpPort" has no effect without metricsProvider\.className=/);
    assert.equal(parseZooCfg('').config.metrics, undefined);
  });

  it('fsync.warningthresholdms is read (1000 ms by default), with or without zookeeper.', () => {
    assert.equal(resolveConfig(parseZooCfg('').config).fsyncWarningThresholdMs, 1000);
    assert.equal(parseZooCfg('fsync.warningthresholdms=250\n').config.fsyncWarningThresholdMs, 250);
    const { config, warnings } = parseZooCfg('zookeeper.fsync.warningthresholdms=5\n');
    assert.equal(config.fsyncWarningThresholdMs, 5);
    assert.deepEqual(warnings, []);
  });
});

it('the request latency summaries\' quantiles are within 5% of the true ones, from 1 µs to 100 s', () => {
  const s = new LatencySummary('readlatency', 'h');
  const n = 10_000;
  for (let i = 1; i <= n; i++) s.observe(i * 0.01);
  const got = s.get();
  for (const q of [0.5, 0.9, 0.99]) {
    const v = got.values.find((x) => x.labels.quantile === String(q))!.value;
    const truth = q * n * 0.01;
    assert.ok(v >= truth * (1 - 1e-9) && v <= truth * 1.05, `quantile ${q}: ${v}, true ${truth}`);
  }
  assert.equal(got.values.find((x) => x.metricName === 'readlatency_count')!.value, n);
  assert.ok(Math.abs(got.values.find((x) => x.metricName === 'readlatency_sum')!.value - (n * (n + 1) / 2) * 0.01) < 1e-6);
  const extremes = new LatencySummary('x', 'h');
  extremes.observe(0);
  extremes.observe(1e9);
  assert.equal(extremes.get().values[0].value, 0.001);
  assert.ok(extremes.get().values[2].value >= 1e5);
});

describe('a standalone server\'s metrics', () => {
  const dirs: string[] = [];
  const servers: StartedServer[] = [];
  const clients: ZooKeeperClient[] = [];
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    for (const s of servers) await s.close();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function start(cfg: string, log?: pino.Logger): Promise<StartedServer> {
    const dataDir = mkdtempSync(join(tmpdir(), 'ensemble-metrics-'));
    dirs.push(dataDir);
    const { config } = parseZooCfg(`${cfg}\ndataDir=${dataDir}\nclientPortAddress=127.0.0.1\nclientPort=${await freePort()}\n`);
    const s = await startServer(config, { log: log ?? pino({ level: 'silent' }) });
    servers.push(s);
    return s;
  }

  async function client(s: StartedServer): Promise<ZooKeeperClient> {
    const c = await connect(`127.0.0.1:${s.port}`, { sessionTimeoutMs: 10_000 });
    clients.push(c);
    return c;
  }

  it('reports the tree, the requests done, the log\'s durable writes and the process, with ZooKeeper\'s names', async () => {
    const port = await freePort();
    const { log, records } = capturedLog();
    const s = await start(`${PROMETHEUS}\nmetricsProvider.httpPort=${port}\n4lw.commands.whitelist=mntr\n`, log);
    const listened = records.find((r) => typeof r.msg === 'string' && r.msg.startsWith('metrics at '));
    assert.equal(listened?.msg, `metrics at http://127.0.0.1:${port}/metrics`);
    const before = await scrape(port);
    const c = await client(s);
    for (let i = 0; i < 5; i++) await c.create(`/n${i}`, Buffer.from('abc'));
    await c.create('/e', Buffer.alloc(0), { mode: 'ephemeral' });
    for (let i = 0; i < 3; i++) await c.getData('/n0');
    const m = await scrape(port);

    assert.equal(value(m, 'znode_count') - value(before, 'znode_count'), 6);
    // The same figures as mntr's.
    const mntr = new Map((await fourLetterWord('127.0.0.1', s.port, 'mntr')).trim().split('\n').map((l) => l.split('\t') as [string, string]));
    for (const name of ['znode_count', 'ephemerals_count', 'approximate_data_size']) assert.equal(value(m, name), Number(mntr.get(`zk_${name}`)), name);
    assert.equal(value(m, 'ephemerals_count'), 1);
    assert.equal(value(m, 'global_sessions'), 1);
    assert.equal(value(m, 'num_alive_connections'), 1);
    assert.equal(value(m, 'outstanding_requests'), 0);
    assert.ok(value(m, 'approximate_data_size') - value(before, 'approximate_data_size') >= 5 * ('/n0'.length + 3));
    assert.ok(value(m, 'packets_received') >= 10 && value(m, 'packets_sent') >= 10);
    assert.ok(value(m, 'uptime') >= 0);
    for (const name of ['znode_count', 'num_alive_connections', 'avg_latency', 'uptime']) assert.equal(m.types.get(name), 'gauge', name);

    // Per op: the creates (create2 on the wire) and the reads counted one by one.
    assert.equal(value(m, 'ensemble_request_duration_seconds_count{op="create2"}'), 6);
    assert.equal(value(m, 'ensemble_request_duration_seconds_count{op="getData"}'), 3);
    assert.equal(value(m, 'ensemble_request_duration_seconds_bucket{le="+Inf",op="getData"}'), 3);
    assert.equal(m.types.get('ensemble_request_duration_seconds'), 'histogram');
    // ZooKeeper's summaries: writes in updatelatency, reads (pings too) in readlatency.
    assert.equal(m.types.get('updatelatency'), 'summary');
    assert.equal(value(m, 'updatelatency_count'), 6);
    assert.ok(value(m, 'readlatency_count') >= 3);
    assert.ok(m.samples.has('readlatency{quantile="0.99"}'));

    // Every create was made durable in some batch before its reply.
    assert.ok(value(m, 'ensemble_fsync_duration_seconds_count') > 0);
    assert.ok(value(m, 'ensemble_fsync_duration_seconds_sum') > 0);
    assert.equal(value(m, 'fsynctime_count'), value(m, 'ensemble_fsync_duration_seconds_count'));
    assert.ok(value(m, 'ensemble_commit_batch_entries_sum') >= 6);
    assert.equal(value(m, 'sync_processor_batch_size_count'), value(m, 'ensemble_commit_batch_entries_count'));

    // The start: the database loaded once, and a fresh data dir's first snapshot written.
    assert.equal(value(m, 'dbinittime_count'), 1);
    assert.ok(value(m, 'snapshottime_count') >= 1);
    assert.equal(value(m, 'ensemble_server_state{state="standalone"}'), 1);
    assert.ok(m.samples.has('ensemble_event_loop_lag_seconds{quantile="0.99"}'));
    assert.ok(value(m, 'open_file_descriptor_count') > 0);
    assert.ok(value(m, 'max_file_descriptor_count') >= value(m, 'open_file_descriptor_count'));
    // exportJvmInfo (on by default): the Node process's own.
    assert.ok(value(m, 'process_cpu_user_seconds_total') > 0);
    assert.ok(m.samples.has('nodejs_heap_size_used_bytes'));
    assert.equal(m.samples.has('quorum_size'), false);

    const other = await fetch(`http://127.0.0.1:${port}/other`);
    assert.equal(other.status, 404);
  });

  it('exportJvmInfo=false leaves the process metrics out; two servers in one process keep their own', async () => {
    const [p1, p2] = await freePorts(2);
    const a = await start(`${PROMETHEUS}\nmetricsProvider.httpPort=${p1}\nmetricsProvider.exportJvmInfo=false\n`);
    await start(`${PROMETHEUS}\nmetricsProvider.httpPort=${p2}\n`);
    const c = await client(a);
    await c.create('/only-on-a', null);
    const ma = await scrape(p1);
    const mb = await scrape(p2);
    assert.equal([...ma.samples.keys()].some((k) => k.startsWith('process_') || k.startsWith('nodejs_')), false);
    assert.ok(mb.samples.has('process_cpu_user_seconds_total'));
    assert.equal(value(ma, 'ensemble_request_duration_seconds_count{op="create2"}'), 1);
    assert.equal(mb.samples.has('ensemble_request_duration_seconds_count{op="create2"}'), false);
    assert.equal(value(ma, 'znode_count') - value(mb, 'znode_count'), 1);
  });

  it('listens on loopback unless httpHost says otherwise', async () => {
    const port = await freePort();
    await start(`${PROMETHEUS}\nmetricsProvider.httpPort=${port}\n`);
    assert.equal(await listening(port), true);
    const external = Object.values(networkInterfaces()).flat().find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    if (external !== undefined) assert.equal(await listening(port, external.address), false, `reachable at ${external.address}`);
  });

  it('is off by default: nothing listens on ZooKeeper\'s port 7000', async () => {
    const busyBefore = await listening(7000);
    const s = await start('');
    assert.equal(s.server.stats.requestObserver, undefined);
    // (When something else holds 7000 on this machine, that it is not this server shows above.)
    if (!busyBefore) assert.equal(await listening(7000), false);
  });

  it('counts the sessions that expire as ZooKeeper\'s stale_sessions_expired', async () => {
    const port = await freePort();
    const s = await start(`${PROMETHEUS}\nmetricsProvider.httpPort=${port}\ntickTime=100\n`);
    const raw = await RawClient.connect('127.0.0.1', s.port, { timeoutMs: 300, autoPing: false });
    const closing = await client(s);
    await closing.close();
    assert.equal(value(await scrape(port), 'global_sessions'), 1);
    // The raw client sends no pings: its session expires; the closed one is not counted.
    await eventually(async () => value(await scrape(port), 'global_sessions') === 0, 'the session to expire', 30_000);
    const m = await scrape(port);
    assert.equal(value(m, 'stale_sessions_expired'), 1);
    assert.equal(m.types.get('stale_sessions_expired'), 'counter');
    await raw.close().catch(() => {});
  });

  it('a metrics (or admin) port in use fails the start, and what it started is closed', async () => {
    const held = createServer();
    const port = await new Promise<number>((resolve) => held.listen({ host: '127.0.0.1', port: 0 }, () => resolve((held.address() as AddressInfo).port)));
    const clientPort = await freePort();
    const dataDir = mkdtempSync(join(tmpdir(), 'ensemble-metrics-'));
    dirs.push(dataDir);
    const { config } = parseZooCfg(`${PROMETHEUS}\nmetricsProvider.httpPort=${port}\ndataDir=${dataDir}\nclientPortAddress=127.0.0.1\nclientPort=${clientPort}\n`);
    await assert.rejects(startServer(config, { log: pino({ level: 'silent' }) }), /EADDRINUSE/);
    assert.equal(await listening(clientPort), false);
    // The admin server failing after the metrics started: they are closed too.
    const metricsPort = await freePort();
    const both = parseZooCfg(`${PROMETHEUS}\nmetricsProvider.httpPort=${metricsPort}\nadmin.enableServer=true\nadmin.serverPort=${port}\ndataDir=${dataDir}\nclientPortAddress=127.0.0.1\nclientPort=${clientPort}\n`);
    await assert.rejects(startServer(both.config, { log: pino({ level: 'silent' }) }), /EADDRINUSE/);
    assert.equal(await listening(metricsPort), false);
    assert.equal(await listening(clientPort), false);
    await new Promise<void>((resolve) => held.close(() => resolve()));
  });

  it('a durable write slower than fsync.warningthresholdms is logged with its file and duration', async () => {
    const { log, records } = capturedLog();
    const s = await start('fsync.warningthresholdms=0\n', log);
    const c = await client(s);
    await c.create('/slow', null);
    const slow = records.find((r) => r.msg === 'a durable write to the log was slow: requests waited on it');
    assert.ok(slow !== undefined, 'no warning');
    assert.match(String(slow.file), /log\.[0-9a-f]+$/);
    assert.equal(typeof slow.ms, 'number');
    assert.equal(slow.thresholdMs, 0);
  });
});

describe('an ensemble member\'s metrics', () => {
  const ensemble = new ProcessEnsemble();
  const running: Array<Awaited<ReturnType<typeof startMember>>> = [];
  let client: ZooKeeperClient | undefined;
  after(async () => {
    await client?.close().catch(() => {});
    for (const m of running) await m.close();
    rmSync(ensemble.dir, { recursive: true, force: true });
  });

  it('shows the quorum: its size, who leads, the followers in step; the member log\'s writes', async () => {
    await ensemble.configure();
    const ports = await freePorts(ensemble.ids.length);
    const metricsPort = new Map(ensemble.ids.map((id, i) => [id, ports[i]]));
    // Member 1 also warns of every durable write of its log (threshold 0).
    const first = capturedLog();
    for (const id of ensemble.ids) {
      const p = ensemble.member(id);
      appendFileSync(p.config, `${PROMETHEUS}\nmetricsProvider.httpPort=${metricsPort.get(id)}\nmetricsProvider.exportJvmInfo=false\n${id === 1 ? 'fsync.warningthresholdms=0\n' : ''}`);
      const { config } = parseZooCfg(readFileSync(p.config, 'utf8'));
      running.push(await startMember(config, { log: id === 1 ? first.log : pino({ level: 'silent' }) }));
    }
    const state = async (id: number): Promise<string | undefined> => {
      const m = await scrape(metricsPort.get(id)!);
      return ['leader', 'follower', 'looking'].find((s) => m.samples.get(`ensemble_server_state{state="${s}"}`) === 1);
    };
    let leader = 0;
    await eventually(async () => {
      const states = await Promise.all(ensemble.ids.map(state));
      leader = ensemble.ids[states.indexOf('leader')] ?? 0;
      return leader !== 0 && states.filter((s) => s === 'follower').length === 2;
    }, 'a leader and two followers', 30_000);

    client = await connect(ensemble.ids.map((id) => `127.0.0.1:${ensemble.member(id).clientPort}`).join(','), { sessionTimeoutMs: 10_000 });
    for (let i = 0; i < 3; i++) await client.create(`/q${i}`, null);
    await client.sync('/');
    await eventually(async () => value(await scrape(metricsPort.get(leader)!), 'synced_followers') === 2, 'both followers in step', 30_000);

    for (const id of ensemble.ids) {
      const m = await scrape(metricsPort.get(id)!);
      assert.equal(value(m, 'quorum_size'), 3, `member ${id}`);
      assert.ok(value(m, 'ensemble_fsync_duration_seconds_count') > 0, `member ${id} wrote its log`);
      assert.equal(m.samples.has('ensemble_server_state{state="standalone"}'), false);
      await eventually(async () => value(await scrape(metricsPort.get(id)!), 'znode_count') >= 3 + 2, `member ${id} applied the creates`, 30_000);
    }
    const slow = first.records.find((r) => r.msg === 'a durable write to the log was slow: requests waited on it');
    assert.match(String(slow?.file), /raft-log\.[0-9a-f]+$/);
    const l = await scrape(metricsPort.get(leader)!);
    assert.equal(value(l, 'learners'), 2);
    assert.equal(value(l, 'pending_syncs'), 0);
  });
});
