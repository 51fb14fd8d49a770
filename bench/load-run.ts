/**
 * One measurement of one workload against one server: forks the load processes (load-worker.ts),
 * lets them warm up, then opens the same window in all of them and reads, from /proc at the window's
 * edges, the CPU time of the server process (of every member's, summed, for an ensemble), of the
 * load processes and of the whole machine.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { LatencyHistogram } from './latency-histogram.ts';
import { WATCH_PACED_PER_SECOND, watchPairs, type DriverMessage, type LoadClient, type LoadParams, type LoadProcessResult, type LoadWorkload, type WorkerMessage } from './load-protocol.ts';
import { machineBusySeconds, processCpuSeconds } from './proc.ts';
import type { ServerKind } from './servers.ts';
import { REPO_ROOT } from './servers.ts';
import { percentile } from './stats.ts';

/**
 * What a measurement loads: a server (BenchServer), or the members of an ensemble
 * (BenchEnsemble), whose CPU is summed and whose members the load processes take in turn.
 */
export interface LoadTarget {
  readonly kind: ServerKind;
  readonly pids: readonly number[];
  /** Load process i connects to connectStrings[i % length]. */
  readonly connectStrings: readonly string[];
}

export interface LoadRunSpec {
  workload: LoadWorkload;
  client: LoadClient;
  procs: number;
  sessionsPerProc: number;
  /** Requests outstanding across all sessions of all load processes. */
  inflightTotal: number;
  warmupMs: number;
  /** The window: this long, or (when opsTarget is set) until that many operations are done. */
  durationMs: number;
  opsTarget: number | null;
  clientModule: string;
  payloadBytes: number;
}

export interface LoadMeasurement {
  server: ServerKind;
  workload: LoadWorkload;
  client: LoadClient;
  ops: number;
  windowMs: number;
  opsPerSec: number;
  p50Us: number;
  p99Us: number;
  p999Us: number;
  maxUs: number;
  /** CPU seconds in the window: the server's process, the load processes', everything else on the machine. */
  serverCpuSeconds: number;
  loadCpuSeconds: number;
  otherCpuSeconds: number;
  serverCpuUsPerOp: number;
  clientCpuUsPerOp: number;
  /** load / (load + server) CPU. */
  loadCpuShare: number;
  /** watch only: A's event minus B's reply (negative: the event came first). */
  replyToEventP50Us?: number;
  replyToEventP99Us?: number;
  replyToEventP999Us?: number;
  inflightPerSession: number;
}

const READY_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A deadline to race a process's exit against: it does not keep this process alive by itself. */
const deadline = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** Requests per session: the total spread evenly, at least one. */
export function inflightPerSession(inflightTotal: number, sessions: number): number {
  return Math.max(1, Math.round(inflightTotal / sessions));
}

/** A forked load process and the messages it sends, awaited by type. */
class LoadProcess {
  private readonly waiting = new Map<WorkerMessage['type'], (m: WorkerMessage) => void>();
  private error: string | null = null;
  readonly exited: Promise<void>;

