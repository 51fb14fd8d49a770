/**
 * From measurements to the report: one row per workload × client with each server's median over
 * the rounds, the spread, the ratio Ensemble / ZooKeeper, and the targets met or not; with a
 * baseline, the ratios current / baseline.
 */
import type { LoadMeasurement } from './load-run.ts';
import type { LoadClient } from './load-protocol.ts';
import type { Workload } from './options.ts';
import type { ServerKind } from './servers.ts';
import { fmt, markdownTable, median, ratio, spread } from './stats.ts';

/** A load measurement with where it stood in the run. */
export interface RoundMeasurement extends LoadMeasurement {
  round: number;
}

/** One server's startup and memory figures from the big-tree workloads. */
export interface BigTreeMeasurement {
  server: ServerKind;
  znodes: number;
  loadSeconds: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssBytesPerZnode: number;
  /** One per round. */
  startupMs: number[];
}

/** A server's figures for one row: medians over the rounds. */
export interface ServerCell {
  runs: number;
  /** The row's metric. */
  median: number;
  min: number;
  max: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  serverCpuUsPerOp: number;
  clientCpuUsPerOp: number;
  loadCpuShare: number;
  /** CPU seconds per second of window: the server's, the load processes', the rest of the machine's. */
  serverCores: number;
  loadCores: number;
  otherCores: number;
}

export interface SummaryRow {
  workload: Workload;
  /** The load client, null for startup and memory. */
  client: LoadClient | null;
  metric: string;
  higherIsBetter: boolean;
  zookeeper: ServerCell | null;
  ensemble: ServerCell | null;
  /** Ensemble's median / ZooKeeper's. */
  ratio: number;
  /** The no-logic server (`--floor`), when it ran this row. */
  floor?: ServerCell | null;
  /** The baseline Ensemble (`--baseline REV`), and the ratios below, when it ran this row. */
  baseline?: ServerCell;
  /** The baseline's median / ZooKeeper's. */
  baselineRatio?: number;
  /** The current Ensemble / the baseline: the row's metric, and server CPU per operation. */
  currentOverBaseline?: { metric: number; serverCpuUsPerOp: number };
}

/** The baseline's fields of a row (none when it did not run). */
function baselineFields(zookeeper: ServerCell | null, ensemble: ServerCell | null, baseline: ServerCell | null): Partial<SummaryRow> {
  if (baseline === null) return {};
  return {
    baseline,
    baselineRatio: ratio(baseline.median, zookeeper?.median ?? NaN),
    currentOverBaseline: {
      metric: ratio(ensemble?.median ?? NaN, baseline.median),
      serverCpuUsPerOp: ratio(ensemble?.serverCpuUsPerOp ?? NaN, baseline.serverCpuUsPerOp),
    },
  };
}

const NO_LATENCY = { p50Us: NaN, p99Us: NaN, p999Us: NaN, serverCpuUsPerOp: NaN, clientCpuUsPerOp: NaN, loadCpuShare: NaN, serverCores: NaN, loadCores: NaN, otherCores: NaN };

/** The headline metric of a load workload: watch is about latency, the rest about throughput. */
function metricOf(workload: Workload): { metric: string; higherIsBetter: boolean; value: (m: LoadMeasurement) => number } {
  if (workload === 'watch' || workload === 'watch-paced') return { metric: 'p50 µs', higherIsBetter: false, value: (m) => m.p50Us };
  if (workload === 'connect') return { metric: 'sessions/s', higherIsBetter: true, value: (m) => m.opsPerSec };
  return { metric: 'ops/s', higherIsBetter: true, value: (m) => m.opsPerSec };
}

