/** The command line of `npm run bench`. */
import { parseArgs } from 'node:util';
import { DEFAULT_TIMING, type EnsembleTiming } from './ensembles.ts';
import { LOAD_CLIENTS, LOAD_WORKLOADS, type LoadClient, type LoadWorkload } from './load-protocol.ts';

export const BIG_TREE_WORKLOADS = ['startup', 'memory'] as const;
export type BigTreeWorkload = (typeof BIG_TREE_WORKLOADS)[number];
/** With --ensemble only: the leader killed (SIGKILL), then stopped (SIGSTOP), under writes. */
export const FAILOVER = 'failover';
/** With --ensemble only: a follower killed, writes, the follower restarted on its data (or on none) and timed to in sync. */
export const CATCHUP_WORKLOADS = ['catchup', 'catchup-wiped'] as const;
export type CatchupWorkload = (typeof CATCHUP_WORKLOADS)[number];
const ENSEMBLE_ONLY: readonly string[] = [FAILOVER, ...CATCHUP_WORKLOADS];
export type Workload = LoadWorkload | BigTreeWorkload | typeof FAILOVER | CatchupWorkload;
export const WORKLOADS: readonly Workload[] = [...LOAD_WORKLOADS, ...BIG_TREE_WORKLOADS, FAILOVER, ...CATCHUP_WORKLOADS];

export const BIG_ZNODES = 1_000_000;

export const USAGE = `usage: npm run bench -- [options]

Apache ZooKeeper 3.8 and Ensemble, each in its own process with fsync on, loaded in turn by the
same load processes; every workload runs against each server in every round, in an order that
rotates from round to round.

  --workloads LIST   ${WORKLOADS.join(',')}
                     (default: all but startup,memory, which need --big or --znodes)
  --clients LIST     run these load clients on every workload that supports them, out of
                     ${LOAD_CLIENTS.join(', ')} (raw-socket: no library, reads only
                     error codes). Default: our client everywhere, node-zookeeper-client on
                     read and write, raw-socket on read, write and get-children
  --rounds N         rounds (default 3); each cell is the median over them
  --procs N          load processes (default 2)
  --sessions N       sessions per load process (default 4)
  --inflight N       requests outstanding in total, spread evenly over all sessions (default 256)
  --duration S       measured window per measurement, seconds (default 5)
  --ops N            instead of --duration: a window of at least N operations
  --warmup S         load before the window opens, seconds (default 2)
  --server-warmup S  a discarded round 0 before the measured ones: S seconds of every workload on
                     both servers, so that both (the JVM's JIT above all) are warm (default 3;
                     0 skips it)
  --children N       children of the get-children znode (default 10000)
  --big              startup and memory with 1,000,000 znodes (slow: minutes)
  --znodes N         startup and memory with N znodes
  --quick            a smoke run: 1 round, 0.3 s warm-up, 0.5 s windows, no round 0 (explicit
                     options win)
  --floor            also load a server with no logic (bench/floor-server.ts) on read, write,
                     mixed and connect: what Node and the kernel alone cost per operation here
  --baseline REV     also run Ensemble as built from git revision REV (checked out and compiled in
                     a temporary worktree, removed at the end), named ensemble@<commit>, with the
                     same configuration, in every round beside the others; the report adds its
                     figures and the current / baseline ratios of throughput and server CPU per op
  --out FILE         also write every measurement and the summary as JSON

Replicated (docs/benchmarks.md, "Replicated ensemble"):

  --ensemble N       an ensemble of N members of each (loopback, own ports and data dirs) instead
                     of standalone servers; server CPU is summed over the members. Load process i
                     connects to member i mod N only (default --procs N). Default workloads
                     read,write; default client ours. With --baseline, the baseline runs as a
                     third ensemble on the load workloads. Not with --floor, --big
  --workloads failover
                     with --ensemble: under writes through the other members, the leader is
                     SIGKILLed (then restarted), and in a second series SIGSTOPped (then
                     continued); time from the signal to the first write acknowledged after it
  --kills N          failovers per signal and system (default 10)
  --workloads catchup,catchup-wiped
                     with --ensemble: on a fresh ensemble per run, a follower is SIGKILLed,
                     the leader takes --catchup-writes creates of 100 bytes (256 in flight),
                     the follower is restarted on its data dir (catchup-wiped: on a data dir
                     holding only its myid); time from the restart to srvr saying follower
                     with the leader's Zxid
  --catchups N       catch-ups per variant and system (default 3)
  --catchup-writes N creates while the follower is down (default 100000, ZooKeeper's and
                     Ensemble's default snapCount)
  --tick-time MS     tickTime of both ensembles (default 2000)
  --init-limit N     initLimit, in ticks (default 10)
  --sync-limit N     syncLimit, in ticks (default 5)
`;

export interface BenchOptions {
  workloads: Workload[];
  /** Load clients asked for; null: each workload's default ones. */
  clients: LoadClient[] | null;
  rounds: number;
  procs: number;
  sessionsPerProc: number;
  inflightTotal: number;
  durationMs: number;
  opsTarget: number | null;
  warmupMs: number;
  /** Windows of the discarded round 0; 0: no round 0. */
  serverWarmupMs: number;
  children: number;
  /** Znodes of the startup and memory workloads; 0 when they do not run. */
  bigTreeZnodes: number;
  quick: boolean;
  /** Also measure the no-logic server (bench/floor-server.ts). */
  floor: boolean;
  /** The git revision to build the baseline Ensemble from; null: no baseline. */
  baseline: string | null;
  out: string | null;
  /** Members of each ensemble; 0: standalone servers. */
  ensemble: number;
  /** Failovers per signal and system. */
  kills: number;
  /** Catch-ups per variant and system, and the writes each makes while its follower is down. */
  catchups: number;
  catchupWrites: number;
  timing: EnsembleTiming;
}

