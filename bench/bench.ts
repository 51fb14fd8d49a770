/**
 * `npm run bench`: Ensemble against Apache ZooKeeper 3.8 in the same run. Both servers run with
 * fsync on, each in its own process; separate load processes drive every workload against both in
 * every round, alternating which server goes first; the report gives each server's median over the
 * rounds, the spread, the ratio Ensemble / ZooKeeper, latency percentiles and the CPU split.
 * `npm run bench -- --help` lists the options; docs/benchmarks.md explains the method.
 * This is not a test: `npm test` only runs test/**\/*.test.ts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { BIG_TREE_SERVER_PROPERTIES, buildBigTree, restartToFirstReplyMs, type BigTree } from './big-tree.ts';
import { loadOurClient } from './client-sessions.ts';
import { LOAD_WORKLOADS, SUPPORTED_CLIENTS, type LoadClient, type LoadWorkload } from './load-protocol.ts';
import { liveLoadPids, runLoad, type LoadMeasurement } from './load-run.ts';
import { describeMachine, describeSource } from './machine.ts';
import { parseOptions, USAGE, type BenchOptions } from './options.ts';
import {
  evaluateTargets, renderDetailTable, renderFloorTable, renderSummaryTable, renderTargetTable, summarizeBigTree, summarizeLoad,
  type BigTreeMeasurement, type RoundMeasurement,
} from './report.ts';
import { BenchServer, REPO_ROOT, SERVER_KINDS, type ServerKind } from './servers.ts';
import { createWorkloadZnodes } from './setup.ts';
import { fmt } from './stats.ts';

const PAYLOAD = Buffer.alloc(100, 0x61);
const CLIENT_MODULE = join(REPO_ROOT, 'dist/index.js');

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Servers created by this run, stopped (and their data deleted) at the end or on an interrupt. */
const liveServers = new Set<BenchServer>();
/** Each server's command line as run (data dir and port elided), for the report, by server and role. */
const serverCommands = new Map<string, string>();

async function createServer(kind: ServerKind, role: 'load' | 'big tree', properties?: Readonly<Record<string, string>>): Promise<BenchServer> {
  const server = await BenchServer.create(kind, { fsync: true, ensembleFrom: 'dist', properties });
  liveServers.add(server);
  serverCommands.set(`${kind}, ${role}`, server.command.map((a) => a.replaceAll(server.dir, '<dir>').replace(String(server.port), '<port>')).join(' '));
  return server;
}

async function disposeServer(server: BenchServer): Promise<void> {
  await server.dispose();
  liveServers.delete(server);
}

/** The workloads the no-logic server can answer (getData, setData, sessions). */
const FLOOR_WORKLOADS: readonly LoadWorkload[] = ['read', 'write', 'mixed', 'connect'];

const FLOOR_NOTE = 'A server with no logic (--floor), beside both. It keeps nothing and syncs nothing: on write, mixed ' +
  'and connect (whose sessions both servers log and sync) it is a bound no durable server reaches.';

/** ZooKeeper first in odd rounds, Ensemble (or the floor) first in even ones. */
function serverOrder(round: number, kinds: readonly ServerKind[]): ServerKind[] {
  return round % 2 === 1 ? [...kinds] : [...kinds].reverse();
}

function clientsFor(workload: LoadWorkload, opts: BenchOptions): readonly LoadClient[] {
  return opts.clients === null ? SUPPORTED_CLIENTS[workload] : SUPPORTED_CLIENTS[workload].filter((c) => opts.clients!.includes(c));
}

function describeMeasurement(m: LoadMeasurement): string {
  const seconds = m.windowMs / 1000;
  const headline = m.workload.startsWith('watch') ? `p50 ${fmt(m.p50Us, 0)} µs` : `${fmt(m.opsPerSec, 0)} ${m.workload === 'connect' ? 'sessions' : 'ops'}/s`;
  return `${headline}  p99 ${fmt(m.p99Us, 0)} µs  server ${fmt(m.serverCpuUsPerOp)} µs/op  ` +
    `cores: server ${fmt(m.serverCpuSeconds / seconds, 2)} load ${fmt(m.loadCpuSeconds / seconds, 2)} other ${fmt(m.otherCpuSeconds / seconds, 2)}`;
}

