/**
 * Crash test: a write the server acknowledged is never lost, whatever the moment the server dies.
 *
 * One data dir for the whole test. Each round starts a writer process (crash-writer.ts) against the
 * server process (`bin/ensemble.js server`, forceSync on), lets it write for a random 50–600 ms,
 * SIGKILLs the server, stops the writer, checks the log files on disk, restarts the server on the
 * same data dir and checks every acknowledged write with a fresh client:
 *
 * - each worker znode: version ≥ the last acknowledged one and ≤ the last one issued (a write in
 *   flight at the kill may or may not have been applied), data exactly what the writer wrote for
 *   that version, mzxid ≥ the acknowledged one (equal when the version is the acknowledged one);
 * - each acknowledged sequential create still there (unless its delete was acknowledged), with its
 *   data and czxid; a node whose delete was acknowledged gone; no node that the writer did not
 *   issue;
 * - the ephemerals created in the round still there (their sessions are recovered) while the
 *   sessions cannot have expired yet, owned by the same session; in some rounds, every ephemeral
 *   gone once the recovered sessions have had time to expire;
 * - on disk (read while the server is dead): the log segments hold every zxid once, from 1 on (no
 *   purge here), with no gap, up to at least every acknowledged zxid; only the newest segment may
 *   end torn or hold no record; every snapshot reads back and the log reaches its endZxid.
 *
 * The state accumulates over the rounds. Each start of the server draws snapCount and preAllocSize
 * (the segment size), so that fuzzy snapshots and segment rolls happen under the writer too. The
 * next round's writer is spawned while the server restarts and gets the port on stdin once it is
 * up. A clean stop (SIGTERM) and one more check end the test.
 *
 * The seed (ENSEMBLE_CRASH_SEED to replay one; the kill moments are timing, so a replay is close
 * but not identical) is in every failure message. ENSEMBLE_CRASH_ROUNDS changes the number of
 * rounds (default 20); ENSEMBLE_CRASH_VERBOSE=1 prints each round as it ends, with its timings.
 */
import { test, type TestContext } from 'node:test';
import { AssertionError } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, NoNodeError, type Logger, type ZooKeeperClient } from '../../src/index.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { readSnapshot } from '../../src/server/storage/snapshot.ts';
import { scanSegment } from '../../src/server/storage/segment.ts';
import { freePort } from '../support/ports.ts';
import {
  EPH, isSeqData, parseValue, prng, ROOT, SEQ, valueData, workerPath, type WriterLine,
} from './crash-model.ts';

const REPO = resolve(import.meta.dirname, '../..');
const BIN = join(REPO, 'bin/ensemble.js');
const WRITER = join(import.meta.dirname, 'crash-writer.ts');

const ROUNDS = Number(process.env.ENSEMBLE_CRASH_ROUNDS ?? 20);
const SEED = process.env.ENSEMBLE_CRASH_SEED !== undefined ? Number(process.env.ENSEMBLE_CRASH_SEED) >>> 0 : Math.floor(Math.random() * 2 ** 32);
const SESSIONS = 4;
const WORKERS_PER_SESSION = 4;
const WORKERS = SESSIONS * WORKERS_PER_SESSION;
/** tickTime=500: sessions may be 1000 ms..maxSessionTimeout. */
const TICK_MS = 500;
const SESSION_TIMEOUT_MS = 3000;
/** How late after its due time a session's expiry may be seen (a busy machine's delays). */
const EXPIRY_SLACK_MS = 15_000;
/** maxSessionTimeout: far above the sessions' own, so that expiring by the wrong timeout shows. */
const MAX_SESSION_TIMEOUT_MS = 60_000;
/** Rounds that wait, after the restart, for every recovered writer session to expire. */
const EXPIRY_ROUNDS = new Set([Math.ceil(ROUNDS / 2), ROUNDS]);
/** jute.maxbuffer plus the slack the server allows a record (src/server/index.ts storageOptions). */
const MAX_RECORD_BYTES = 0xfffff + 1024 * 1024;

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** A timeout to race against: it does not keep the process alive once the race is decided. */
const deadlineIn = (ms: number): Promise<'timeout'> => new Promise((r) => setTimeout(() => r('timeout'), ms).unref());