  constructor(readonly child: ChildProcess) {
    // A send to a process that has gone: its exit is what the waits below report.
    child.on('error', (err) => (this.error ??= err.message));
    child.on('message', (m: WorkerMessage) => {
      if (m.type === 'error') this.error = m.message;
      const waiter = this.waiting.get(m.type);
      this.waiting.delete(m.type);
      waiter?.(m);
    });
    this.exited = new Promise((r) => child.once('exit', () => r()));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  send(m: DriverMessage): void {
    if (this.child.connected) this.child.send(m);
  }

  async next<T extends WorkerMessage['type']>(type: T, timeoutMs: number): Promise<Extract<WorkerMessage, { type: T }>> {
    let timer: NodeJS.Timeout | undefined;
    const message = new Promise<WorkerMessage>((r) => this.waiting.set(type, r));
    const failure = this.exited.then(() => {
      throw new Error(`load process ${this.pid} exited while waiting for '${type}'${this.error ? `:\n${this.error}` : ''}`);
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`load process ${this.pid}: no '${type}' within ${timeoutMs} ms${this.error ? `:\n${this.error}` : ''}`)), timeoutMs);
    });
    try {
      return (await Promise.race([message, failure, timeout])) as Extract<WorkerMessage, { type: T }>;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits for the exit; kills it (SIGKILL, by pid) if it does not come. */
  async finish(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (await Promise.race([this.exited.then(() => true), deadline(EXIT_TIMEOUT_MS).then(() => false)])) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The pids of the load processes running now (for an interrupt to end them). */
export const liveLoadPids = new Set<number>();

export async function runLoad(server: LoadTarget, spec: LoadRunSpec): Promise<LoadMeasurement> {
  const serverPids = [...server.pids];
  if (serverPids.length === 0) throw new Error(`${server.kind} is not running`);
  const perSession = inflightPerSession(spec.inflightTotal, spec.procs * spec.sessionsPerProc);
  const processes = Array.from({ length: spec.procs }, (_, procIndex) => {
    const params: LoadParams = {
      workload: spec.workload,
      client: spec.client,
      connectString: server.connectStrings[procIndex % server.connectStrings.length],
      clientModule: spec.clientModule,
      procIndex,
      sessions: spec.sessionsPerProc,
      inflightPerSession: perSession,
      payloadBytes: spec.payloadBytes,
      ...(spec.workload === 'watch-paced' ? { pacedIntervalMs: (1000 * spec.procs * watchPairs(spec.sessionsPerProc)) / WATCH_PACED_PER_SECOND } : {}),
    };
    const child = fork(join(REPO_ROOT, 'bench/load-worker.ts'), [JSON.stringify(params)], {
      cwd: REPO_ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    if (child.pid !== undefined) liveLoadPids.add(child.pid);
    return new LoadProcess(child);
  });
  try {
    await Promise.all(processes.map((p) => p.next('ready', READY_TIMEOUT_MS)));
    await delay(spec.warmupMs);

    const cpuNow = (): { server: number; load: number; machine: number; at: number } => ({
      server: serverPids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0),
      load: processes.reduce((sum, p) => sum + processCpuSeconds(p.pid), 0),
      machine: machineBusySeconds(),
      at: performance.now(),
    });
    const before = cpuNow();
    for (const p of processes) p.send({ type: 'mark' });
    if (spec.opsTarget === null) {
      await delay(spec.durationMs);
    } else {
      for (;;) {
        await delay(100);
        const counts = await Promise.all(processes.map((p) => {
          p.send({ type: 'count' });
          return p.next('count', READY_TIMEOUT_MS);
        }));
        if (counts.reduce((sum, c) => sum + c.ops, 0) >= spec.opsTarget) break;
      }
    }
    const results = processes.map((p) => p.next('result', READY_TIMEOUT_MS));
    for (const p of processes) p.send({ type: 'stop' });
    const after = cpuNow();
    return summarize(server.kind, spec, perSession, (await Promise.all(results)).map((m) => m.result), before, after);
  } finally {
    await Promise.all(processes.map(async (p) => {
      await p.finish();
      liveLoadPids.delete(p.pid);
    }));
  }
}

function summarize(
  kind: ServerKind,
  spec: LoadRunSpec,
  perSession: number,
  results: readonly LoadProcessResult[],
  before: { server: number; load: number; machine: number; at: number },
  after: { server: number; load: number; machine: number; at: number },
): LoadMeasurement {
  const histogram = new LatencyHistogram();
  for (const r of results) histogram.merge(LatencyHistogram.fromJSON(r.latency));
  const ops = results.reduce((sum, r) => sum + r.ops, 0);
  const serverCpuSeconds = after.server - before.server;
  const loadCpuSeconds = after.load - before.load;
  const replyToEvent = results.flatMap((r) => r.replyToEventUs ?? []).sort((a, b) => a - b);
  return {
    server: kind,
    workload: spec.workload,
    client: spec.client,
    ops,
    windowMs: after.at - before.at,
    // Each process's own rate over its own window (they open and close a message apart).
    opsPerSec: results.reduce((sum, r) => sum + r.ops / (r.windowMs / 1000), 0),
    p50Us: histogram.percentile(0.5),
    p99Us: histogram.percentile(0.99),
    p999Us: histogram.percentile(0.999),
    maxUs: histogram.maxUs,
    serverCpuSeconds,
    loadCpuSeconds,
    otherCpuSeconds: after.machine - before.machine - serverCpuSeconds - loadCpuSeconds,
    serverCpuUsPerOp: (serverCpuSeconds * 1e6) / ops,
    clientCpuUsPerOp: (loadCpuSeconds * 1e6) / ops,
    loadCpuShare: loadCpuSeconds / (loadCpuSeconds + serverCpuSeconds),
    ...(replyToEvent.length > 0
      ? {
          replyToEventP50Us: percentile(replyToEvent, 0.5),
          replyToEventP99Us: percentile(replyToEvent, 0.99),
          replyToEventP999Us: percentile(replyToEvent, 0.999),
        }
      : {}),
    inflightPerSession: perSession,
  };
}
