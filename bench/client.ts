/**
 * Client benchmark: Ensemble's client library against node-zookeeper-client, on the same server,
 * with the same number of requests in flight. Reports the CPU the CLIENT process spends per request
 * and the throughput.
 *
 *   npm run bench:client -- [--server zookeeper|ensemble] [--ops 200000] [--warmup 20000]
 *                           [--inflight 1,32,256] [--rounds 3] [--workload getData,setData]
 *                           [--size 100] [--libs ensemble,node-zookeeper-client]
 *                           [--client-build tsc|tsx] [--profile DIR] [--skip-server-warmup]
 *                           [--out results.json]
 *
 * The server runs in its own process (a JVM for Apache ZooKeeper, a child `ensemble server` for
 * Ensemble); every measured run is a fresh worker process (bench/client-worker.ts) that loads one
 * library. The libraries alternate in every round, and each cell of the table is the median over
 * the rounds. This is not a test: `npm test` only runs test/**\/*.test.ts.
 *
 * Our client is measured as it ships, compiled by tsc (into a temporary directory, from the
 * working tree's src/), not as TypeScript through tsx: tsx's transform keeps function names by
 * wrapping every named closure in a __name() call, which costs several percent per request.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '../src/index.ts';
import { describeSource } from './machine.ts';
import { BENCH_PARENT, BENCH_PATH, DEFAULT_LIBS, LIBS, RESULT_PREFIX, WORKLOADS, type Lib, type Workload, type WorkerParams, type WorkerResult } from './protocol.ts';
import { REPO_ROOT, startBenchServer, type ClientBenchServer, type ServerKind } from './servers.ts';
import { fmt, markdownTable, median } from './stats.ts';

const USAGE = `usage: npm run bench:client -- [options]

  --server zookeeper|ensemble   server to load, in its own process (default zookeeper)
  --ops N                       measured operations per run (default 200000)
  --warmup N                    unmeasured operations before them, same run (default 20000)
  --inflight LIST               requests kept outstanding, comma list (default 256)
  --rounds N                    runs per library and setting, alternating (default 3)
  --workload LIST               getData,setData (default both)
  --size BYTES                  znode data size (default 100)
  --libs LIST                   ensemble,node-zookeeper-client (default both), and raw-socket:
                                no library, the floor Node and the kernel set (bench/raw-socket.ts)
  --client-build tsc|tsx        our client compiled by tsc into a temporary directory (default),
                                or src/ through tsx as it is
  --profile DIR                 CPU profile of each measured phase, into
                                DIR/<lib>-<workload>-x<inflight>-r<round>.cpuprofile (the profiler
                                costs CPU: use the profiles, not the timings, of such a run);
                                summarize with bench/profile-summary.ts
  --skip-server-warmup          skip the discarded runs that warm the server up
  --out FILE                    also write every run and the summary as JSON
`;

interface Options {
  server: ServerKind;
  ops: number;
  warmup: number;
  inflight: number[];
  rounds: number;
  workloads: Workload[];
  size: number;
  libs: Lib[];
  clientBuild: 'tsc' | 'tsx';
  profileDir: string | null;
  serverWarmup: boolean;
  out: string | null;
}

interface Run extends WorkerResult {
  round: number;
  /** 1-minute load average of the machine just before the run. */
  loadAvg1: number;
  /** The run was profiled: its CPU figures include the profiler's. */
  profiled: boolean;
}

/** One cell of the summary: the median of a workload × in-flight × library's runs. */
type SummaryRow = Pick<WorkerResult, 'workload' | 'inflight' | 'lib' | 'opsPerSec' | 'cpuUsPerOp' | 'userUsPerOp' | 'systemUsPerOp'
  | 'gcUsPerOp' | 'p50Us' | 'p99Us' | 'readSyscallsPerOp' | 'writeSyscallsPerOp'> & { runs: number };

