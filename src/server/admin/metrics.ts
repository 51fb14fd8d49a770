/**
 * Metrics in Prometheus' text format on their own HTTP port, as ZooKeeper's
 * PrometheusMetricsProvider serves them (metricsProvider.* keys). Where ZooKeeper has a metric, it
 * has ZooKeeper's name, type and unit, so that dashboards made for ZooKeeper work; Ensemble's own
 * are prefixed `ensemble_`. Each server has its own registry (several may run in one process).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry, Summary, type Metric } from 'prom-client';
import { opName } from '../../protocol/constants.ts';
import type { ServerConfig } from '../config.ts';
import type { EnsembleServer } from '../server.ts';
import { approximateDataSize, ephemeralsCount, outstandingRequests, znodeCount } from './four-letter.ts';
import type { BatchWritten } from '../storage/file-log-store.ts';
import { LIMITS } from '../net/limits.ts';

export type MetricsConfig = NonNullable<ServerConfig['metrics']>;

interface Log {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** Event-loop delay sampling interval; what the monitor reports includes it. */
const LOOP_RESOLUTION_MS = 20;
const SECONDS = 1e-3;

/** The metrics that storage and requests feed as they happen, and the gauges read at each scrape. */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly loop: IntervalHistogram = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  private readonly fsyncSeconds = new Histogram({
    name: 'ensemble_fsync_duration_seconds',
    help: 'Durable (O_DSYNC) writes of a batch of log records, in seconds',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  // ZooKeeper's summaries: fsynctime and sync_processor_batch_size at its BASIC detail (median),
  // the request latencies at ADVANCED (median, p90, p99); times in milliseconds, as ZooKeeper's.
  private readonly fsynctime = summary(this.registry, 'fsynctime', 'Time to fsync the transaction log (ms)', [0.5]);
  private readonly batchSize = summary(this.registry, 'sync_processor_batch_size', 'Transactions per log write', [0.5]);
  /** Observed by the standalone server's storage. */
  readonly snapshotTime = summary(this.registry, 'snapshottime', 'Time to write a snapshot (ms)', [0.5]);
  readonly dbInitTime = summary(this.registry, 'dbinittime', 'Time to load the database at start: snapshot and log replay (ms)', [0.5]);
  private readonly readLatency = new LatencySummary('readlatency', 'Read request latency (ms)');
  private readonly updateLatency = new LatencySummary('updatelatency', 'Write request latency (ms)');
  private readonly batchEntries = new Histogram({
    name: 'ensemble_commit_batch_entries',
    help: 'Log records per group-committed write',
    buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
    registers: [this.registry],
  });
  private readonly requestSeconds = new OpHistogram(
    'ensemble_request_duration_seconds',
    'Time from a request read off the connection to its reply encoded, by operation, in seconds',
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  );
  private http: HttpServer | undefined;

  constructor(readonly config: MetricsConfig) {
    if (config.processInfo) collectDefaultMetrics({ register: this.registry });
    // prom-client takes any object with its metrics' shape (get() returning the samples).
    for (const m of [this.requestSeconds, this.readLatency, this.updateLatency]) this.registry.registerMetric(m as unknown as Metric);
    const lag = new Gauge({
      name: 'ensemble_event_loop_lag_seconds',
      help: 'How late the event loop ran timers since the previous scrape, by quantile (and max)',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect: () => {
        const late = (ns: number): number => Math.max(0, ns / 1e6 - LOOP_RESOLUTION_MS) * SECONDS;
        const h = this.loop;
        for (const q of [0.5, 0.9, 0.99]) lag.set({ quantile: String(q) }, h.count === 0 ? 0 : late(h.percentile(q * 100)));
        lag.set({ quantile: 'max' }, h.count === 0 ? 0 : late(h.max));
        h.reset();
      },
    });
  }

  /** For the log stores: each batch written (and made durable when `synced`), how long it took. */
  readonly batchWritten: BatchWritten = (_file, entries, ms, synced) => {
    this.batchEntries.observe(entries);
    this.batchSize.observe(entries);
    if (!synced) return;
    this.fsyncSeconds.observe(ms * SECONDS);
    this.fsynctime.observe(ms);
  };

  /** Export `server`'s state and observe its requests, on GET /metrics; resolves with where it listens. */
  async start(server: EnsembleServer, log: Log): Promise<{ host: string; port: number }> {
    this.attach(server);
    this.loop.enable();
    try {
      return await this.listen(log);
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  private attach(server: EnsembleServer): void {
    const r = this.registry;
    const gauge = (name: string, help: string, read: () => number): void => {
      const g: Gauge = new Gauge({ name, help, registers: [r], collect: () => g.set(read()) });
    };
    const st = server.stats;
    gauge('znode_count', 'Znodes in the tree (the root counted twice, as ZooKeeper counts it)', () => znodeCount(server));
    gauge('watch_count', 'Watches set', () => server.watches.watchCount);
    const watchesRefused: Counter = new Counter({
      name: 'ensemble_watches_refused_total',
      help: 'Requests refused (THROTTLEDOP) because they would have taken their session past ensemble.maxWatchesPerSession',
      registers: [r],
      collect: () => {
        watchesRefused.reset();
        watchesRefused.inc(server.watches.refusedCount);
      },
    });
    gauge('ephemerals_count', 'Ephemeral znodes', () => ephemeralsCount(server));
    gauge('approximate_data_size', 'Bytes of paths and data in the tree', () => approximateDataSize(server));
    gauge('num_alive_connections', 'Client connections', () => server.connections.size);
    gauge('outstanding_requests', 'Requests received and not yet answered', () => outstandingRequests(server));
    gauge('packets_received', 'Packets received from clients', () => st.packetsReceived);
    gauge('packets_sent', 'Packets sent to clients', () => st.packetsSent);
    gauge('avg_latency', 'Average read latency (ms)', () => st.avgLatencyMs);
    gauge('min_latency', 'Minimum read latency (ms)', () => (st.latencyCount === 0 ? 0 : st.minLatencyMs));
    gauge('max_latency', 'Maximum read latency (ms)', () => st.maxLatencyMs);
    gauge('global_sessions', 'Live sessions', () => server.sessions.size);
    gauge('uptime', 'Time since the server started (ms)', () => server.clock.now() - server.startedAtMs);
    const expired: Counter = new Counter({
      name: 'stale_sessions_expired',
      help: 'Sessions ended because their timeout passed (counted where sessions expire: standalone, or the leader)',
      registers: [r],
      collect: () => {
        expired.reset();
        expired.inc(st.sessionsExpired);
      },
    });
    this.attachLimits(server);
    if (readFds() !== undefined) {
      gauge('open_file_descriptor_count', 'Open file descriptors', () => readFds() ?? 0);
      gauge('max_file_descriptor_count', 'Limit of open file descriptors', maxFds);
    }
    const members = server.config.ensemble?.members.length;
    if (members !== undefined) {
      gauge('quorum_size', 'Members of the ensemble', () => members);
      // The leader's; 0 on the others.
      gauge('learners', 'Followers connected to the leader', () => server.quorumStatus?.followers ?? 0);
      gauge('synced_followers', 'Followers in step with the leader\'s log', () => server.quorumStatus?.syncedFollowers ?? 0);
      gauge('pending_syncs', 'Syncs (read barriers) the leader has not yet confirmed', () => server.quorumStatus?.pendingSyncs ?? 0);
    }
    const state: Gauge<'state'> = new Gauge({
      name: 'ensemble_server_state',
      help: 'The server\'s state as mntr\'s zk_server_state says it (1 for the current one): standalone, leader, follower, or looking (no leader known)',
      labelNames: ['state'],
      registers: [r],
      collect: () => {
        const q = server.quorumStatus;
        state.reset();
        state.set({ state: q === undefined ? 'standalone' : q.serving ? q.mode : 'looking' }, 1);
      },
    });
    st.requestObserver = (type, ms, write) => {
      (write ? this.updateLatency : this.readLatency).observe(ms);
      this.requestSeconds.observe(type, ms * SECONDS);
    };
  }

  /** ZooKeeper's counters of refused and expired connections, and each limit reached (src/server/net/limits.ts). */
  private attachLimits(server: EnsembleServer): void {
    const r = this.registry;
    const limits = server.limits;
    const counter = (name: string, help: string, read: () => number): void => {
      const c: Counter = new Counter({ name, help, registers: [r], collect: () => { c.reset(); c.inc(read()); } });
    };
    counter('connection_rejected', 'Connections refused by maxCnxns or maxClientCnxns', () => limits.connectionsRejected);
    counter('sessionless_connections_expired', 'Connections closed for not finishing their handshake within nio.sessionlessCnxnTimeout', () => limits.sessionlessExpired);
    const reached: Counter<'limit'> = new Counter({
      name: 'ensemble_limit_reached_total',
      help: 'Times each limit was reached, by its zoo.cfg key (docs/limits.md)',
      labelNames: ['limit'],
      registers: [r],
      collect: () => {
        reached.reset();
        for (const limit of LIMITS) reached.inc({ limit }, limits.count(limit));
      },
    });
    const gauge = (name: string, help: string, read: () => number): void => {
      const g: Gauge = new Gauge({ name, help, registers: [r], collect: () => g.set(read()) });
    };
    gauge('ensemble_unsent_output_bytes', 'Bytes of replies and watch events not yet sent, over all connections (bounded by ensemble.maxOutputBytes)', () => limits.outputBytes);
    gauge('ensemble_unfinished_input_bytes', 'Bytes received and not yet whole requests, over all connections (bounded by ensemble.maxInputBytes)', () => limits.inputBytes);
  }

  private async listen(log: Log): Promise<{ host: string; port: number }> {
    const http = createServer((req, res) => {
      const path = (req.url ?? '').split('?')[0];
      if (req.method !== 'GET' || path !== '/metrics') {
        res.writeHead(req.method === 'GET' ? 404 : 405).end();
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(text),
        (err: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`),
      );
    });
    this.http = http;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen({ host: this.config.host, port: this.config.port }, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const a = http.address();
    if (a === null || typeof a === 'string') throw new Error('metrics server is not listening');
    log.info({ host: a.address, port: a.port, processInfo: this.config.processInfo }, `metrics at http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`);
    return { host: a.address, port: a.port };
  }

  async close(): Promise<void> {
    this.loop.disable();
    const http = this.http;
    this.http = undefined;
    if (http === undefined) return;
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  }
}

/**
 * A histogram by op code whose observe allocates nothing, for the request path (a prom-client
 * histogram's labelled child hashes its labels at every observation): counts per bucket in a typed
 * array per op, turned into samples at each scrape.
 */
class OpHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly ops = new Map<number, { op: string; counts: Float64Array; sum: number }>();

  constructor(readonly name: string, readonly help: string, private readonly bounds: readonly number[]) {}

  observe(type: number, value: number): void {
    let o = this.ops.get(type);
    if (o === undefined) {
      o = { op: opName.get(type) ?? String(type), counts: new Float64Array(this.bounds.length + 1), sum: 0 };
      this.ops.set(type, o);
    }
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]) i++;
    o.counts[i]++;
    o.sum += value;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ metricName: string; labels: Record<string, string>; value: number }> } {
    const values = [];
    for (const { op, counts, sum } of this.ops.values()) {
      let total = 0;
      for (let i = 0; i < counts.length; i++) {
        total += counts[i];
        const le = i < this.bounds.length ? String(this.bounds[i]) : '+Inf';
        values.push({ metricName: `${this.name}_bucket`, labels: { le, op }, value: total });
      }
      values.push({ metricName: `${this.name}_sum`, labels: { op }, value: sum }, { metricName: `${this.name}_count`, labels: { op }, value: total });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.ops.clear();
  }
}

/**
 * A summary of request latencies (ms) with quantiles 0.5, 0.9 and 0.99 (ZooKeeper's ADVANCED
 * summaries) whose observe allocates nothing: counts in logarithmic buckets 5% wide, from 1 µs to
 * 100 s; a quantile is the upper bound of the bucket it falls in (within 5% of the true value).
 */
export class LatencySummary {
  private static readonly MIN = 0.001;
  private static readonly LOG_RATIO = Math.log(1.05);
  private readonly counts = new Float64Array(Math.ceil(Math.log(1e5 / LatencySummary.MIN) / LatencySummary.LOG_RATIO) + 1);
  private sum = 0;
  private count = 0;
  readonly type = 'summary';
  readonly aggregator = 'sum';

  constructor(readonly name: string, readonly help: string) {}

  observe(ms: number): void {
    const i = ms <= LatencySummary.MIN ? 0 : Math.ceil(Math.log(ms / LatencySummary.MIN) / LatencySummary.LOG_RATIO);
    this.counts[Math.min(i, this.counts.length - 1)]++;
    this.sum += ms;
    this.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: Array<{ metricName?: string; labels: Record<string, string>; value: number }> } {
    const values: Array<{ metricName?: string; labels: Record<string, string>; value: number }> = [];
    for (const q of [0.5, 0.9, 0.99]) values.push({ labels: { quantile: String(q) }, value: this.quantile(q) });
    values.push({ metricName: `${this.name}_sum`, labels: {}, value: this.sum }, { metricName: `${this.name}_count`, labels: {}, value: this.count });
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  private quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i < this.counts.length; i++) {
      seen += this.counts[i];
      if (seen >= rank) return LatencySummary.MIN * Math.exp(i * LatencySummary.LOG_RATIO);
    }
    return LatencySummary.MIN * Math.exp((this.counts.length - 1) * LatencySummary.LOG_RATIO);
  }

  reset(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }
}

function summary(registry: Registry, name: string, help: string, percentiles: number[]): Summary {
  return new Summary({ name, help, percentiles, registers: [registry] });
}

function readFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length;
  } catch {
    return undefined;
  }
}

function maxFds(): number {
  const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  return m === null ? 0 : Number(m[1]);
}

/**
 * What a log store reports after each batch: a durable write slower than fsync.warningthresholdms
 * is logged (as ZooKeeper does), and the metrics, when exported, observe it.
 */
export function batchObserver(log: Log, thresholdMs: number, metrics: ServerMetrics | undefined): BatchWritten {
  return (file, entries, ms, synced) => {
    if (synced && ms > thresholdMs) {
      log.warn({ file, ms: Math.round(ms), entries, thresholdMs }, 'a durable write to the log was slow: requests waited on it');
    }
    metrics?.batchWritten(file, entries, ms, synced);
  };
}