/** The options, or null when only the usage was asked for. */
export function parseOptions(argv: readonly string[]): BenchOptions | null {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      workloads: { type: 'string' },
      clients: { type: 'string' },
      rounds: { type: 'string' },
      procs: { type: 'string' },
      sessions: { type: 'string' },
      inflight: { type: 'string' },
      duration: { type: 'string' },
      ops: { type: 'string' },
      warmup: { type: 'string' },
      'server-warmup': { type: 'string' },
      children: { type: 'string' },
      big: { type: 'boolean', default: false },
      znodes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      floor: { type: 'boolean', default: false },
      baseline: { type: 'string' },
      out: { type: 'string' },
      ensemble: { type: 'string' },
      kills: { type: 'string' },
      catchups: { type: 'string' },
      'catchup-writes': { type: 'string' },
      'tick-time': { type: 'string' },
      'init-limit': { type: 'string' },
      'sync-limit': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) return null;
  const quick = values.quick;
  const number = (name: string, v: string | undefined, fallback: number, min: number, integer = true): number => {
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${v}"`);
    return n;
  };
  const list = <T extends string>(name: string, v: string, allowed: readonly T[]): T[] => {
    const items = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const s of items) if (!allowed.includes(s as T)) throw new Error(`--${name}: "${s}" is not one of ${allowed.join(', ')}`);
    if (items.length === 0) throw new Error(`--${name} is empty`);
    return allowed.filter((a) => items.includes(a));
  };

  const ensemble = number('ensemble', values.ensemble, 0, 0);
  if (ensemble > 0) {
    if (ensemble < 3) throw new Error('--ensemble: at least 3 members');
    if (values.floor || values.big || values.znodes !== undefined) throw new Error('--ensemble runs without --floor, --big and --znodes');
    const workloadsGiven = values.workloads?.split(',').map((w) => w.trim()) ?? [];
    if (values.baseline !== undefined && workloadsGiven.some((w) => ENSEMBLE_ONLY.includes(w))) throw new Error('--baseline with --ensemble: load workloads only (not failover or catch-up)');
  }
  let bigTreeZnodes = number('znodes', values.znodes, values.big ? BIG_ZNODES : 0, 1);
  let workloads: Workload[];
  if (ensemble > 0) {
    workloads = values.workloads === undefined ? ['read', 'write'] : list('workloads', values.workloads, WORKLOADS);
    if (workloads.some((w) => (BIG_TREE_WORKLOADS as readonly string[]).includes(w))) throw new Error('--ensemble: no startup or memory workloads');
  } else if (values.workloads === undefined) {
    workloads = WORKLOADS.filter((w) => !ENSEMBLE_ONLY.includes(w) && (bigTreeZnodes > 0 || !(BIG_TREE_WORKLOADS as readonly string[]).includes(w)));
  } else {
    workloads = list('workloads', values.workloads, WORKLOADS);
    if (bigTreeZnodes === 0 && workloads.some((w) => (BIG_TREE_WORKLOADS as readonly string[]).includes(w))) bigTreeZnodes = BIG_ZNODES;
  }
  if (!workloads.some((w) => (BIG_TREE_WORKLOADS as readonly string[]).includes(w))) bigTreeZnodes = 0;
  const ensembleOnly = workloads.find((w) => ENSEMBLE_ONLY.includes(w));
  if (ensemble === 0 && ensembleOnly !== undefined) throw new Error(`--workloads ${ensembleOnly} needs --ensemble N`);
  return {
    workloads,
    clients: values.clients === undefined ? (ensemble > 0 ? ['ensemble'] : null) : list('clients', values.clients, LOAD_CLIENTS),
    rounds: number('rounds', values.rounds, quick ? 1 : 3, 1),
    procs: number('procs', values.procs, ensemble > 0 ? ensemble : 2, 1),
    sessionsPerProc: number('sessions', values.sessions, 4, 1),
    inflightTotal: number('inflight', values.inflight, 256, 1),
    durationMs: number('duration', values.duration, quick ? 0.5 : 5, 0.1, false) * 1000,
    opsTarget: values.ops === undefined ? null : number('ops', values.ops, 0, 1),
    warmupMs: number('warmup', values.warmup, quick ? 0.3 : 2, 0, false) * 1000,
    serverWarmupMs: number('server-warmup', values['server-warmup'], quick ? 0 : 3, 0, false) * 1000,
    children: number('children', values.children, 10_000, 0),
    bigTreeZnodes,
    quick,
    floor: values.floor,
    baseline: values.baseline ?? null,
    out: values.out ?? null,
    ensemble,
    kills: number('kills', values.kills, 10, 1),
    catchups: number('catchups', values.catchups, 3, 1),
    catchupWrites: number('catchup-writes', values['catchup-writes'], 100_000, 1),
    timing: {
      tickTimeMs: number('tick-time', values['tick-time'], DEFAULT_TIMING.tickTimeMs, 1),
      initLimit: number('init-limit', values['init-limit'], DEFAULT_TIMING.initLimit, 1),
      syncLimit: number('sync-limit', values['sync-limit'], DEFAULT_TIMING.syncLimit, 1),
    },
  };
}