let where = 'setup';
/** Fails with the seed and the round in the message, so that the run can be replayed. */
function fail(msg: string): never {
  throw new AssertionError({ message: `[crash seed=${SEED} ${where}] ${msg}` });
}
function check(cond: unknown, msg: () => string): asserts cond {
  if (!cond) fail(msg());
}

// ---- processes ----

const live = new Set<ChildProcess>();

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

function track(child: ChildProcess): Promise<Exit> {
  live.add(child);
  return new Promise((done) => child.once('exit', (code, signal) => {
    live.delete(child);
    done({ code, signal });
  }));
}

function killNow(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Waits for the exit; after `ms`, SIGKILLs it. */
async function exitWithin(child: ChildProcess, exited: Promise<Exit>, ms: number): Promise<Exit & { killed: boolean }> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  const first = await Promise.race([exited, timedOut]);
  clearTimeout(timer);
  if (first !== 'timeout') return { ...first, killed: false };
  killNow(child, 'SIGKILL');
  return { ...(await exited), killed: true };
}

interface ServerProc {
  child: ChildProcess;
  port: number;
  exited: Promise<Exit>;
  /** When it was started: its recovered sessions got their fresh timers after that. */
  spawnedAt: number;
  /** When it logged that it listens (its recovered sessions got their fresh timers before that). */
  readyAt: number;
  log: string[];
  props: string[];
}

async function startServerProc(dataDir: string, props: string[]): Promise<ServerProc> {
  const port = await freePort();
  const spawnedAt = Date.now();
  const args = [BIN, 'server', '--port', String(port), '--data-dir', dataDir];
  for (const p of props) args.push('--property', p);
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ENSEMBLE_LOG_LEVEL: 'info' } });
  const exited = track(child);
  const log: string[] = [];
  let listening: () => void = () => {};
  const ready = new Promise<void>((r) => (listening = r));
  for (const stream of [child.stdout!, child.stderr!]) {
    createInterface({ input: stream }).on('line', (line) => {
      log.push(line);
      if (log.length > 400) log.splice(0, 100);
      if (/listening on/.test(line)) listening();
    });
  }
  const outcome = await Promise.race([
    ready.then(() => 'ready' as const),
    exited.then((e) => e),
    deadlineIn(60_000),
  ]);
  if (outcome !== 'ready') {
    killNow(child, 'SIGKILL');
    fail(`the server did not start on ${dataDir} (${outcome === 'timeout' ? 'timed out' : `exit ${JSON.stringify(outcome)}`}); its output:\n${log.join('\n')}`);
  }
  return { child, port, exited, spawnedAt, readyAt: Date.now(), log, props };
}

// ---- the model of what was acknowledged ----

interface WorkerModel {
  /** The version last acknowledged (or read back), and its mzxid. */
  acked: number;
  ackedMzxid: number;
  /** The highest version a setData was issued for. */
  issued: number;
}

interface SeqModel {
  data: string;
  czxid: number;
  /** live: its create was acknowledged (or it was read back); deleting: a delete was issued, not acknowledged. */
  state: 'live' | 'deleting' | 'deleted';
}

interface EphModel {
  round: number;
  owner: string;
  czxid: number;
}

interface Model {
  workers: WorkerModel[];
  seq: Map<string, SeqModel>;
  eph: Map<string, EphModel>;
}

interface RoundLog {
  round: number;
  writerSeed: number;
  sessions: Map<number, { id: string; timeoutMs: number; ended: boolean }>;
  /** Sequential creates issued and not acknowledged (by data). */
  pendingCreates: Set<string>;
  pendingEph: Map<string, number>;
  acks: number;
  fails: number;
  anomalies: string[];
  /** Largest zxid in an acknowledgement (each must be in the log). */
  maxAckedZxid: number;
  ready: boolean;
  lines: number;
}

