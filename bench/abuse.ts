/**
 * The abuse bench: `node --import tsx bench/abuse.ts [--abuses LIST] [--servers LIST]
 * [--duration-ms N] [--scale X] [--out FILE]`.
 *
 * Each abuse runs on a fresh server of each kind (Apache ZooKeeper 3.8 and Ensemble, the same
 * zoo.cfg keys, fsync on, loopback), in turns. On each server a probe (bench/abuse-probe.ts) does
 * getData and setData of a small znode throughout: first on the idle server (its baseline), then
 * while the abuser (bench/abuse-attacker.ts, its own process) works, then for a while after it has
 * left. The report gives, per abuse and server, the probe's p99 during the abuse over its idle
 * p99, its longest wait during and after, the server's largest RSS, and whether anything was lost
 * (a probe error or lost session, a version that does not match the writes acknowledged, the
 * server gone).
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ABUSES, BIG_WRITE_PATH, FLOOD_PATH, type Abuse, type AttackReport } from './abuse-attacker.ts';
import { createBody, dataReplyVersion, getDataBody, Op, WireSession } from './abuse-wire.ts';
import { Probe, PROBE_PATH, type PhaseStats } from './abuse-probe.ts';
import { processRssBytes } from './proc.ts';
import { BenchServer, REPO_ROOT, type ServerKind } from './servers.ts';
import { fmt, markdownTable, ratio } from './stats.ts';

/** The probe's first requests (the server's code still cold) are not counted. */
const WARMUP_MS = 1_000;
const IDLE_MS = 4_000;
const AFTER_MS = 5_000;
/** The longest an abuser may take (the watch abuse runs until its watches are set). */
const ATTACK_LIMIT_MS = 180_000;
const RSS_SAMPLE_MS = 100;
/** The goals for Ensemble (docs/benchmarks.md, Abuse): p99 within 3× of idle, no wait over 150 ms. */
const GOAL_P99_RATIO = 3;
const GOAL_MAX_MS = 150;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  abuse: Abuse;
  server: ServerKind;
  idle: PhaseStats;
  during: PhaseStats;
  after: PhaseStats;
  rssIdleBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  attack: AttackReport | null;
  lost: string[];
}

/** Runs the abuser's process to its end; its report is the JSON line it prints. */
async function attack(abuse: Abuse, server: BenchServer, durationMs: number, scale: number): Promise<AttackReport | null> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/abuse-attacker.ts'), abuse, server.host, String(server.port), String(durationMs), String(scale)], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const limit = setTimeout(() => child.kill('SIGKILL'), ATTACK_LIMIT_MS);
  await new Promise((r) => child.once('exit', r));
  clearTimeout(limit);
  const line = out.trim().split('\n').pop() ?? '';
  if (line === '') {
    process.stderr.write(`abuser ${abuse} printed no report: ${err}\n`);
    return null;
  }
  return JSON.parse(line) as AttackReport;
}

async function znodeVersion(server: BenchServer, path: string): Promise<number | null> {
  const s = await WireSession.open(server.host, server.port, 10_000).catch(() => null);
  if (s === null) return null;
  const reply = await s.request(Op.getData, getDataBody(path)).catch(() => null);
  s.destroy();
  return reply === null || reply.err !== 0 ? null : dataReplyVersion(reply.body);
}

async function runOne(abuse: Abuse, kind: ServerKind, durationMs: number, scale: number): Promise<Row> {
  const server = await BenchServer.create(kind, { fsync: true, ensembleFrom: 'source' });
  try {
    await server.start(60_000);
    const setup = await WireSession.open(server.host, server.port, 10_000);
    for (const path of [PROBE_PATH, BIG_WRITE_PATH, FLOOD_PATH]) await setup.request(Op.create, createBody(path, Buffer.from('x')));
    setup.destroy();
    const pid = server.pid!;
    const probe = await Probe.start(server.host, server.port);
    await delay(WARMUP_MS);
    probe.endPhase();
    let rssMax = 0;
    const sampler = setInterval(() => (rssMax = Math.max(rssMax, processRssBytes(pid) || 0)), RSS_SAMPLE_MS);
    await delay(IDLE_MS);
    const idle = probe.endPhase();
    const rssIdle = processRssBytes(pid);
    rssMax = 0;
    const report = await attack(abuse, server, durationMs, scale);
    const during = probe.endPhase();
    await delay(AFTER_MS);
    const after = probe.endPhase();
    clearInterval(sampler);
    const rssEnd = processRssBytes(pid);
    const version = await probe.stop();
    const lost: string[] = [];
    if (!server.running()) lost.push('server exited');
    if (probe.lost !== null) lost.push(`probe session: ${probe.lost}`);
    if (probe.errors > 0) lost.push(`${probe.errors} probe errors`);
    if (version !== probe.acknowledgedWrites) lost.push(`probe znode version ${version}, ${probe.acknowledgedWrites} writes acknowledged`);
    if (abuse === 'big-writes' && report !== null) {
      const big = await znodeVersion(server, BIG_WRITE_PATH);
      if (big !== report.done) lost.push(`1 MB znode version ${big}, ${report.done} writes acknowledged`);
    }
    return { abuse, server: kind, idle, during, after, rssIdleBytes: rssIdle, rssMaxBytes: Math.max(rssMax, rssEnd || 0), rssEndBytes: rssEnd, attack: report, lost };
  } finally {
    await server.dispose();
  }
}

