/**
 * Failover of a replicated ensemble (`--ensemble N --workloads failover`): one session of our
 * client writes without a pause (WRITERS setData loops) through the members other than the leader;
 * the leader gets SIGKILL (and is restarted on its data) or SIGSTOP (and SIGCONT after a hold
 * longer than both systems take to notice). The measure is the time from the signal to the
 * acknowledgement of the first write issued after it. Before the next run every member must serve
 * and have applied a fresh write.
 */
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { loadOurClient } from './client-sessions.ts';
import type { BenchEnsemble, EnsembleTiming } from './ensembles.ts';
import { REPO_ROOT, type ServerKind } from './servers.ts';
import { fmt, markdownTable, median, medianRatios, percentile } from './stats.ts';

export const FAILOVER_SIGNALS = ['SIGKILL', 'SIGSTOP'] as const;
export type FailoverSignal = (typeof FAILOVER_SIGNALS)[number];

export interface FailoverMeasurement {
  server: ServerKind;
  signal: FailoverSignal;
  run: number;
  /** The member that led and got the signal. */
  leader: number;
  /** Signal to the first acknowledged write issued after it; NaN if none came within the limit. */
  ms: number;
  /** Writes per second in the second before the signal. */
  writesPerSecBefore: number;
  /** Why no write came through (the session ended, or the limit passed). */
  error?: string;
}

const CLIENT_MODULE = join(REPO_ROOT, 'dist/index.js');
const PATH = '/bench-failover';
/** Writes in flight from the session: a steady load, not a flood (whose queue would be the measure). */
const WRITERS = 8;
const STEADY_MS = 1_000;
/** A run with no write through for this long is counted as failed (NaN) and reported. */
const LIMIT_MS = 120_000;
/**
 * The client's reconnection backoff, kept short so that the measure is the servers' (by default
 * the pause grows to 2 s when every member refuses, as they do during an election).
 */
const RETRY = { baseDelayMs: 10, maxDelayMs: 100 };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * How long a stopped leader stays stopped: beyond ZooKeeper's syncLimit × tickTime (when its
 * followers give it up) and beyond Ensemble's longest election timeout (one tickTime), with a
 * tick to spare. It is continued only once writes are through again, if that takes longer.
 */
export function stopHoldMs(timing: EnsembleTiming): number {
  return (Math.max(timing.syncLimit, 2) + 1) * timing.tickTimeMs;
}

