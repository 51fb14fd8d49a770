/**
 * `npm run bench`: Ensemble against Apache ZooKeeper 3.8 in the same run. Both servers run with
 * fsync on, each in its own process; separate load processes drive every workload against each
 * server in every round, the order rotating from round to round; the report gives each server's
 * median over the rounds, the spread, the ratio Ensemble / ZooKeeper, latency percentiles and the
 * CPU split.
 * `--baseline REV` adds Ensemble as built from an earlier commit as a third server, and the ratios
 * current / baseline.
 * `--ensemble N` runs both as replicated ensembles of N members instead, and adds failover.
 * `npm run bench -- --help` lists the options; docs/benchmarks.md explains the method.
 * This is not a test: `npm test` only runs test/**\/*.test.ts.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { buildBaseline, removeBaseline, type Baseline } from './baseline.ts';
import { BIG_TREE_SERVER_PROPERTIES, buildBigTree, restartToFirstReplyMs, type BigTree } from './big-tree.ts';
import { loadOurClient } from './client-sessions.ts';
import { catchupRatios, measureCatchup, renderCatchupTable, summarizeCatchup, type CatchupMeasurement, type CatchupVariant } from './catchup.ts';
import { BenchEnsemble } from './ensembles.ts';
import { FAILOVER_SIGNALS, failoverRatios, measureFailover, renderFailoverTable, stopHoldMs, summarizeFailover, type FailoverMeasurement } from './failover.ts';
import { LOAD_WORKLOADS, SUPPORTED_CLIENTS, type LoadClient, type LoadWorkload } from './load-protocol.ts';
import { liveLoadPids, runLoad, type LoadMeasurement, type LoadTarget } from './load-run.ts';
import { describeMachine, describeSource } from './machine.ts';
import { CATCHUP_WORKLOADS, FAILOVER, parseOptions, USAGE, type BenchOptions } from './options.ts';
import {
  ENSEMBLE_TARGETS, evaluateTargets, renderBaselineTable, renderDetailTable, renderFloorTable, renderSummaryTable, renderTargetTable, summarizeBigTree, summarizeLoad,
  type BigTreeMeasurement, type RoundMeasurement,
} from './report.ts';
import { BenchServer, REPO_ROOT, SERVER_KINDS, serverOrder, type ServerKind } from './servers.ts';
import { createWorkloadZnodes } from './setup.ts';
import { fmt } from './stats.ts';

const PAYLOAD = Buffer.alloc(100, 0x61);
const CLIENT_MODULE = join(REPO_ROOT, 'dist/index.js');

const log = (line: string): void => void process.stderr.write(`${line}\n`);

/** Servers created by this run, stopped (and their data deleted) at the end or on an interrupt. */
const liveServers = new Set<BenchServer>();
/** The same for the ensembles of `--ensemble`. */
const liveEnsembles = new Set<BenchEnsemble>();
/** Each server's command line as run (data dir and port elided), for the report, by server and role. */
const serverCommands = new Map<string, string>();
/** `--baseline`: the baseline of this run, once built. */
let baseline: Baseline | null = null;
/** The baseline's worktree from the moment it exists until it is removed. */
let liveWorktree: Baseline | null = null;

/** ZooKeeper, Ensemble, and the baseline if there is one. */
function comparedKinds(): ServerKind[] {
  return baseline === null ? [...SERVER_KINDS] : [...SERVER_KINDS, 'ensemble-baseline'];
}

/** How logs and tables name a server: the baseline as ensemble@<commit>. */
function serverName(kind: ServerKind): string {
  return kind === 'ensemble-baseline' && baseline !== null ? baseline.name : kind;
}

/** The server's name padded to the longest, for the progress lines. */
function paddedName(kind: ServerKind): string {
  return serverName(kind).padEnd(Math.max(9, baseline?.name.length ?? 0));
}

async function createServer(kind: ServerKind, role: 'load' | 'big tree', properties?: Readonly<Record<string, string>>): Promise<BenchServer> {
  const ensembleRoot = kind === 'ensemble-baseline' ? baseline?.dir : undefined;
  const server = await BenchServer.create(kind, { fsync: true, ensembleFrom: 'dist', properties, ensembleRoot });
  liveServers.add(server);
  const elided = (a: string): string => {
    const inWorktree = ensembleRoot === undefined ? a : a.replaceAll(ensembleRoot, '<baseline worktree>');
    return inWorktree.replaceAll(server.dir, '<dir>').replace(String(server.port), '<port>');
  };
  serverCommands.set(`${serverName(kind)}, ${role}`, server.command.map(elided).join(' '));
  return server;
}

