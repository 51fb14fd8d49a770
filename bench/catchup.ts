/**
 * Catch-up of a follower of a replicated ensemble (`--ensemble N --workloads catchup`): a follower
 * gets SIGKILL, the leader takes `writes` creates of 100-byte znodes from one session of our
 * client (256 in flight, as the write workload keeps), then the follower is restarted on its data
 * dir (or, `catchup-wiped`, on a data dir holding only its myid). The measure is the time from the
 * restart to the moment it is back in sync: it answers srvr with `Mode: follower` and the Zxid the
 * leader answers at the same time, the leader's still being the one it had after the last write.
 * Each run uses a fresh ensemble, so that every run starts from the same state.
 */
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { loadOurClient } from './client-sessions.ts';
import type { BenchEnsemble } from './ensembles.ts';
import { processCpuSeconds } from './proc.ts';
import { REPO_ROOT, type ServerKind } from './servers.ts';
import { fmt, markdownTable, median, medianRatios } from './stats.ts';

export const CATCHUP_VARIANTS = ['kept', 'wiped'] as const;
export type CatchupVariant = (typeof CATCHUP_VARIANTS)[number];

export interface CatchupMeasurement {
  server: ServerKind;
  variant: CatchupVariant;
  run: number;
  /** The follower stopped and restarted. */
  follower: number;
  /** Creates acknowledged per second while the follower was down. */
  writesPerSec: number;
  /** From the restart to its first answer to srvr (serving or not). */
  answeringMs: number;
  /** To its first `Mode: follower`. */
  servingMs: number;
  /** To `Mode: follower` with the leader's Zxid; NaN if not within the limit. */
  ms: number;
  /** How it was brought up to date, from its log ('snapshot', 'diff', 'truncate', 'entries'). */
  sync: string;
  /** CPU seconds of the follower's process from its start to in sync, and of the leader's meanwhile. */
  followerCpuSeconds: number;
  leaderCpuSeconds: number;
  error?: string;
}

const CLIENT_MODULE = join(REPO_ROOT, 'dist/index.js');
const PARENT = '/bench-catchup';
const INFLIGHT = 256;
const POLL_MS = 10;
const LIMIT_MS = 300_000;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What a member's log says about how it synced: ZooKeeper's Learner lines, Ensemble's install. */
function syncSeen(output: string): string | null {
  if (/installing a snapshot from the leader|Getting a snapshot from leader/.test(output)) return 'snapshot';
  if (/Getting a diff from the leader/.test(output)) return 'diff';
  if (/Truncating log to get in sync/.test(output)) return 'truncate';
  return null;
}

/** `writes` creates through the leader alone, INFLIGHT outstanding; resolves with the rate. */
async function writeThroughLeader(ens: BenchEnsemble, leader: number, writes: number): Promise<number> {
  const { connect } = await loadOurClient(CLIENT_MODULE);
  const zk = await connect(ens.connectString([leader]), { sessionTimeoutMs: 30_000, connectTimeoutMs: 30_000 });
  try {
    await zk.create(PARENT).catch((err: unknown) => {
      if ((err as { codeName?: string }).codeName !== 'NODEEXISTS') throw err;
    });
    const payload = Buffer.alloc(100, 0x63);
    const started = performance.now();
    let next = 0;
    await Promise.all(Array.from({ length: INFLIGHT }, async () => {
      while (next < writes) await zk.create(`${PARENT}/n${next++}`, payload);
    }));
    return (writes * 1000) / (performance.now() - started);
  } finally {
    // Closing the session is a write too: it comes before the leader's zxid is read.
    await zk.close();
  }
}