function loadCell(ms: readonly LoadMeasurement[], value: (m: LoadMeasurement) => number): ServerCell | null {
  if (ms.length === 0) return null;
  const m = (f: (x: LoadMeasurement) => number): number => median(ms.map(f));
  const seconds = (x: LoadMeasurement): number => x.windowMs / 1000;
  const values = ms.map(value);
  return {
    runs: ms.length,
    median: median(values),
    ...spread(values),
    p50Us: m((x) => x.p50Us),
    p99Us: m((x) => x.p99Us),
    p999Us: m((x) => x.p999Us),
    serverCpuUsPerOp: m((x) => x.serverCpuUsPerOp),
    clientCpuUsPerOp: m((x) => x.clientCpuUsPerOp),
    loadCpuShare: m((x) => x.loadCpuShare),
    serverCores: m((x) => x.serverCpuSeconds / seconds(x)),
    loadCores: m((x) => x.loadCpuSeconds / seconds(x)),
    otherCores: m((x) => x.otherCpuSeconds / seconds(x)),
  };
}

export function summarizeLoad(measurements: readonly RoundMeasurement[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const keys = [...new Set(measurements.map((m) => `${m.workload}\0${m.client}`))];
  for (const key of keys) {
    const [workload, client] = key.split('\0') as [Workload, LoadClient];
    const { metric, higherIsBetter, value } = metricOf(workload);
    const of = (server: ServerKind): ServerCell | null =>
      loadCell(measurements.filter((m) => m.workload === workload && m.client === client && m.server === server), value);
    const zookeeper = of('zookeeper');
    const ensemble = of('ensemble');
    const floor = of('node-floor');
    rows.push({
      workload, client, metric, higherIsBetter, zookeeper, ensemble, ratio: ratio(ensemble?.median ?? NaN, zookeeper?.median ?? NaN),
      ...(floor ? { floor } : {}), ...baselineFields(zookeeper, ensemble, of('ensemble-baseline')),
    });
  }
  return rows;
}

export function summarizeBigTree(results: readonly BigTreeMeasurement[], workloads: readonly Workload[]): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const cell = (values: readonly number[]): ServerCell | null =>
    values.length === 0 ? null : { runs: values.length, median: median(values), ...spread(values), ...NO_LATENCY };
  const add = (workload: Workload, metric: string, values: (r: BigTreeMeasurement) => number[]): void => {
    const of = (server: ServerKind): ServerCell | null => cell(results.filter((r) => r.server === server).flatMap(values));
    const zookeeper = of('zookeeper');
    const ensemble = of('ensemble');
    rows.push({
      workload, client: null, metric, higherIsBetter: false, zookeeper, ensemble, ratio: ratio(ensemble?.median ?? NaN, zookeeper?.median ?? NaN),
      ...baselineFields(zookeeper, ensemble, of('ensemble-baseline')),
    });
  };
  if (workloads.includes('startup')) add('startup', 'ms to first reply', (r) => r.startupMs);
  if (workloads.includes('memory')) add('memory', 'RSS bytes/znode', (r) => [r.rssBytesPerZnode]);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Targets

export interface TargetResult {
  target: string;
  row: string;
  ratio: number;
  met: boolean | null;
}

interface Target {
  /** What the target says, e.g. "throughput ≥ 1.5×". */
  text: string;
  workloads: readonly Workload[];
  ratioOf: (row: SummaryRow) => number;
  atLeast?: number;
  atMost?: number;
}

const cellRatio = (f: (c: ServerCell) => number) => (row: SummaryRow): number =>
  ratio(row.ensemble ? f(row.ensemble) : NaN, row.zookeeper ? f(row.zookeeper) : NaN);

const CORE_WORKLOADS: readonly Workload[] = ['read', 'write', 'mixed', 'create-delete'];

export const TARGETS: readonly Target[] = [
  { text: 'throughput ≥ 1.5×', workloads: CORE_WORKLOADS, ratioOf: (r) => r.ratio, atLeast: 1.5 },
  { text: 'p99 latency ≤ 1×', workloads: CORE_WORKLOADS, ratioOf: cellRatio((c) => c.p99Us), atMost: 1 },
  { text: 'server CPU per op ≤ 0.5×', workloads: CORE_WORKLOADS, ratioOf: cellRatio((c) => c.serverCpuUsPerOp), atMost: 0.5 },
  { text: 'notification p99 ≤ 1×', workloads: ['watch', 'watch-paced'], ratioOf: cellRatio((c) => c.p99Us), atMost: 1 },
  { text: 'session connect rate ≥ 2×', workloads: ['connect'], ratioOf: (r) => r.ratio, atLeast: 2 },
  { text: 'RSS per znode ≤ 0.5×', workloads: ['memory'], ratioOf: (r) => r.ratio, atMost: 0.5 },
  { text: 'startup with the big tree ≤ 0.3×', workloads: ['startup'], ratioOf: (r) => r.ratio, atMost: 0.3 },
];

const CLIENT_LABELS: Readonly<Record<LoadClient, string>> = {
  ensemble: 'our client',
  'node-zookeeper-client': 'node-zookeeper-client',
  'raw-socket': 'raw socket',
};

export function rowLabel(row: SummaryRow): string {
  return row.client === null ? row.workload : `${row.workload} (${CLIENT_LABELS[row.client]})`;
}

/**
 * With `--ensemble`: what replication aims at, with our client as the load (failover has its own
 * table).
 */
export const ENSEMBLE_TARGETS: readonly Target[] = [
  { text: 'replicated writes ≥ 3×', workloads: ['write'], ratioOf: (r) => r.ratio, atLeast: 3 },
  { text: 'reads spread over the members ≥ 2×', workloads: ['read'], ratioOf: (r) => r.ratio, atLeast: 2 },
];

export function evaluateTargets(rows: readonly SummaryRow[], targets: readonly Target[] = TARGETS): TargetResult[] {
  const results: TargetResult[] = [];
  for (const t of targets) {
    const matching = rows.filter((r) => t.workloads.includes(r.workload));
    if (matching.length === 0) {
      results.push({ target: t.text, row: `${t.workloads.join(', ')}: not run`, ratio: NaN, met: null });
      continue;
    }
    for (const row of matching) {
      const value = t.ratioOf(row);
      const met = Number.isNaN(value) ? null : t.atLeast !== undefined ? value >= t.atLeast : value <= (t.atMost ?? Infinity);
      results.push({ target: t.text, row: rowLabel(row), ratio: value, met });
    }
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Tables

const range = (c: ServerCell | null, digits?: number): string => (c === null ? '-' : c.runs === 1 ? fmt(c.median, digits) : `${fmt(c.min, digits)}–${fmt(c.max, digits)}`);
const pct = (v: number): string => (Number.isFinite(v) ? `${Math.round(v * 100)}%` : '-');
const x = (v: number): string => (Number.isFinite(v) ? `${fmt(v, 2)}×` : '-');

/** The main table: one row per workload × client. */
export function renderSummaryTable(rows: readonly SummaryRow[]): string {
  const header = [
    'workload', 'metric', 'ZooKeeper', 'Ensemble', 'E/Z', 'ZooKeeper spread', 'Ensemble spread',
    'p99 µs ZK', 'p99 µs Ens', 'server CPU µs/op ZK', 'server CPU µs/op Ens', 'load CPU share ZK', 'load CPU share Ens',
  ];
  const body = rows.map((r) => {
    const digits = r.metric.startsWith('RSS') || r.metric.startsWith('ms') || r.metric.endsWith('/s') ? 0 : undefined;
    return [
      rowLabel(r), r.metric, fmt(r.zookeeper?.median ?? NaN, digits), fmt(r.ensemble?.median ?? NaN, digits), x(r.ratio),
      range(r.zookeeper, digits), range(r.ensemble, digits),
      fmt(r.zookeeper?.p99Us ?? NaN, 0), fmt(r.ensemble?.p99Us ?? NaN, 0),
      fmt(r.zookeeper?.serverCpuUsPerOp ?? NaN), fmt(r.ensemble?.serverCpuUsPerOp ?? NaN),
      pct(r.zookeeper?.loadCpuShare ?? NaN), pct(r.ensemble?.loadCpuShare ?? NaN),
    ];
  });
  return markdownTable(header, body, header.map((_, i) => i >= 2));
}

/** Latency percentiles, client CPU and the CPU split, per server; baselineName: the baseline's, if it ran. */
export function renderDetailTable(rows: readonly SummaryRow[], baselineName = 'baseline'): string {
  const header = ['workload', 'server', 'p50 µs', 'p99 µs', 'p999 µs', 'server CPU µs/op', 'client CPU µs/op', 'server cores', 'load cores', 'other cores'];
  const body: string[][] = [];
  for (const r of rows) {
    if (r.client === null) continue;
    for (const [name, c] of [['ZooKeeper', r.zookeeper], ['Ensemble', r.ensemble], [baselineName, r.baseline], ['no-logic floor', r.floor]] as const) {
      if (!c) continue;
      body.push([
        rowLabel(r), name, fmt(c.p50Us, 0), fmt(c.p99Us, 0), fmt(c.p999Us, 0), fmt(c.serverCpuUsPerOp), fmt(c.clientCpuUsPerOp),
        fmt(c.serverCores, 2), fmt(c.loadCores, 2), fmt(c.otherCores, 2),
      ]);
    }
  }
  return markdownTable(header, body, header.map((_, i) => i >= 2));
}

/**
 * The rows a third server ran, beside ZooKeeper and Ensemble: its figures, its ratio to ZooKeeper,
 * and Ensemble's to it, of the row's metric and of server CPU per operation.
 */
function renderThirdServerTable(rows: readonly SummaryRow[], name: string, short: string, third: (r: SummaryRow) => ServerCell | null | undefined): string {
  const header = [
    'workload', 'metric', 'ZooKeeper', 'Ensemble', name, 'E/Z', `${short}/Z`, `E/${short}`,
    `server CPU µs/op ZK / Ens / ${short}`, `CPU/op E/${short}`,
  ];
  const body = rows.flatMap((r) => {
    const t = third(r);
    if (!t) return [];
    const cpu = [r.zookeeper, r.ensemble, t].map((c) => fmt(c?.serverCpuUsPerOp ?? NaN)).join(' / ');
    return [[
      rowLabel(r), r.metric, fmt(r.zookeeper?.median ?? NaN, 0), fmt(r.ensemble?.median ?? NaN, 0), fmt(t.median, 0),
      x(r.ratio), x(ratio(t.median, r.zookeeper?.median ?? NaN)), x(ratio(r.ensemble?.median ?? NaN, t.median)),
      cpu, x(ratio(r.ensemble?.serverCpuUsPerOp ?? NaN, t.serverCpuUsPerOp)),
    ]];
  });
  return markdownTable(header, body, header.map((_, i) => i >= 2));
}

/**
 * With `--floor`: the rows the no-logic server ran. floor / ZK is the best ratio any Node server
 * could show on that row here; Ensemble / floor is what Ensemble's own work costs.
 */
export function renderFloorTable(rows: readonly SummaryRow[]): string {
  return renderThirdServerTable(rows, 'no-logic floor', 'floor', (r) => r.floor);
}

/**
 * With `--baseline REV`: the current Ensemble against the one built from REV (named `name`,
 * ensemble@<commit>): E/base near 1× on throughput and on CPU per operation is no regression.
 */
export function renderBaselineTable(rows: readonly SummaryRow[], name: string): string {
  return renderThirdServerTable(rows, name, 'base', (r) => r.baseline);
}

export function renderTargetTable(results: readonly TargetResult[]): string {
  const header = ['target (Ensemble / ZooKeeper)', 'row', 'measured', 'met'];
  const body = results.map((t) => [t.target, t.row, x(t.ratio), t.met === null ? '-' : t.met ? 'met' : 'not met']);
  return markdownTable(header, body, [false, false, true, false]);
}