async function disposeServer(server: BenchServer): Promise<void> {
  await server.dispose();
  liveServers.delete(server);
}

/** Both systems as ensembles of opts.ensemble members, started, with a leader. */
async function startEnsemble(kind: 'zookeeper' | 'ensemble' | 'ensemble-baseline', opts: BenchOptions, role: 'load' | 'failover' | 'catchup'): Promise<BenchEnsemble> {
  const root = kind === 'ensemble-baseline' ? baseline!.dir : undefined;
  // The catch-up reads from a follower's log how it was synced.
  const ensemble = await BenchEnsemble.create(kind, opts.ensemble, opts.timing, { zooKeeperLog: role === 'catchup', root });
  liveEnsembles.add(ensemble);
  const command = root === undefined ? ensemble.command : ensemble.command.replaceAll(root, '<baseline worktree>');
  serverCommands.set(`${serverName(kind)} (each of ${opts.ensemble} members), ${role}`, command);
  await ensemble.start();
  log(`${serverName(kind)}: ${opts.ensemble} members, pids ${ensemble.pids.join(' ')}, leader ${await ensemble.leader()}, on ${ensemble.connectString()}`);
  return ensemble;
}

async function disposeEnsemble(ensemble: BenchEnsemble): Promise<void> {
  await ensemble.dispose();
  liveEnsembles.delete(ensemble);
}

/** Stops the servers still running (deleting their data) and removes the baseline's worktree. */
async function cleanUp(): Promise<void> {
  await Promise.all([...liveServers].map(disposeServer));
  await Promise.all([...liveEnsembles].map(disposeEnsemble));
  const worktree = liveWorktree;
  liveWorktree = null;
  if (worktree !== null) await removeBaseline(worktree);
}

/** The workloads the no-logic server can answer (getData, setData, sessions). */
const FLOOR_WORKLOADS: readonly LoadWorkload[] = ['read', 'write', 'mixed', 'connect'];

const baselineNote = (name: string): string =>
  `The current Ensemble against ${name} (--baseline): E/base is current / baseline, of the row's metric and of server CPU per ` +
  'operation; about 1× on both is no regression (beyond the spread of the rounds).';

const FLOOR_NOTE = 'A server with no logic (--floor), beside both. It keeps nothing and syncs nothing: on write, mixed ' +
  'and connect (whose sessions both servers log and sync) it is a bound no durable server reaches.';

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
  const servers = new Map<ServerKind, LoadTarget>();
  const ensembles: BenchEnsemble[] = [];
  try {
    const { connect } = await loadOurClient(CLIENT_MODULE);
    const kinds: readonly ServerKind[] = opts.floor ? [...comparedKinds(), 'node-floor'] : comparedKinds();
    for (const kind of kinds) {
      let connectString: string;
      if (opts.ensemble > 0 && kind !== 'node-floor') {
        const ensemble = await startEnsemble(kind, opts, 'load');
        ensembles.push(ensemble);
        servers.set(kind, ensemble);
        connectString = ensemble.connectString();
      } else {
        const server = await createServer(kind, 'load');
        servers.set(kind, server);
        await server.start();
        log(`${serverName(kind)}: pid ${server.pid} on ${server.connectString}`);
        connectString = server.connectString;
      }
      if (kind === 'node-floor') continue;
      const zk = await connect(connectString);
      await createWorkloadZnodes(zk, PAYLOAD, workloads.includes('get-children') ? opts.children : 0);
      await zk.close();
    }
    // Every member has the workloads' znodes before a load process reads them there.
    for (const ensemble of ensembles) await ensemble.waitCaughtUp();
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
            log(`${warmup ? 'warm-up round' : `round ${round}/${opts.rounds}`} ${workload} (${client}) ${paddedName(kind)} ${describeMeasurement(m)}  (load avg ${loadavg()[0].toFixed(2)})`);
          }
        }
      }
    }
  } finally {
    for (const server of servers.values()) {
      if (server instanceof BenchEnsemble) await disposeEnsemble(server);
      else await disposeServer(server as BenchServer);
    }
  }
  return measurements;
}