async function runLoadWorkloads(opts: BenchOptions, workloads: readonly LoadWorkload[]): Promise<RoundMeasurement[]> {
  const measurements: RoundMeasurement[] = [];
  const servers = new Map<ServerKind, BenchServer>();
  try {
    const { connect } = await loadOurClient(CLIENT_MODULE);
    const kinds: readonly ServerKind[] = opts.floor ? [...SERVER_KINDS, 'node-floor'] : SERVER_KINDS;
    for (const kind of kinds) {
      const server = await createServer(kind, 'load');
      servers.set(kind, server);
      await server.start();
      log(`${kind}: pid ${server.pid} on ${server.connectString}`);
      if (kind === 'node-floor') continue;
      const zk = await connect(server.connectString);
      await createWorkloadZnodes(zk, PAYLOAD, workloads.includes('get-children') ? opts.children : 0);
      await zk.close();
    }
    // Round 0 (discarded) warms both servers up on every workload.
    for (let round = opts.serverWarmupMs > 0 ? 0 : 1; round <= opts.rounds; round++) {
      const warmup = round === 0;
      for (const workload of workloads) {
        for (const client of clientsFor(workload, opts)) {
          for (const kind of serverOrder(round, [...servers.keys()])) {
            if (kind === 'node-floor' && !FLOOR_WORKLOADS.includes(workload)) continue;
            const m = await runLoad(servers.get(kind)!, {
              workload, client, procs: opts.procs, sessionsPerProc: opts.sessionsPerProc, inflightTotal: opts.inflightTotal,
              warmupMs: warmup ? 0 : opts.warmupMs, durationMs: warmup ? opts.serverWarmupMs : opts.durationMs, opsTarget: warmup ? null : opts.opsTarget,
              clientModule: CLIENT_MODULE, payloadBytes: PAYLOAD.length,
            });
            if (!warmup) measurements.push({ ...m, round });
            log(`${warmup ? 'warm-up round' : `round ${round}/${opts.rounds}`} ${workload} (${client}) ${kind.padEnd(9)} ${describeMeasurement(m)}  (load avg ${loadavg()[0].toFixed(2)})`);
          }
        }
      }
    }
  } finally {
    for (const server of servers.values()) await disposeServer(server);
  }
  return measurements;
}

async function runBigTreeWorkloads(opts: BenchOptions): Promise<BigTreeMeasurement[]> {
  const trees = new Map<ServerKind, BigTree>();
  try {
    for (const kind of SERVER_KINDS) {
      log(`${kind}: loading ${opts.bigTreeZnodes.toLocaleString('en-US')} znodes of ${PAYLOAD.length} bytes…`);
      const server = await createServer(kind, 'big tree', BIG_TREE_SERVER_PROPERTIES);
      try {
        trees.set(kind, await buildBigTree(server, opts.bigTreeZnodes, PAYLOAD, CLIENT_MODULE));
      } catch (err) {
        await disposeServer(server);
        throw err;
      }
      const tree = trees.get(kind)!;
      log(`${kind}: loaded in ${fmt(tree.loadSeconds, 1)} s; RSS ${fmt(tree.rssBeforeBytes / 2 ** 20, 0)} → ${fmt(tree.rssAfterBytes / 2 ** 20, 0)} MiB, ${fmt(tree.rssBytesPerZnode, 0)} bytes/znode`);
    }
    const startupMs = new Map<ServerKind, number[]>(SERVER_KINDS.map((k) => [k, []]));
    if (opts.workloads.includes('startup')) {
      for (let round = 1; round <= opts.rounds; round++) {
        for (const kind of serverOrder(round, SERVER_KINDS)) {
          const ms = await restartToFirstReplyMs(trees.get(kind)!, CLIENT_MODULE);
          startupMs.get(kind)!.push(ms);
          log(`round ${round}/${opts.rounds} startup ${kind.padEnd(9)} ${fmt(ms, 0)} ms from spawn to the first reply`);
        }
      }
    }
    return SERVER_KINDS.map((kind) => {
      const t = trees.get(kind)!;
      return {
        server: kind, znodes: opts.bigTreeZnodes, loadSeconds: t.loadSeconds,
        rssBeforeBytes: t.rssBeforeBytes, rssAfterBytes: t.rssAfterBytes, rssBytesPerZnode: t.rssBytesPerZnode,
        startupMs: startupMs.get(kind)!,
      };
    });
  } finally {
    for (const t of trees.values()) await disposeServer(t.server);
  }
}