/** One catch-up on a started ensemble whose members are all in sync. */
export async function measureCatchup(ens: BenchEnsemble, variant: CatchupVariant, run: number, writes: number): Promise<CatchupMeasurement> {
  const leader = await ens.leader();
  const followers = ens.ids.filter((id) => id !== leader);
  const follower = followers[run % followers.length];
  await ens.kill(follower);
  if (variant === 'wiped') await ens.wipe(follower);
  const writesPerSec = await writeThroughLeader(ens, leader, writes);
  const leaderZxid = (await ens.status(leader))?.zxid;
  if (leaderZxid === undefined) throw new Error(`${ens.kind}: leader ${leader} stopped serving during the writes`);
  const leaderCpuBefore = processCpuSeconds(ens.pid(leader)!);

  const restartedAt = performance.now();
  ens.startMember(follower);
  const pid = ens.pid(follower)!;
  let answeringMs = NaN;
  let servingMs = NaN;
  let ms = NaN;
  let error: string | undefined;
  let sync: string | null = null;
  for (;;) {
    const [answer, leaderStatus] = await Promise.all([ens.srvr(follower), ens.status(leader)]);
    const at = performance.now() - restartedAt;
    const mode = answer === null ? undefined : /^Mode: (\S+)/m.exec(answer)?.[1];
    if (answer !== null && Number.isNaN(answeringMs)) answeringMs = at;
    if (mode === 'follower' && Number.isNaN(servingMs)) servingMs = at;
    // Checked as it goes: the output kept is only its tail.
    sync ??= syncSeen(ens.output(follower));
    if (leaderStatus?.zxid !== leaderZxid) {
      error = `the leader's zxid moved from ${leaderZxid} to ${leaderStatus?.zxid ?? '(not serving)'}`;
      break;
    }
    if (mode === 'follower' && /^Zxid: (\S+)/m.exec(answer!)?.[1] === leaderZxid) {
      ms = at;
      break;
    }
    if (ens.pid(follower) === undefined) {
      error = `the follower exited\n${ens.output(follower)}`;
      break;
    }
    if (at > LIMIT_MS) {
      error = `not in sync within ${LIMIT_MS} ms (leader at ${leaderZxid}, follower answers ${JSON.stringify(answer)})`;
      break;
    }
    await sleep(POLL_MS);
  }
  const followerCpuSeconds = processCpuSeconds(pid);
  const leaderCpuSeconds = processCpuSeconds(ens.pid(leader)!) - leaderCpuBefore;
  return {
    server: ens.kind, variant, run, follower, writesPerSec, answeringMs, servingMs, ms, sync: sync ?? syncSeen(ens.output(follower)) ?? 'entries',
    followerCpuSeconds, leaderCpuSeconds,
    ...(error === undefined ? {} : { error }),
  };
}

export interface CatchupRow {
  variant: CatchupVariant;
  server: ServerKind;
  runs: number;
  failed: number;
  min: number;
  median: number;
  max: number;
  answeringMedian: number;
  servingMedian: number;
  followerCpuMedian: number;
  leaderCpuMedian: number;
  /** The sync paths seen, with their counts. */
  syncs: string;
}

export function summarizeCatchup(measurements: readonly CatchupMeasurement[]): CatchupRow[] {
  const rows: CatchupRow[] = [];
  for (const variant of CATCHUP_VARIANTS) {
    for (const server of ['zookeeper', 'ensemble'] as const) {
      const ms = measurements.filter((m) => m.variant === variant && m.server === server);
      if (ms.length === 0) continue;
      const ok = ms.filter((m) => Number.isFinite(m.ms));
      const times = ok.map((m) => m.ms).sort((a, b) => a - b);
      const counts = new Map<string, number>();
      for (const m of ms) counts.set(m.sync, (counts.get(m.sync) ?? 0) + 1);
      rows.push({
        variant, server, runs: ms.length, failed: ms.length - ok.length,
        min: times[0] ?? NaN, median: median(times), max: times[times.length - 1] ?? NaN,
        answeringMedian: median(ok.map((m) => m.answeringMs)), servingMedian: median(ok.map((m) => m.servingMs)),
        followerCpuMedian: median(ok.map((m) => m.followerCpuSeconds)), leaderCpuMedian: median(ok.map((m) => m.leaderCpuSeconds)),
        syncs: [...counts].map(([s, n]) => `${s} ×${n}`).join(', '),
      });
    }
  }
  return rows;
}

/** The ratio of the medians, Ensemble / ZooKeeper, per variant; the target is below 1×. */
export function catchupRatios(rows: readonly CatchupRow[]): { variant: CatchupVariant; ratio: number }[] {
  return medianRatios(rows, CATCHUP_VARIANTS, (r) => r.variant).map(({ kind, ratio }) => ({ variant: kind, ratio }));
}

export function renderCatchupTable(rows: readonly CatchupRow[]): string {
  const ratios = catchupRatios(rows);
  const header = [
    'follower data', 'system', 'runs', 'failed', 'min ms', 'median ms', 'max ms', 'median E/Z', 'target < 1×',
    'answers srvr ms', 'Mode: follower ms', 'follower CPU s', 'leader CPU s', 'synced by',
  ];
  const body = rows.map((r) => {
    const rt = ratios.find((x) => x.variant === r.variant)?.ratio ?? NaN;
    const first = r.server === 'zookeeper';
    return [
      r.variant, r.server === 'zookeeper' ? 'ZooKeeper' : 'Ensemble', String(r.runs), String(r.failed),
      fmt(r.min, 0), fmt(r.median, 0), fmt(r.max, 0),
      first ? '' : Number.isFinite(rt) ? `${fmt(rt, 2)}×` : '-',
      first ? '' : Number.isFinite(rt) ? (rt < 1 ? 'met' : 'not met') : '-',
      fmt(r.answeringMedian, 0), fmt(r.servingMedian, 0), fmt(r.followerCpuMedian, 1), fmt(r.leaderCpuMedian, 1), r.syncs,
    ];
  });
  return markdownTable(header, body, header.map((_, i) => (i >= 2 && i <= 7) || (i >= 9 && i <= 12)));
}