async function runBigTreeWorkloads(opts: BenchOptions): Promise<BigTreeMeasurement[]> {
  const trees = new Map<ServerKind, BigTree>();
  const kinds = comparedKinds();
  try {
    for (const kind of kinds) {
      log(`${serverName(kind)}: loading ${opts.bigTreeZnodes.toLocaleString('en-US')} znodes of ${PAYLOAD.length} bytes…`);
      const server = await createServer(kind, 'big tree', BIG_TREE_SERVER_PROPERTIES);
      try {
        trees.set(kind, await buildBigTree(server, opts.bigTreeZnodes, PAYLOAD, CLIENT_MODULE));
      } catch (err) {
        await disposeServer(server);
        throw err;
      }
      const tree = trees.get(kind)!;
      log(`${serverName(kind)}: loaded in ${fmt(tree.loadSeconds, 1)} s; RSS ${fmt(tree.rssBeforeBytes / 2 ** 20, 0)} → ${fmt(tree.rssAfterBytes / 2 ** 20, 0)} MiB, ${fmt(tree.rssBytesPerZnode, 0)} bytes/znode`);
    }
    const startupMs = new Map<ServerKind, number[]>(kinds.map((k) => [k, []]));
    if (opts.workloads.includes('startup')) {
      for (let round = 1; round <= opts.rounds; round++) {
        for (const kind of serverOrder(round, kinds)) {
          const ms = await restartToFirstReplyMs(trees.get(kind)!, CLIENT_MODULE);
          startupMs.get(kind)!.push(ms);
          log(`round ${round}/${opts.rounds} startup ${paddedName(kind)} ${fmt(ms, 0)} ms from spawn to the first reply`);
        }
      }
    }
    return kinds.map((kind) => {
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

/**
 * `--workloads failover`: both ensembles up side by side; for each signal, opts.kills failovers
 * of each, alternating which system goes first.
 */
async function runFailovers(opts: BenchOptions): Promise<FailoverMeasurement[]> {
  const measurements: FailoverMeasurement[] = [];
  const ensembles = new Map<ServerKind, BenchEnsemble>();
  try {
    for (const kind of SERVER_KINDS) ensembles.set(kind, await startEnsemble(kind as 'zookeeper' | 'ensemble', opts, 'failover'));
    // A system whose run threw (its members not back, say) runs no more: its state is unknown.
    const broken = new Set<ServerKind>();
    for (const signal of FAILOVER_SIGNALS) {
      for (let run = 1; run <= opts.kills; run++) {
        for (const kind of serverOrder(run, [...ensembles.keys()])) {
          if (broken.has(kind)) continue;
          const m = await measureFailover(ensembles.get(kind)!, signal, run).catch((err: unknown): FailoverMeasurement => {
            broken.add(kind);
            return { server: kind, signal, run, leader: 0, ms: NaN, writesPerSecBefore: NaN, error: err instanceof Error ? err.message : String(err) };
          });
          measurements.push(m);
          log(`failover ${signal} ${run}/${opts.kills} ${paddedName(kind)} leader ${m.leader}: ${fmt(m.ms, 0)} ms to the first write after the signal ` +
            `(${fmt(m.writesPerSecBefore, 0)} writes/s before)${m.error === undefined ? '' : ` FAILED: ${m.error}`}  (load avg ${loadavg()[0].toFixed(2)})`);
        }
      }
    }
  } finally {
    for (const ensemble of ensembles.values()) await disposeEnsemble(ensemble);
  }
  return measurements;
}

/**
 * `--workloads catchup,catchup-wiped`: for each variant, opts.catchups catch-ups of each system,
 * alternating which goes first, each on a fresh ensemble (only the one measured is up).
 */
async function runCatchups(opts: BenchOptions): Promise<CatchupMeasurement[]> {
  const measurements: CatchupMeasurement[] = [];
  const variants: CatchupVariant[] = CATCHUP_WORKLOADS.filter((w) => opts.workloads.includes(w)).map((w) => (w === 'catchup' ? 'kept' : 'wiped'));
  for (const variant of variants) {
    for (let run = 1; run <= opts.catchups; run++) {
      for (const kind of serverOrder(run, [...SERVER_KINDS])) {
        const ensemble = await startEnsemble(kind as 'zookeeper' | 'ensemble', opts, 'catchup');
        try {
          const m = await measureCatchup(ensemble, variant, run, opts.catchupWrites).catch((err: unknown): CatchupMeasurement => ({
            server: kind, variant, run, follower: 0, writesPerSec: NaN, answeringMs: NaN, servingMs: NaN, ms: NaN, sync: '-',
            followerCpuSeconds: NaN, leaderCpuSeconds: NaN, error: err instanceof Error ? err.message : String(err),
          }));
          measurements.push(m);
          log(`catchup ${variant} ${run}/${opts.catchups} ${paddedName(kind)} follower ${m.follower}: ${fmt(m.ms, 0)} ms to in sync ` +
            `(answers srvr at ${fmt(m.answeringMs, 0)} ms, follower at ${fmt(m.servingMs, 0)} ms; synced by ${m.sync}; CPU s follower ${fmt(m.followerCpuSeconds, 1)} ` +
            `leader ${fmt(m.leaderCpuSeconds, 1)}; ${fmt(m.writesPerSec, 0)} creates/s before)${m.error === undefined ? '' : ` FAILED: ${m.error}`}  (load avg ${loadavg()[0].toFixed(2)})`);
        } finally {
          await disposeEnsemble(ensemble);
        }
      }
    }
  }
  return measurements;
}

/** The lines under the tables: how the run was set up, and what did not run. */
function notes(opts: BenchOptions, loadMeasurements: readonly RoundMeasurement[]): string[] {
  const lines: string[] = [];
  const sessions = opts.procs * opts.sessionsPerProc;
  if (opts.ensemble > 0) {
    const t = opts.timing;
    lines.push(
      `Replicated: ${opts.ensemble}-member ensembles of both on loopback, tickTime=${t.tickTimeMs} initLimit=${t.initLimit} syncLimit=${t.syncLimit}, ` +
        `forceSync on; load process i connects to member i mod ${opts.ensemble} only; server CPU is the sum over the members.`,
    );
  }
  const window = opts.opsTarget === null ? `${opts.durationMs / 1000} s windows` : `windows of at least ${opts.opsTarget} ops`;
  if (loadMeasurements.length > 0) lines.push(
    `${opts.procs} load processes × ${opts.sessionsPerProc} sessions, ${opts.inflightTotal} requests in flight in total ` +
      `(${Math.max(1, Math.round(opts.inflightTotal / sessions))} per session), ${opts.warmupMs / 1000} s warm-up, ${window}, ` +
      `median of ${opts.rounds} round(s)${opts.serverWarmupMs > 0 ? ` after a discarded warm-up round (${opts.serverWarmupMs / 1000} s of every workload on each server)` : ''}; ` +
      '100-byte znodes; every server fsyncs every commit.',
  );
  if (baseline !== null) {
    lines.push(`${baseline.name}: Ensemble as built from ${baseline.rev} (${baseline.commit} "${baseline.subject}"), configured as the current one, in every round.`);
  }
  if (opts.quick) lines.push('QUICK RUN: a smoke test of the instrument, not a measurement.');
  const watch = (kind: ServerKind): string => {
    const ms = loadMeasurements.filter((m) => m.workload === 'watch' && m.server === kind);
    if (ms.length === 0) return '';
    const med = (f: (m: LoadMeasurement) => number | undefined): string => fmt(ms.map((m) => f(m) ?? NaN).sort((a, b) => a - b)[ms.length >> 1], 0);
    return `${serverName(kind)} p50 ${med((m) => m.replyToEventP50Us)} µs, p99 ${med((m) => m.replyToEventP99Us)} µs`;
  };
  if (loadMeasurements.some((m) => m.workload === 'watch')) {
    lines.push(
      `watch: latency from B sending setData to A's event. A's event minus B's reply: ${comparedKinds().map(watch).join('; ')} ` +
        '(negative: the event came before the writer\'s reply, as both servers send it first).',
    );
  }
  if (opts.ensemble > 0) {
    if (opts.workloads.includes(FAILOVER)) {
      lines.push(
        `failover: ${opts.kills} runs per signal and system; one session of our client, 8 setData in flight, through the members other than the leader; ` +
          `time from the signal to the first write acknowledged among those issued after it; a SIGSTOPped leader is continued after ${stopHoldMs(opts.timing) / 1000} s at least.`,
      );
    } else lines.push('failover: not run (--workloads failover).');
    if (CATCHUP_WORKLOADS.some((w) => opts.workloads.includes(w))) {
      lines.push(
        `catchup: ${opts.catchups} runs per variant and system, each on a fresh ensemble; a follower SIGKILLed, ${opts.catchupWrites.toLocaleString('en-US')} creates of ` +
          `100 bytes through the leader (one session, 256 in flight), the follower restarted on its data dir (kept) or on its myid alone (wiped); ` +
          'time from the restart to srvr answering Mode: follower with the leader\'s Zxid.',
      );
    } else lines.push('catchup: not run (--workloads catchup,catchup-wiped).');
  } else if (opts.bigTreeZnodes === 0) lines.push('startup and memory: not run (they need --big, or --znodes N).');
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
    void cleanUp().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const startedAt = performance.now();
  if (opts.baseline !== null) {
    log(`baseline: building ${opts.baseline} in a temporary worktree…`);
    baseline = await buildBaseline(opts.baseline, (worktree) => (liveWorktree = worktree));
    log(`baseline: ${baseline.name} "${baseline.subject}" built in ${baseline.dir}`);
  }
  const loadWorkloads = LOAD_WORKLOADS.filter((w) => opts.workloads.includes(w));
  const loadMeasurements = loadWorkloads.length > 0 ? await runLoadWorkloads(opts, loadWorkloads) : [];
  const bigTree = opts.bigTreeZnodes > 0 ? await runBigTreeWorkloads(opts) : [];
  const failovers = opts.workloads.includes(FAILOVER) ? await runFailovers(opts) : [];
  const catchups = CATCHUP_WORKLOADS.some((w) => opts.workloads.includes(w)) ? await runCatchups(opts) : [];
  await cleanUp();
  const durationSeconds = (performance.now() - startedAt) / 1000;

  const rows = [...summarizeLoad(loadMeasurements), ...summarizeBigTree(bigTree, opts.workloads)];
  const targets = opts.ensemble > 0 ? evaluateTargets(rows, ENSEMBLE_TARGETS) : evaluateTargets(rows);
  const failoverRows = summarizeFailover(failovers);
  const catchupRows = summarizeCatchup(catchups);
  const servers = Object.fromEntries(serverCommands);

  const out = [
    '',
    `Ensemble / Apache ZooKeeper 3.8${opts.ensemble > 0 ? `, ${opts.ensemble}-member ensembles` : ''} — ${new Date().toISOString()}, ${Math.round(durationSeconds)} s`,
    ...notes(opts, loadMeasurements),
    '',
    ...(rows.length > 0 ? [renderSummaryTable(rows), ''] : []),
    ...(failoverRows.length > 0 ? [renderFailoverTable(failoverRows), ''] : []),
    ...(catchupRows.length > 0 ? [renderCatchupTable(catchupRows), ''] : []),
    ...(baseline !== null ? [baselineNote(baseline.name), '', renderBaselineTable(rows, baseline.name), ''] : []),
    ...(loadMeasurements.length > 0 ? [renderDetailTable(rows, baseline?.name), ''] : []),
    ...(rows.some((r) => r.floor) ? [FLOOR_NOTE, '', renderFloorTable(rows), ''] : []),
    ...(rows.length > 0 ? [renderTargetTable(targets), ''] : []),
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
      baseline: baseline === null ? null : { rev: baseline.rev, commit: baseline.commit, subject: baseline.subject, name: baseline.name },
      servers,
      summary: rows,
      targets,
      measurements: loadMeasurements,
      bigTree,
      ...(failovers.length > 0 ? { failover: { rows: failoverRows, ratios: failoverRatios(failoverRows), measurements: failovers } } : {}),
      ...(catchups.length > 0 ? { catchup: { rows: catchupRows, ratios: catchupRatios(catchupRows), measurements: catchups } } : {}),
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
  await cleanUp();
  process.exit(1);
});
