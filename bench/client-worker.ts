/**
 * One measured benchmark run, in a process of its own: connects ONE client library, warms up, then
 * keeps `inflight` requests outstanding until `ops` have completed, and prints one RESULT line.
 *
 *   node --expose-gc --import tsx bench/client-worker.ts --lib ensemble --connect 127.0.0.1:2181 \
 *     --workload getData --ops 200000 --warmup 20000 --inflight 256 --size 100 \
 *     [--client-module /tmp/build/index.js] [--profile out.cpuprofile]
 *
 * Normally started by bench/client.ts, which first creates the znode (BENCH_PATH). --client-module
 * is the module our client is imported from (default: src/index.ts through tsx); --profile writes
 * a CPU profile of the measured phase only.
 *
 * The harness does the same work for every library and creates no closure per request: one
 * completion function shared by all requests (`.then(done, fail)` for our promises, a node-style
 * callback for node-zookeeper-client), and the issue times kept in a ring, since every library
 * completes a session's requests in the order they were issued (ZooKeeper answers them so).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { openSession } from './client-sessions.ts';
import { BENCH_PATH, LIBS, RESULT_PREFIX, WORKLOADS, type Lib, type Workload, type WorkerParams, type WorkerResult } from './protocol.ts';
import { percentile } from './stats.ts';

/** Sends one request; its completion must call `done` (success) or `fail`, exactly once. */
type Send = () => void;

/**
 * Runs `count` requests with `inflight` outstanding. With `latencies`, stores each request's
 * latency (µs) in it, in completion order.
 */
function runPhase(makeSender: (done: () => void, fail: (err: unknown) => void) => Send, count: number, inflight: number, latencies: Float64Array | null): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let ringSize = 1;
    while (ringSize < inflight * 2) ringSize *= 2;
    const mask = ringSize - 1;
    const issuedAt = new Float64Array(ringSize);
    let issued = 0;
    let completed = 0;
    let failed = false;

    const issue = (): void => {
      issuedAt[issued & mask] = performance.now();
      issued++;
      send();
    };
    const done = (): void => {
      if (failed) return;
      if (latencies !== null) latencies[completed] = (performance.now() - issuedAt[completed & mask]) * 1000;
      completed++;
      if (issued < count) issue();
      else if (completed === count) resolve();
    };
    const fail = (err: unknown): void => {
      if (failed) return;
      failed = true;
      reject(err);
    };
    const send = makeSender(done, fail);
    const first = Math.min(inflight, count);
    for (let i = 0; i < first; i++) issue();
  });
}

/**
 * The process's read and write system calls so far (Linux /proc/self/io: read/readv/write/writev on
 * sockets included; epoll_wait not), or null where that file does not exist.
 */
function syscalls(): { reads: number; writes: number } | null {
  try {
    const text = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s*(\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    return { reads: field('syscr'), writes: field('syscw') };
  } catch {
    return null;
  }
}

function parseParams(argv: string[]): WorkerParams & { clientModule?: string; profile?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      lib: { type: 'string' },
      connect: { type: 'string' },
      workload: { type: 'string', default: 'getData' },
      ops: { type: 'string', default: '200000' },
      warmup: { type: 'string', default: '20000' },
      inflight: { type: 'string', default: '256' },
      size: { type: 'string', default: '100' },
      'client-module': { type: 'string' },
      profile: { type: 'string' },
    },
    strict: true,
  });
  const lib = values.lib as Lib;
  if (!LIBS.includes(lib)) throw new Error(`--lib must be one of ${LIBS.join(', ')}`);
  const workload = values.workload as Workload;
  if (!WORKLOADS.includes(workload)) throw new Error(`--workload must be one of ${WORKLOADS.join(', ')}`);
  if (values.connect === undefined) throw new Error('--connect HOST:PORT is required');
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  return {
    lib,
    connectString: values.connect,
    workload,
    ops: int('ops', values.ops, 1),
    warmup: int('warmup', values.warmup, 0),
    inflight: int('inflight', values.inflight, 1),
    size: int('size', values.size, 0),
    clientModule: values['client-module'],
    profile: values.profile,
  };
}

async function main(): Promise<void> {
  const params = parseParams(process.argv.slice(2));
  const client = await openSession(params.lib, params.connectString, params.clientModule);
  const payload = Buffer.alloc(params.size, 0x61);
  const makeSender = (done: () => void, fail: (err: unknown) => void): Send => {
    const requests = client.requests(done, fail);
    return params.workload === 'getData' ? () => requests.getData(BENCH_PATH) : () => requests.setData(BENCH_PATH, payload);
  };

  if (params.warmup > 0) await runPhase(makeSender, params.warmup, params.inflight, null);

  // Start the measured phase from a collected heap and an idle event loop.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await new Promise((r) => setImmediate(r));

  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  observer.observe({ entryTypes: ['gc'] });

  // The profiler, when asked for, covers the measured phase only (not startup, module loading or
  // the warm-up). It costs CPU of its own: do not compare profiled runs with unprofiled ones.
  let session: Session | null = null;
  if (params.profile !== undefined) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
  }

  const latencies = new Float64Array(params.ops);
  const sys0 = syscalls();
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await runPhase(makeSender, params.ops, params.inflight, latencies);
  const wallMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sys1 = syscalls();
  if (session !== null && params.profile !== undefined) {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(params.profile, JSON.stringify(profile));
    session.disconnect();
  }
  const rssMb = process.memoryUsage.rss() / (1024 * 1024);
  // GC entries are delivered asynchronously: let the observer catch up before reading gcMs.
  await new Promise((r) => setTimeout(r, 50));
  observer.disconnect();

  latencies.sort();
  const result: WorkerResult = {
    lib: params.lib,
    workload: params.workload,
    inflight: params.inflight,
    ops: params.ops,
    wallMs,
    opsPerSec: params.ops / (wallMs / 1000),
    cpuUsPerOp: (cpu.user + cpu.system) / params.ops,
    userUsPerOp: cpu.user / params.ops,
    systemUsPerOp: cpu.system / params.ops,
    gcUsPerOp: (gcMs * 1000) / params.ops,
    p50Us: percentile(latencies, 0.5),
    p99Us: percentile(latencies, 0.99),
    maxUs: latencies[latencies.length - 1],
    rssMb,
    readSyscallsPerOp: sys0 && sys1 ? (sys1.reads - sys0.reads) / params.ops : NaN,
    writeSyscallsPerOp: sys0 && sys1 ? (sys1.writes - sys0.writes) / params.ops : NaN,
  };
  await client.close();
  process.stdout.write(RESULT_PREFIX + JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`client-worker: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