function table(rows: readonly Row[]): string {
  const mb = (b: number): string => fmt(b / 2 ** 20, 0);
  return markdownTable(
    ['abuse', 'server', 'idle p99 ms', 'during p99 ms', 'p99 / idle', 'max during ms', 'max after ms', 'RSS idle → max → end MB', 'abuser did', 'lost'],
    rows.map((r) => [
      r.abuse, r.server, fmt(r.idle.p99Ms), fmt(r.during.p99Ms), `${fmt(ratio(r.during.p99Ms, r.idle.p99Ms), 1)}×`,
      fmt(r.during.maxMs, 0), fmt(r.after.maxMs, 0), `${mb(r.rssIdleBytes)} → ${mb(r.rssMaxBytes)} → ${mb(r.rssEndBytes)}`,
      r.attack === null ? '(no report)' : `${r.attack.done}${r.attack.refused > 0 ? ` (${r.attack.refused} refused/closed)` : ''} in ${fmt(r.attack.ms / 1000, 1)} s`,
      r.lost.length === 0 ? 'nothing' : r.lost.join('; '),
    ]),
    [false, false, true, true, true, true, true, true, false, false],
  );
}

function goals(rows: readonly Row[]): string[] {
  return rows.filter((r) => r.server === 'ensemble').flatMap((r) => {
    const missed: string[] = [];
    const p99Ratio = ratio(r.during.p99Ms, r.idle.p99Ms);
    if (!(p99Ratio <= GOAL_P99_RATIO)) missed.push(`p99 ${fmt(p99Ratio, 1)}× idle`);
    const max = Math.max(r.during.maxMs, r.after.maxMs);
    if (!(max <= GOAL_MAX_MS)) missed.push(`a wait of ${fmt(max, 0)} ms`);
    if (r.lost.length > 0) missed.push('loss');
    return missed.length === 0 ? [] : [`${r.abuse}: ${missed.join(', ')}`];
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      abuses: { type: 'string', default: ABUSES.join(',') },
      servers: { type: 'string', default: 'ensemble,zookeeper' },
      'duration-ms': { type: 'string', default: '10000' },
      scale: { type: 'string', default: '1' },
      out: { type: 'string' },
    },
  });
  const abuses = values.abuses.split(',') as Abuse[];
  for (const a of abuses) if (!(ABUSES as readonly string[]).includes(a)) throw new Error(`unknown abuse ${a}: one of ${ABUSES.join(', ')}`);
  const servers = values.servers.split(',') as ServerKind[];
  const durationMs = Number(values['duration-ms']);
  const scale = Number(values.scale);
  const rows: Row[] = [];
  for (const [i, abuse] of abuses.entries()) {
    // Alternate which server goes first.
    const order = i % 2 === 0 ? servers : [...servers].reverse();
    for (const kind of order) {
      process.stderr.write(`${abuse} on ${kind}…\n`);
      rows.push(await runOne(abuse, kind, durationMs, scale));
    }
  }
  const text = [
    `abuses for ${fmt(durationMs / 1000, 1)} s (watches: until set), scale ${scale}; probe idle ${IDLE_MS / 1000} s, after ${AFTER_MS / 1000} s`,
    '',
    table(rows),
    '',
    `Ensemble's goals (p99 ≤ ${GOAL_P99_RATIO}× idle, no wait over ${GOAL_MAX_MS} ms, nothing lost): ${goals(rows).join('; ') || 'all met'}`,
  ].join('\n');
  process.stdout.write(text + '\n');
  if (values.out !== undefined) await writeFile(values.out, JSON.stringify({ durationMs, scale, rows }, null, 2));
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