/** The lines under the tables: how the run was set up, and what did not run. */
function notes(opts: BenchOptions, loadMeasurements: readonly RoundMeasurement[]): string[] {
  const lines: string[] = [];
  const sessions = opts.procs * opts.sessionsPerProc;
  const window = opts.opsTarget === null ? `${opts.durationMs / 1000} s windows` : `windows of at least ${opts.opsTarget} ops`;
  if (loadMeasurements.length > 0) lines.push(
    `${opts.procs} load processes × ${opts.sessionsPerProc} sessions, ${opts.inflightTotal} requests in flight in total ` +
      `(${Math.max(1, Math.round(opts.inflightTotal / sessions))} per session), ${opts.warmupMs / 1000} s warm-up, ${window}, ` +
      `median of ${opts.rounds} round(s)${opts.serverWarmupMs > 0 ? ` after a discarded warm-up round (${opts.serverWarmupMs / 1000} s of every workload on each server)` : ''}; ` +
      '100-byte znodes; both servers fsync every commit.',
  );
  if (opts.quick) lines.push('QUICK RUN: a smoke test of the instrument, not a measurement.');
  const watch = (kind: ServerKind): string => {
    const ms = loadMeasurements.filter((m) => m.workload === 'watch' && m.server === kind);
    if (ms.length === 0) return '';
    const med = (f: (m: LoadMeasurement) => number | undefined): string => fmt(ms.map((m) => f(m) ?? NaN).sort((a, b) => a - b)[ms.length >> 1], 0);
    return `${kind} p50 ${med((m) => m.replyToEventP50Us)} µs, p99 ${med((m) => m.replyToEventP99Us)} µs`;
  };
  if (loadMeasurements.some((m) => m.workload === 'watch')) {
    lines.push(
      `watch: latency from B sending setData to A's event. A's event minus B's reply: ${watch('zookeeper')}; ${watch('ensemble')} ` +
        '(negative: the event came before the writer\'s reply, as both servers send it first).',
    );
  }
  if (opts.bigTreeZnodes === 0) lines.push('startup and memory: not run (they need --big, or --znodes N).');
  else lines.push(`startup and memory: ${opts.bigTreeZnodes.toLocaleString('en-US')} znodes of 100 bytes; memory is one sample per server.`);
  return lines;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === null) {
    process.stdout.write(USAGE);
    return;
  }
  if (!existsSync(CLIENT_MODULE)) throw new Error('dist/ is missing: run `npm run build` (npm run bench does) first');
  const machine = describeMachine();
  const source = describeSource();
  log(
    `bench: ${machine.cores} × ${machine.cpuModel}, ${machine.memoryGiB} GiB, ${machine.kernel}, node ${machine.node}, ${machine.java}; ` +
      `commit ${source.commit}${source.srcChanges.length > 0 ? ` (uncommitted changes under src/: ${source.srcChanges.length} files)` : ''}`,
  );

  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted = true;
    log(`\n${signal}: stopping the load processes and the servers`);
    for (const pid of liveLoadPids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
    void Promise.all([...liveServers].map((s) => s.dispose())).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const startedAt = performance.now();
  const loadWorkloads = LOAD_WORKLOADS.filter((w) => opts.workloads.includes(w));
  const loadMeasurements = loadWorkloads.length > 0 ? await runLoadWorkloads(opts, loadWorkloads) : [];
  const bigTree = opts.bigTreeZnodes > 0 ? await runBigTreeWorkloads(opts) : [];
  const durationSeconds = (performance.now() - startedAt) / 1000;

  const rows = [...summarizeLoad(loadMeasurements), ...summarizeBigTree(bigTree, opts.workloads)];
  const targets = evaluateTargets(rows);
  const servers = Object.fromEntries(serverCommands);

  const out = [
    '',
    `Ensemble / Apache ZooKeeper 3.8 — ${new Date().toISOString()}, ${Math.round(durationSeconds)} s`,
    ...notes(opts, loadMeasurements),
    '',
    renderSummaryTable(rows),
    '',
    ...(loadMeasurements.length > 0 ? [renderDetailTable(rows), ''] : []),
    ...(rows.some((r) => r.floor) ? [FLOOR_NOTE, '', renderFloorTable(rows), ''] : []),
    renderTargetTable(targets),
    '',
  ];
  process.stdout.write(out.join('\n') + '\n');

  if (opts.out !== null) {
    const report = {
      date: new Date().toISOString(),
      durationSeconds,
      argv: process.argv.slice(2),
      options: opts,
      machine,
      source,
      servers,
      summary: rows,
      targets,
      measurements: loadMeasurements,
      bigTree,
    };
    writeFileSync(opts.out, JSON.stringify(report, null, 2) + '\n');
    log(`wrote ${opts.out}`);
  }
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
}

/** Set on SIGINT/SIGTERM: what fails after it is the interrupt's doing, not worth a report. */
let interrupted = false;

main().catch(async (err: unknown) => {
  if (interrupted) return;
  process.stderr.write(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  await Promise.all([...liveServers].map((s) => s.dispose()));
  process.exit(1);
});