function applyLine(model: Model, rl: RoundLog, line: WriterLine): void {
  rl.lines++;
  switch (line.t) {
    case 'session':
      rl.sessions.set(line.s, { id: line.id, timeoutMs: line.timeoutMs, ended: false });
      return;
    case 'state': {
      const s = rl.sessions.get(line.s);
      if (s && (line.state === 'Expired' || line.state === 'Closed' || line.state === 'AuthFailed')) s.ended = true;
      return;
    }
    case 'start': {
      const m = model.workers[line.w];
      check(line.version === m.acked && line.mzxid === m.ackedMzxid,
        () => `writer read /crash/w${line.w} at version ${line.version} mzxid ${line.mzxid}, the check before saw version ${m.acked} mzxid ${m.ackedMzxid}`);
      return;
    }
    case 'ready':
      rl.ready = true;
      return;
    case 'fail':
      rl.fails++;
      return;
    case 'anomaly':
      rl.anomalies.push(JSON.stringify(line));
      return;
    case 'issue':
      switch (line.op) {
        case 'set': {
          const m = model.workers[line.w];
          check(line.version === m.issued + 1 && line.data === valueData(line.w, line.version),
            () => `writer issued version ${line.version} of /crash/w${line.w} after ${m.issued}`);
          m.issued = line.version;
          return;
        }
        case 'create':
          rl.pendingCreates.add(line.data);
          return;
        case 'delete': {
          const n = model.seq.get(line.path);
          check(n !== undefined && n.state === 'live', () => `writer deletes ${line.path}, which the model has as ${n ? n.state : 'unknown'}`);
          n.state = 'deleting';
          return;
        }
        case 'eph':
          rl.pendingEph.set(line.path, line.s);
          return;
      }
      return;
    case 'ack':
      rl.acks++;
      switch (line.op) {
        case 'set': {
          const m = model.workers[line.w];
          check(line.version === m.issued, () => `ack of version ${line.version} of /crash/w${line.w}, last issued ${m.issued}`);
          m.acked = line.version;
          m.ackedMzxid = line.mzxid;
          rl.maxAckedZxid = Math.max(rl.maxAckedZxid, line.mzxid);
          return;
        }
        case 'create':
          rl.pendingCreates.delete(line.data);
          model.seq.set(line.path, { data: line.data, czxid: line.czxid, state: 'live' });
          rl.maxAckedZxid = Math.max(rl.maxAckedZxid, line.czxid);
          return;
        case 'delete': {
          const n = model.seq.get(line.path);
          check(n !== undefined && n.state === 'deleting', () => `ack of the delete of ${line.path}, which the model has as ${n ? n.state : 'unknown'}`);
          n.state = 'deleted';
          return;
        }
        case 'eph':
          rl.pendingEph.delete(line.path);
          model.eph.set(line.path, { round: rl.round, owner: line.owner, czxid: line.czxid });
          rl.maxAckedZxid = Math.max(rl.maxAckedZxid, line.czxid);
          return;
      }
  }
}

// ---- the checks ----

const hexOf = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;

async function getOrNull(zk: ZooKeeperClient, path: string): Promise<{ data: string; czxid: number; mzxid: number; version: number; owner: string } | null> {
  try {
    const { data, stat } = await zk.getData(path);
    return { data: data === null ? '' : data.toString('utf8'), czxid: stat.czxid, mzxid: stat.mzxid, version: stat.version, owner: hexOf(stat.ephemeralOwner) };
  } catch (err) {
    if (err instanceof NoNodeError) return null;
    throw err;
  }
}

/** A fresh client; if no session comes, the failure says what became of the server. */
async function connectTo(server: ServerProc): Promise<ZooKeeperClient> {
  try {
    return await connect(`127.0.0.1:${server.port}`, { sessionTimeoutMs: 10_000, logger: silent, connectTimeoutMs: 15_000 });
  } catch (err) {
    const state = server.child.exitCode !== null || server.child.signalCode !== null
      ? `it exited (code ${server.child.exitCode}, signal ${server.child.signalCode})` : 'it is still running';
    fail(`no session with the server on port ${server.port} (${(err as Error).message}); ${state}; its output:\n${server.log.slice(-40).join('\n')}`);
  }
}