interface Ratio {
  workload: Workload;
  inflight: number;
  /** ensemble / node-zookeeper-client, of the medians. Below 1: ours uses less CPU per op. */
  cpuPerOp: number;
  /** ensemble / node-zookeeper-client, of the medians. Above 1: ours is faster. */
  opsPerSec: number;
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      server: { type: 'string', default: 'zookeeper' },
      ops: { type: 'string', default: '200000' },
      warmup: { type: 'string', default: '20000' },
      inflight: { type: 'string', default: '256' },
      rounds: { type: 'string', default: '3' },
      workload: { type: 'string', default: WORKLOADS.join(',') },
      size: { type: 'string', default: '100' },
      libs: { type: 'string', default: DEFAULT_LIBS.join(',') },
      'client-build': { type: 'string', default: 'tsc' },
      profile: { type: 'string' },
      'skip-server-warmup': { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return null;
  }
  const int = (name: string, v: string, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got "${v}"`);
    return n;
  };
  const list = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const s of items) if (!allowed.includes(s as T)) throw new Error(`--${name}: "${s}" is not one of ${allowed.join(', ')}`);
    if (items.length === 0) throw new Error(`--${name} is empty`);
    return [...new Set(items)] as T[];
  };
  if (values.server !== 'zookeeper' && values.server !== 'ensemble') throw new Error(`--server must be zookeeper or ensemble, got "${values.server}"`);
  const clientBuild = values['client-build'];
  if (clientBuild !== 'tsc' && clientBuild !== 'tsx') throw new Error(`--client-build must be tsc or tsx, got "${clientBuild}"`);
  return {
    server: values.server,
    ops: int('ops', values.ops, 1),
    warmup: int('warmup', values.warmup, 0),
    inflight: [...new Set(values.inflight.split(',').map((s) => int('inflight', s.trim(), 1)))],
    rounds: int('rounds', values.rounds, 1),
    workloads: list('workload', values.workload, WORKLOADS),
    size: int('size', values.size, 0),
    libs: list('libs', values.libs, LIBS),
    clientBuild,
    profileDir: values.profile === undefined ? null : resolve(values.profile),
    serverWarmup: !values['skip-server-warmup'],
    out: values.out ?? null,
  };
}

/** The worker process currently running, so that an interrupt can stop it (by pid). */
let currentWorkerPid: number | undefined;

/**
 * Compiles src/ with tsc into a temporary directory and returns the client's entry module there.
 * The package's own dist/ is left alone (someone may be building it from an edit in progress).
 */
function compileClient(): { entry: string; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-bench-build-'));
  // The output is ESM (.js under a "type": "module" scope), as in the package.
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const res = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', dir, '--declaration', 'false', '--sourceMap', 'false'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  const entry = join(dir, 'index.js');
  if (!existsSync(entry)) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`tsc did not produce ${entry} (exit ${res.status}):\n${res.stdout}${res.stderr}`);
  }
  if (res.status !== 0) process.stderr.write(`warning: tsc reported errors (the output was emitted anyway):\n${res.stdout}${res.stderr}\n`);
  return { entry, dir };
}

/** Runs one worker process and returns its result. */
function runWorker(params: WorkerParams, clientModule: string | null, profileFile: string | null): Promise<WorkerResult> {
  const args = [
    '--expose-gc', '--import', 'tsx', join(REPO_ROOT, 'bench/client-worker.ts'),
    '--lib', params.lib, '--connect', params.connectString, '--workload', params.workload,
    '--ops', String(params.ops), '--warmup', String(params.warmup), '--inflight', String(params.inflight), '--size', String(params.size),
  ];
  if (clientModule !== null) args.push('--client-module', clientModule);
  if (profileFile !== null) args.push('--profile', profileFile);
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    currentWorkerPid = child.pid;
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString('utf8')).slice(-16 * 1024)));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      currentWorkerPid = undefined;
      const line = stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
      if (code !== 0 || line === undefined) {
        reject(new Error(`worker ${params.lib} ${params.workload} x${params.inflight} failed (code ${code}, signal ${signal})\n${stderr}`));
        return;
      }
      resolvePromise(JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkerResult);
    });
  });
}

/** Creates the benchmark's znode with `size` bytes (idempotent), using our own client. */
async function prepareZnode(connectString: string, size: number): Promise<void> {
  const zk = await connect(connectString, { sessionTimeoutMs: 30_000 });
  try {
    for (const path of [BENCH_PARENT, BENCH_PATH]) {
      if ((await zk.exists(path)) === null) await zk.create(path, Buffer.alloc(0));
    }
    await zk.setData(BENCH_PATH, Buffer.alloc(size, 0x61));
  } finally {
    await zk.close();
  }
}

function summarize(runs: readonly Run[], opts: Options): { rows: SummaryRow[]; ratios: Ratio[] } {
  const rows: SummaryRow[] = [];
  const ratios: Ratio[] = [];
  for (const workload of opts.workloads) {
    for (const inflight of opts.inflight) {
      const byLib = new Map<Lib, SummaryRow>();
      for (const lib of opts.libs) {
        const rs = runs.filter((r) => r.workload === workload && r.inflight === inflight && r.lib === lib);
        if (rs.length === 0) continue;
        const m = (f: (r: Run) => number): number => median(rs.map(f));
        const row: SummaryRow = {
          workload, inflight, lib, runs: rs.length,
          opsPerSec: m((r) => r.opsPerSec),
          cpuUsPerOp: m((r) => r.cpuUsPerOp),
          userUsPerOp: m((r) => r.userUsPerOp),
          systemUsPerOp: m((r) => r.systemUsPerOp),
          gcUsPerOp: m((r) => r.gcUsPerOp),
          p50Us: m((r) => r.p50Us),
          p99Us: m((r) => r.p99Us),
          readSyscallsPerOp: m((r) => r.readSyscallsPerOp),
          writeSyscallsPerOp: m((r) => r.writeSyscallsPerOp),
        };
        rows.push(row);
        byLib.set(lib, row);
      }
      const ours = byLib.get('ensemble');
      const theirs = byLib.get('node-zookeeper-client');
      if (ours && theirs) {
        ratios.push({ workload, inflight, cpuPerOp: ours.cpuUsPerOp / theirs.cpuUsPerOp, opsPerSec: ours.opsPerSec / theirs.opsPerSec });
      }
    }
  }
  return { rows, ratios };
}

function renderTable(rows: readonly SummaryRow[], ratios: readonly Ratio[]): string {
  const header = ['workload', 'in flight', 'client', 'ops/s', 'CPU µs/op', 'user', 'sys', 'GC µs/op', 'reads/op', 'writes/op', 'p50 µs', 'p99 µs'];
  const right = [false, true, false, true, true, true, true, true, true, true, true, true];
  const out: string[][] = [];
  for (const row of rows) {
    out.push([
      row.workload, String(row.inflight), row.lib, fmt(row.opsPerSec, 0), fmt(row.cpuUsPerOp), fmt(row.userUsPerOp), fmt(row.systemUsPerOp),
      fmt(row.gcUsPerOp), fmt(row.readSyscallsPerOp, 2), fmt(row.writeSyscallsPerOp, 2), fmt(row.p50Us, 0), fmt(row.p99Us, 0),
    ]);
    const ratio = ratios.find((r) => r.workload === row.workload && r.inflight === row.inflight);
    const last = rows.filter((r) => r.workload === row.workload && r.inflight === row.inflight).at(-1);
    if (ratio && last === row) {
      out.push([row.workload, String(row.inflight), '**ours/theirs**', `**${fmt(ratio.opsPerSec, 2)}x**`, `**${fmt(ratio.cpuPerOp, 2)}x**`, '', '', '', '', '', '', '']);
    }
  }
  return markdownTable(header, out, right);
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === null) return;
  if (opts.profileDir) mkdirSync(opts.profileDir, { recursive: true });
  const machine = { cpus: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, platform: `${process.platform} ${process.arch}` };
  const git = describeSource();
  process.stderr.write(
    `client benchmark: ${machine.cpus} x ${machine.model}, node ${machine.node}, commit ${git.commit}` +
      `${git.srcChanges.length > 0 ? ` (uncommitted changes under src/: ${git.srcChanges.join(', ')})` : ''}\n`,
  );

  let server: ClientBenchServer | null = null;
  let build: { entry: string; dir: string } | null = null;
  const stopAll = async (): Promise<void> => {
    if (currentWorkerPid !== undefined) {
      try {
        process.kill(currentWorkerPid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    await server?.stop();
    if (build !== null) rmSync(build.dir, { recursive: true, force: true });
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the worker and the server\n`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const runs: Run[] = [];
  try {
    if (opts.clientBuild === 'tsc') {
      build = compileClient();
      process.stderr.write(`our client: compiled by tsc to ${build.dir}\n`);
    } else {
      process.stderr.write('our client: src/ through tsx\n');
    }
    const clientModule = build?.entry ?? null;
    server = await startBenchServer(opts.server);
    process.stderr.write(`server: ${opts.server} at ${server.connectString} (pid ${server.pid ?? '?'})\n`);
    await prepareZnode(server.connectString, opts.size);
    const base = { connectString: server.connectString, size: opts.size, warmup: opts.warmup };

    if (opts.serverWarmup) {
      // Discarded: a freshly started server (a JVM especially) is slower for its first requests.
      const inflight = Math.max(...opts.inflight);
      for (const workload of opts.workloads) {
        for (const lib of opts.libs) {
          process.stderr.write(`server warm-up: ${workload} x${inflight} ${lib}\n`);
          await runWorker({ ...base, lib, workload, inflight, ops: Math.max(10_000, opts.warmup), warmup: 0 }, clientModule, null);
        }
      }
    }

    for (const workload of opts.workloads) {
      for (const inflight of opts.inflight) {
        for (let round = 1; round <= opts.rounds; round++) {
          // Alternate which library goes first, so that drift in the machine's load favours neither.
          const order = round % 2 === 1 ? opts.libs : [...opts.libs].reverse();
          for (const lib of order) {
            const loadAvg1 = loadavg()[0];
            const profileFile = opts.profileDir ? join(opts.profileDir, `${lib}-${workload}-x${inflight}-r${round}.cpuprofile`) : null;
            const r = await runWorker({ ...base, lib, workload, inflight, ops: opts.ops }, clientModule, profileFile);
            runs.push({ ...r, round, loadAvg1, profiled: profileFile !== null });
            process.stderr.write(
              `${workload.padEnd(7)} x${String(inflight).padEnd(4)} round ${round} ${lib.padEnd(21)} ` +
                `${fmt(r.opsPerSec, 0).padStart(9)} ops/s  ${fmt(r.cpuUsPerOp).padStart(6)} µs CPU/op  ` +
                `r/w syscalls/op ${fmt(r.readSyscallsPerOp, 2)}/${fmt(r.writeSyscallsPerOp, 2)}  ` +
                `p50 ${fmt(r.p50Us, 0)} µs  p99 ${fmt(r.p99Us, 0)} µs  (load ${loadAvg1.toFixed(2)})\n`,
            );
          }
        }
      }
    }
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }

  const { rows, ratios } = summarize(runs, opts);
  process.stdout.write(
    `\nserver: ${opts.server}; ${opts.ops} ops per run after ${opts.warmup} warm-up; ${opts.size}-byte znode; ` +
      `median of ${opts.rounds} round(s); CPU = user+system of the client process; our client from ${opts.clientBuild}` +
      `${opts.profileDir ? '; PROFILED (the CPU figures include the profiler)' : ''}\n\n${renderTable(rows, ratios)}\n`,
  );
  if (opts.out) {
    const report = {
      date: new Date().toISOString(),
      machine,
      git,
      options: { ...opts, profileDir: opts.profileDir ?? undefined },
      summary: rows,
      ratios,
      runs,
    };
    writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
    process.stderr.write(`wrote ${opts.out}\n`);
  }
}

/** Set on SIGINT/SIGTERM: the worker killed then is not an error worth a stack trace. */
let interrupted = false;

main().catch((err: unknown) => {
  if (interrupted) return;
  process.stderr.write(`bench:client: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