/** One failover: the leader signalled under writes, the time to the first write after it, the member back. */
export async function measureFailover(ens: BenchEnsemble, signal: FailoverSignal, run: number): Promise<FailoverMeasurement> {
  const leader = await ens.leader();
  const pid = ens.pid(leader);
  if (pid === undefined) throw new Error(`${ens.kind}: leader ${leader} has no process`);
  const others = ens.ids.filter((id) => id !== leader);
  const { connect } = await loadOurClient(CLIENT_MODULE);
  const zk = await connect(ens.connectString(others), { sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000, retry: RETRY });
  const payload = Buffer.alloc(100, 0x66);
  await zk.create(PATH, payload).catch((err: unknown) => {
    if ((err as { codeName?: string }).codeName !== 'NODEEXISTS') throw err;
  });

  let signalAt = Infinity;
  let acked = 0;
  let stopped = false;
  let firstAfter: (at: number) => void = () => {};
  const through = new Promise<number>((r) => (firstAfter = r));
  const writers = Array.from({ length: WRITERS }, async () => {
    while (!stopped) {
      const issuedAt = performance.now();
      try {
        await zk.setData(PATH, payload);
        acked++;
        if (issuedAt >= signalAt) firstAfter(performance.now());
      } catch (err) {
        // Connection loss while the members elect; the session itself must survive.
        if (zk.state === 'Expired' || zk.state === 'Closed' || zk.state === 'AuthFailed') throw err;
        await sleep(5);
      }
    }
  });
  const writing = Promise.all(writers);
  let ms = NaN;
  let writesPerSecBefore = NaN;
  let error: string | undefined;
  try {
    await sleep(STEADY_MS);
    writesPerSecBefore = (acked * 1000) / STEADY_MS;
    if (acked === 0) throw new Error(`${ens.kind}: no write went through before the signal`);
    signalAt = performance.now();
    if (signal === 'SIGKILL') process.kill(pid, 'SIGKILL');
    else ens.signal(leader, 'SIGSTOP');
    let limit: NodeJS.Timeout | undefined;
    const gaveUp = new Promise<number>((r) => (limit = setTimeout(() => r(NaN), LIMIT_MS)));
    const at = await Promise.race([through, gaveUp, writing.then(() => NaN, (err: unknown) => {
      error = err instanceof Error ? err.message : String(err);
      return NaN;
    })]);
    if (Number.isNaN(at)) error ??= `no write through within ${LIMIT_MS} ms`;
    clearTimeout(limit);
    ms = at - signalAt;
    if (signal === 'SIGSTOP') {
      const held = performance.now() - signalAt;
      if (held < stopHoldMs(ens.timing)) await sleep(stopHoldMs(ens.timing) - held);
    }
  } finally {
    stopped = true;
    await writing.catch(() => {});
    await zk.close().catch(() => {});
    if (signal === 'SIGKILL') {
      await ens.kill(leader);
      ens.startMember(leader);
    } else {
      ens.signal(leader, 'SIGCONT');
    }
  }
  await ens.waitCaughtUp();
  return { server: ens.kind, signal, run, leader, ms, writesPerSecBefore, ...(error === undefined ? {} : { error }) };
}

export interface FailoverRow {
  signal: FailoverSignal;
  server: ServerKind;
  runs: number;
  failed: number;
  min: number;
  median: number;
  p90: number;
  max: number;
}

export function summarizeFailover(measurements: readonly FailoverMeasurement[]): FailoverRow[] {
  const rows: FailoverRow[] = [];
  for (const signal of FAILOVER_SIGNALS) {
    for (const server of ['zookeeper', 'ensemble'] as const) {
      const ms = measurements.filter((m) => m.signal === signal && m.server === server);
      if (ms.length === 0) continue;
      const ok = ms.map((m) => m.ms).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
      rows.push({
        signal, server, runs: ms.length, failed: ms.length - ok.length,
        min: ok[0] ?? NaN, median: median(ok), p90: percentile(ok, 0.9), max: ok[ok.length - 1] ?? NaN,
      });
    }
  }
  return rows;
}

/** The ratio of the medians, Ensemble / ZooKeeper, per signal; the target is at most 0.5×. */
export function failoverRatios(rows: readonly FailoverRow[]): { signal: FailoverSignal; ratio: number }[] {
  return medianRatios(rows, FAILOVER_SIGNALS, (r) => r.signal).map(({ kind, ratio }) => ({ signal: kind, ratio }));
}

export function renderFailoverTable(rows: readonly FailoverRow[]): string {
  const ratios = failoverRatios(rows);
  const header = ['leader gets', 'system', 'runs', 'failed', 'min ms', 'median ms', 'p90 ms', 'max ms', 'median E/Z', 'target ≤ 0.5×'];
  const body = rows.map((r) => {
    const rt = ratios.find((x) => x.signal === r.signal)?.ratio ?? NaN;
    const first = r.server === 'zookeeper';
    return [
      r.signal, r.server === 'zookeeper' ? 'ZooKeeper' : 'Ensemble', String(r.runs), String(r.failed),
      fmt(r.min, 0), fmt(r.median, 0), fmt(r.p90, 0), fmt(r.max, 0),
      first ? '' : Number.isFinite(rt) ? `${fmt(rt, 2)}×` : '-',
      first ? '' : Number.isFinite(rt) ? (rt <= 0.5 ? 'met' : 'not met') : '-',
    ];
  });
  return markdownTable(header, body, header.map((_, i) => i >= 2 && i <= 8));
}