/** Everything acknowledged is there; nothing is there that was not written. Then the model is what was read. */
async function verify(server: ServerProc, model: Model, rl: RoundLog | null, killAt: number, writerStartedAt: number): Promise<void> {
  const zk = await connectTo(server);
  try {
    // First the ephemerals of the round just killed, while their recovered sessions cannot have expired.
    if (rl) {
      const readAt = Date.now();
      const survivors = [...model.eph].filter(([, e]) => e.round === rl.round);
      const got = await Promise.all(survivors.map(([path]) => getOrNull(zk, path)));
      survivors.forEach(([path, e], i) => {
        const s = [...rl.sessions.values()].find((x) => x.id === e.owner);
        check(s !== undefined, () => `ephemeral ${path} acknowledged for session ${e.owner}, which the writer never reported`);
        // The session could not have expired before the kill, nor since the restart (its timer
        // started after the spawn: a busy machine's slow start makes this skip, never fail).
        const mustExist = !s.ended && killAt - writerStartedAt < s.timeoutMs && readAt - server.spawnedAt < s.timeoutMs;
        const n = got[i];
        if (mustExist) {
          check(n !== null, () => `acknowledged ephemeral ${path} (czxid ${e.czxid}, session ${e.owner}) is gone after the restart although its session cannot have expired`);
        }
        if (n !== null) {
          check(n.owner === e.owner && n.czxid === e.czxid, () => `ephemeral ${path}: owner ${n.owner} czxid ${n.czxid}, acknowledged owner ${e.owner} czxid ${e.czxid}`);
        }
      });
    }

    // The worker znodes.
    const nodes = await Promise.all(model.workers.map((_, w) => getOrNull(zk, workerPath(w))));
    nodes.forEach((n, w) => {
      const m = model.workers[w];
      const path = workerPath(w);
      check(n !== null, () => `${path} is gone (acknowledged version ${m.acked})`);
      const parsed = parseValue(n.data);
      check(parsed !== null && parsed.w === w && parsed.v === n.version,
        () => `${path} at version ${n.version} holds ${JSON.stringify(n.data.slice(0, 40))}…, not what the writer wrote for that version (torn or invented data)`);
      check(n.version >= m.acked, () => `${path} is at version ${n.version}, but version ${m.acked} was acknowledged (mzxid ${m.ackedMzxid}): an acknowledged write was lost`);
      check(n.version <= m.issued, () => `${path} is at version ${n.version}, but only versions up to ${m.issued} were ever issued`);
      check(n.mzxid >= m.ackedMzxid, () => `${path} mzxid ${n.mzxid} is below the acknowledged ${m.ackedMzxid}`);
      if (n.version === m.acked) check(n.mzxid === m.ackedMzxid, () => `${path} at the acknowledged version ${m.acked} has mzxid ${n.mzxid}, the reply said ${m.ackedMzxid}`);
      else check(n.mzxid > m.ackedMzxid, () => `${path} is past the acknowledged version but its mzxid ${n.mzxid} is not past ${m.ackedMzxid}`);
      model.workers[w] = { acked: n.version, ackedMzxid: n.mzxid, issued: n.version };
    });

    // The sequential nodes.
    const children = (await zk.getChildren(SEQ)) as string[];
    const present = new Map<string, NonNullable<Awaited<ReturnType<typeof getOrNull>>>>();
    const datas = await Promise.all(children.map((c) => getOrNull(zk, `${SEQ}/${c}`)));
    children.forEach((c, i) => {
      const d = datas[i];
      if (d !== null) present.set(`${SEQ}/${c}`, d);
    });
    for (const [path, m] of model.seq) {
      const n = present.get(path);
      if (m.state === 'live') {
        check(n !== undefined, () => `${path} (czxid ${m.czxid}) was acknowledged and never deleted, but it is gone: an acknowledged create was lost`);
      } else if (m.state === 'deleted') {
        check(n === undefined, () => `${path} is back although its delete was acknowledged`);
      }
      if (n !== undefined) {
        check(n.data === m.data && n.czxid === m.czxid, () => `${path}: data/czxid ${JSON.stringify(n.data.slice(0, 30))}/${n.czxid}, acknowledged ${JSON.stringify(m.data.slice(0, 30))}/${m.czxid}`);
        m.state = 'live';
      } else {
        model.seq.delete(path);
      }
    }
    for (const [path, n] of present) {
      if (model.seq.has(path)) continue;
      const name = path.slice(SEQ.length + 1);
      const owner = /^(w\d+)-\d{10}$/.exec(name)?.[1];
      check(rl !== null && rl.pendingCreates.has(n.data) && isSeqData(n.data) && owner !== undefined && n.data.includes(`:${owner}:`),
        () => `${path} holds ${JSON.stringify(n.data.slice(0, 30))}, which no create issued and not acknowledged carried (an invented node)`);
      rl.pendingCreates.delete(n.data);
      model.seq.set(path, { data: n.data, czxid: n.czxid, state: 'live' });
    }

    // The ephemerals: none invented, and the model follows what is there.
    const ephChildren = (await zk.getChildren(EPH)) as string[];
    const ephs = await Promise.all(ephChildren.map((c) => getOrNull(zk, `${EPH}/${c}`)));
    ephChildren.forEach((c, i) => {
      const path = `${EPH}/${c}`;
      const n = ephs[i];
      if (n === null) return;
      const known = model.eph.get(path);
      if (known) {
        check(n.owner === known.owner && n.czxid === known.czxid, () => `ephemeral ${path}: owner ${n.owner} czxid ${n.czxid}, acknowledged ${known.owner} ${known.czxid}`);
        return;
      }
      const s = rl?.pendingEph.get(path);
      const session = s === undefined ? undefined : rl!.sessions.get(s);
      check(session !== undefined && session.id === n.owner, () => `ephemeral ${path} owned by ${n.owner} was never issued by that session`);
      model.eph.set(path, { round: rl!.round, owner: n.owner, czxid: n.czxid });
    });
    const ephPresent = new Set(ephChildren.map((c) => `${EPH}/${c}`));
    for (const path of [...model.eph.keys()]) if (!ephPresent.has(path)) model.eph.delete(path);
  } finally {
    await zk.close();
  }
}

/** Every writer session is recovered with a fresh timer and nobody renews it: all their ephemerals go. */
async function checkExpiry(server: ServerProc): Promise<number> {
  const zk = await connectTo(server);
  try {
    // Deadline bucket (≤ timeout + one tick), the expiry timer (one tick), commit, then slack for a
    // busy machine; still well before a session of the longest timeout allowed would expire.
    const deadline = server.readyAt + SESSION_TIMEOUT_MS + 2 * TICK_MS + EXPIRY_SLACK_MS;
    for (;;) {
      const left = (await zk.getChildren(EPH)) as string[];
      if (left.length === 0) return Date.now() - server.readyAt;
      if (Date.now() > deadline) {
        fail(`ephemerals still there ${Date.now() - server.readyAt} ms after the restart, though their sessions (timeout ${SESSION_TIMEOUT_MS} ms, tick ${TICK_MS} ms) should have expired: ${left.join(', ')}`);
      }
      await sleep(100);
    }
  } finally {
    await zk.close();
  }
}

interface LogFacts {
  segments: number;
  records: number;
  lastZxid: number;
  snapshots: number;
  tornTail: string | null;
}

const snapshotsRead = new Map<string, number>();

/**
 * The log on disk: every zxid exactly once, no gap from the first segment on, every snapshot
 * intact and covered. `crashed`: the newest segment may end in a torn record (a write cut by the kill).
 */
function checkLog(dataDir: string, crashed: boolean): LogFacts {
  const segments = listFiles(dataDir, 'log');
  const snapshots = listFiles(dataDir, 'snapshot');
  check(segments.length > 0, () => `no log segment in ${dataDir}: ${readdirSync(dataDir).join(', ')}`);
  let expected: number | null = null;
  let records = 0;
  let tornTail: string | null = null;
  segments.forEach((seg, i) => {
    const newest = i === segments.length - 1;
    const buf = readFileSync(seg.path);
    if (crashed && newest && buf.subarray(0, 16).every((b) => b === 0)) {
      // Created, and killed before its header was written: recovery removes it.
      tornTail = `${seg.path}: ${buf.length} bytes, no header`;
      return;
    }
    let scan;
    try {
      scan = scanSegment(buf, MAX_RECORD_BYTES);
    } catch (err) {
      fail(`${seg.path} (${statSync(seg.path).size} bytes) does not read as a segment: ${(err as Error).message}`);
    }
    check(scan.firstIndex === seg.index, () => `${seg.path} says it starts at ${scan.firstIndex}`);
    if (scan.end.kind === 'corrupt') fail(`${seg.path}: damaged record at ${scan.end.offset} (${scan.end.reason}) with intact records after it`);
    if (scan.end.kind === 'torn') {
      check(crashed && newest, () => `${seg.path}: torn record at ${(scan.end as { offset: number }).offset} (${(scan.end as { reason: string }).reason}) in ${newest ? 'a log closed cleanly' : 'a segment that is not the newest'}`);
      tornTail = `${seg.path}@${scan.end.offset}: ${scan.end.reason}`;
    }
    const next = expected;
    if (next !== null) {
      check(seg.index === next, () => `${seg.path} starts at zxid ${seg.index}, the segment before ends at ${next - 1}: ${seg.index > next ? 'a gap' : 'zxids logged twice'} (segments: ${segments.map((s) => s.index).join(', ')})`);
    } else {
      // Nothing is purged in this test: the log goes back to the first txn.
      check(seg.index === 1, () => `the oldest segment ${seg.path} starts at zxid ${seg.index}, not 1`);
    }
    if (scan.records.length === 0) {
      // A segment with a header and no record: a crash right after it was opened.
      check(crashed && newest, () => `${seg.path} holds no record and is not the newest segment after a crash (segments: ${segments.map((s) => s.index).join(', ')})`);
      tornTail = `${seg.path}: header only, no record`;
    }
    for (const { entry, offset } of scan.records) {
      const z = entry.header.zxid;
      check(expected === null || z === expected, () => `${seg.path} at ${offset}: zxid ${z} after ${expected! - 1}`);
      expected = z + 1;
      records++;
    }
    if (expected === null) expected = seg.index;
  });
  const lastZxid = (expected ?? 1) - 1;
  for (const snap of snapshots) {
    check(snap.index <= lastZxid, () => `${snap.path} is at zxid ${snap.index}, past the end of the log ${lastZxid}`);
    const size = statSync(snap.path).size;
    if (snapshotsRead.get(snap.path) === size) continue;
    try {
      const loaded = readSnapshot(snap.path, false);
      check(loaded.zxid === snap.index, () => `${snap.path} says zxid ${loaded.zxid}`);
      // It may hold effects of txns up to endZxid: those were applied, so durable, so in the log.
      check(loaded.endZxid <= lastZxid, () => `${snap.path} holds txns up to ${loaded.endZxid}, past the end of the log ${lastZxid}`);
    } catch (err) {
      if (err instanceof AssertionError) throw err;
      fail(`${snap.path} does not read back: ${(err as Error).message}`);
    }
    snapshotsRead.set(snap.path, size);
  }
  return { segments: segments.length, records, lastZxid, snapshots: snapshots.length, tornTail };
}

// ---- the writer process ----

interface WriterProc {
  child: ChildProcess;
  exited: Promise<Exit>;
  rl: RoundLog;
  err: string[];
  ready: Promise<void>;
  /** Every line read (stdout closed). */
  linesDone: Promise<void>;
  lineError(): unknown;
  /** Gives it the port: it connects then. */
  go(port: number): void;
  goAt: number;
}

function spawnWriter(model: Model, rl: RoundLog): WriterProc {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, '-', String(rl.round), String(rl.writerSeed), String(SESSIONS), String(WORKERS_PER_SESSION), String(SESSION_TIMEOUT_MS)], {
    cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'],
  });
  const exited = track(child);
  const err: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => err.push(l));
  let lineError: unknown = null;
  let onReady: () => void = () => {};
  const ready = new Promise<void>((r) => (onReady = r));
  const lines = createInterface({ input: child.stdout! });
  const linesDone = new Promise<void>((r) => lines.once('close', r));
  lines.on('line', (text) => {
    if (lineError) return;
    let line: WriterLine;
    try {
      line = JSON.parse(text) as WriterLine;
    } catch {
      lineError = new Error(`writer printed a line that is not JSON: ${text}`);
      return;
    }
    try {
      applyLine(model, rl, line);
    } catch (e) {
      lineError = e;
    }
    if (line.t === 'ready') onReady();
  });
  child.stdin!.on('error', () => {}); // it may be gone already; its exit says why
  const proc: WriterProc = {
    child, exited, rl, err, ready, linesDone, goAt: 0,
    lineError: () => lineError,
    go(port) {
      proc.goAt = Date.now();
      child.stdin!.end(`${port}\n`);
    },
  };
  return proc;
}

// ---- dist ----

/**
 * bin/ensemble.js runs dist/: build it when it is missing or older than src/. Under `npm test` it
 * has just been built, and other tests may be loading it: it is left alone.
 */
function ensureDist(): void {
  const main = join(REPO, 'dist/cli/main.js');
  if (process.env.npm_lifecycle_event === 'test' && existsSync(main)) return;
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
  };
  if (existsSync(main) && newest(join(REPO, 'dist')) >= newest(join(REPO, 'src'))) return;
  const r = spawnSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`building dist failed:\n${r.stdout}${r.stderr}`);
}

// ---- the test ----

test('an acknowledged write survives a SIGKILL of the server at any moment', { timeout: 900_000 }, async (t: TestContext) => {
  ensureDist();
  t.diagnostic(`seed ${SEED} (replay with ENSEMBLE_CRASH_SEED=${SEED}), ${ROUNDS} rounds`);
  const rand = prng(SEED);
  const dataDir = mkdtempSync(join(tmpdir(), 'ensemble-crash-'));
  const started = Date.now();
  let server: ServerProc | null = null;
  const summary: string[] = [];
  try {
    // snapCount and the segment size vary between starts, so that snapshots (fuzzy, while the
    // writer writes) and segment rolls happen at random points too.
    const props = (): string[] => {
      const snap = [100_000, 100_000, 200, 500, 2000][Math.floor(rand() * 5)];
      const prealloc = [16, 64, 1024][Math.floor(rand() * 3)];
      return [`tickTime=${TICK_MS}`, 'clientPortAddress=127.0.0.1', `maxSessionTimeout=${MAX_SESSION_TIMEOUT_MS}`, `snapCount=${snap}`, `preAllocSize=${prealloc}`];
    };
    server = await startServerProc(dataDir, props());

    const model: Model = { workers: [], seq: new Map(), eph: new Map() };
    {
      const zk = await connect(`127.0.0.1:${server.port}`, { sessionTimeoutMs: 10_000, logger: silent });
      for (const p of [ROOT, SEQ, EPH]) await zk.create(p, '');
      for (let w = 0; w < WORKERS; w++) {
        const { stat } = await zk.createWithStat(workerPath(w), valueData(w, 0));
        model.workers.push({ acked: 0, ackedMzxid: stat.mzxid, issued: 0 });
      }
      await zk.close();
    }

    // The next round's writer is started while the server restarts, so that its start-up (tsx)
    // does not add to the round; it connects once it is given the port.
    const nextWriter = (round: number): WriterProc => spawnWriter(model, {
      round, writerSeed: Math.floor(rand() * 2 ** 32), sessions: new Map(), pendingCreates: new Set(), pendingEph: new Map(),
      acks: 0, fails: 0, anomalies: [], maxAckedZxid: 0, ready: false, lines: 0,
    });
    let writer = nextWriter(1);
    let totalAcks = 0;
    let totalFails = 0;
    let expiryChecks = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      where = `round ${round}`;
      const rl = writer.rl;
      const writeMs = 50 + Math.floor(rand() * 551);
      const t0 = Date.now();
      writer.go(server.port);
      const outcome = await Promise.race([writer.ready.then(() => 'ready' as const), writer.exited.then((e) => e), deadlineIn(60_000)]);
      if (outcome !== 'ready') {
        const srv = server;
        fail(`the writer did not get ready (${outcome === 'timeout' ? 'timed out' : `exit ${JSON.stringify(outcome)}`}); its stderr:\n${writer.err.join('\n')}\n`
          + `the server ${srv.child.exitCode !== null || srv.child.signalCode !== null ? `exited (code ${srv.child.exitCode}, signal ${srv.child.signalCode})` : 'is running'}; its output:\n${srv.log.slice(-40).join('\n')}`);
      }
      const tReady = Date.now();
      await sleep(writeMs);

      // The crash.
      killNow(server.child, 'SIGKILL');
      const serverExit = await exitWithin(server.child, server.exited, 10_000);
      check(serverExit.signal === 'SIGKILL', () => `the server was to die of SIGKILL, it ended with ${JSON.stringify(serverExit)}; its output:\n${server!.log.join('\n')}`);
      const killAt = Date.now();
      const killedLog = server.log;

      // The writer sees its connections go and stops by itself; what it had in flight is unknown.
      if ((await Promise.race([writer.exited, deadlineIn(15_000)])) === 'timeout') {
        killNow(writer.child, 'SIGTERM');
        await exitWithin(writer.child, writer.exited, 15_000);
      }
      await writer.linesDone;
      const lineError = writer.lineError();
      if (lineError) throw lineError;
      check(rl.anomalies.length === 0, () => `the writer hit errors no crash can explain:\n${rl.anomalies.join('\n')}\nstderr:\n${writer.err.join('\n')}`);
      const writerGoAt = writer.goAt;
      if (round < ROUNDS) writer = nextWriter(round + 1);
      const tStopped = Date.now();

      // The log on disk, before recovery touches it.
      const facts = checkLog(dataDir, true);
      check(facts.lastZxid >= rl.maxAckedZxid, () => `zxid ${rl.maxAckedZxid} was acknowledged but the log ends at ${facts.lastZxid}`);

      // Restart on the same data dir and check everything acknowledged.
      server = await startServerProc(dataDir, props());
      const tRestarted = Date.now();
      try {
        await verify(server, model, rl, killAt, writerGoAt);
      } catch (err) {
        if (err instanceof AssertionError) {
          err.message += `\n--- log of the killed server (tail) ---\n${killedLog.slice(-30).join('\n')}\n--- log of the restarted server ---\n${server.log.slice(-30).join('\n')}`;
        }
        throw err;
      }
      const tVerified = Date.now();
      let expiry = '';
      if (EXPIRY_ROUNDS.has(round)) {
        const ms = await checkExpiry(server);
        expiryChecks++;
        expiry = `, all ephemerals gone ${ms} ms after the restart`;
      }
      totalAcks += rl.acks;
      totalFails += rl.fails;
      const recovered = server.log.find((l) => l.includes('state recovered')) ?? '';
      const replayed = /"replayed":(\d+)/.exec(recovered)?.[1] ?? '?';
      const line = `round ${round}: wrote ${writeMs} ms, ${rl.acks} acks, ${rl.fails} unknown; log ${facts.segments} segments / ${facts.records} txns, ${facts.snapshots} snapshots${facts.tornTail ? `, ${facts.tornTail}` : ''}; replayed ${replayed}; next server ${server.props.slice(3).join(' ')}${expiry}`;
      summary.push(line);
      if (process.env.ENSEMBLE_CRASH_VERBOSE) {
        process.stderr.write(`${line} [ready ${tReady - t0} stop ${tStopped - killAt} restart ${tRestarted - tStopped} verify ${tVerified - tRestarted} ms; ${((Date.now() - started) / 1000).toFixed(1)} s]\n`);
      }
    }

    // A clean stop, then the same state once more.
    where = 'clean stop';
    killNow(server.child, 'SIGTERM');
    const stopped = await exitWithin(server.child, server.exited, 15_000);
    check(stopped.code === 0 && !stopped.killed, () => `SIGTERM: the server ended with ${JSON.stringify(stopped)}`);
    const facts = checkLog(dataDir, false);
    server = await startServerProc(dataDir, props());
    await verify(server, model, null, 0, 0);
    killNow(server.child, 'SIGTERM');
    await exitWithin(server.child, server.exited, 15_000);
    server = null;

    check(expiryChecks > 0 || ROUNDS === 0, () => 'no expiry check ran');
    const seqLive = [...model.seq.values()].filter((n) => n.state === 'live').length;
    for (const line of summary) t.diagnostic(line);
    t.diagnostic(`seed ${SEED}: ${ROUNDS} crashes, ${totalAcks} acknowledged writes all found, ${totalFails} requests with an unknown outcome; `
      + `log ${facts.records} txns in ${facts.segments} segments; ${seqLive} sequential nodes; ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    for (const child of [...live]) killNow(child, 'SIGKILL');
    await Promise.all([...live].map((child) => new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once('exit', r)))));
    rmSync(dataDir, { recursive: true, force: true });
  }
});
