/**
 * The writer of the crash test (crash.test.ts), run as its own process so that the test can kill the
 * server under it at any moment:
 *
 *   node --import tsx test/storage/crash-writer.ts PORT ROUND SEED SESSIONS WORKERS_PER_SESSION SESSION_TIMEOUT_MS
 *
 * (PORT `-`: the port is the first line of stdin, so that the test can start it ahead of time.)
 *
 * SESSIONS sessions, each with WORKERS_PER_SESSION workers. Worker w owns /crash/w<w> and, one request
 * at a time, sets its data to valueData(w, version) with the expected version (so a version it
 * writes is always exactly the previous one + 1), creates sequential nodes /crash/seq/w<w>-NNNN and
 * deletes its own. Each session first creates one ephemeral node /crash/eph/r<ROUND>-s<s>.
 *
 * Every event goes to stdout as one JSON line (crash-model.ts WriterLine), written synchronously
 * before anything else happens: an `issue` line before a request is sent, an `ack` line as soon as
 * its reply is in. A worker stops at its first failure (`fail`: the outcome is unknown, e.g.
 * ConnectionLoss once the server is killed); an error that no timing can explain is an `anomaly`.
 * The process exits once every worker has stopped, or on SIGTERM (in-flight requests are then
 * reported as `fail`).
 */
import { writeSync } from 'node:fs';
import { connect, ZooKeeperError, type Logger, type ZooKeeperClient } from '../../src/index.ts';
import { EPH, prng, SEQ, seqData, seqPrefix, valueData, workerPath, type WriterLine } from './crash-model.ts';

const args = process.argv.slice(2);
const [round, seed, sessions, workersPerSession, sessionTimeoutMs] = args.slice(1).map(Number);
if (args.length !== 6 || !(args[0] === '-' || /^\d+$/.test(args[0])) || ![round, seed, sessions, workersPerSession, sessionTimeoutMs].every(Number.isFinite)) {
  process.stderr.write('usage: crash-writer.ts PORT|- ROUND SEED SESSIONS WORKERS_PER_SESSION SESSION_TIMEOUT_MS   (-: the port is the first line of stdin)\n');
  process.exit(2);
}

const sleepBuffer = new Int32Array(new SharedArrayBuffer(4));

/** One line, written whole before returning (a full pipe is waited out, not dropped). */
function emit(line: WriterLine): void {
  const buf = Buffer.from(`${JSON.stringify(line)}\n`);
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off, buf.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleepBuffer, 0, 0, 2);
    }
  }
}

const logger: Logger = {
  debug() {},
  info() {},
  warn: (obj, msg) => process.stderr.write(`[client warn] ${msg ?? ''} ${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`),
  error: (obj, msg) => process.stderr.write(`[client error] ${msg ?? ''} ${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`),
};

const hexId = (id: bigint): string => `0x${BigInt.asUintN(64, id).toString(16)}`;

/** Requests sent and not yet answered, reported as `fail` if the process is stopped. */
const inFlight = new Map<number, { who: string; op: string; path: string }>();
let nextRequest = 0;

/** Codes a request may fail with once the server is gone: its outcome is unknown, not wrong. */
const UNKNOWN_OUTCOME = new Set(['CONNECTIONLOSS', 'SESSIONEXPIRED', 'OPERATIONTIMEOUT', 'REQUESTTIMEOUT', 'SESSIONMOVED']);

/** Runs one request; true when it was acknowledged. */
async function request<T>(who: string, op: string, path: string, send: () => Promise<T>, ack: (r: T) => void): Promise<boolean> {
  const id = nextRequest++;
  inFlight.set(id, { who, op, path });
  try {
    const result = await send();
    inFlight.delete(id);
    ack(result);
    return true;
  } catch (err) {
    inFlight.delete(id);
    if (err instanceof ZooKeeperError && UNKNOWN_OUTCOME.has(err.codeName)) {
      emit({ t: 'fail', who, op, path, code: err.codeName });
    } else {
      emit({ t: 'anomaly', who, op, path, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) });
    }
    return false;
  }
}

async function runWorker(zk: ZooKeeperClient, w: number, startVersion: number, pool: string[], rand: () => number): Promise<void> {
  const who = `w${w}`;
  const path = workerPath(w);
  let version = startVersion;
  let creates = 0;
  for (;;) {
    const x = rand();
    let ok: boolean;
    if (x < 0.15) {
      const data = seqData(round, w, creates++);
      const prefix = `${SEQ}/${seqPrefix(w)}`;
      emit({ t: 'issue', w, op: 'create', path: prefix, data });
      ok = await request(who, 'create', prefix, () => zk.createWithStat(prefix, data, { mode: 'persistent_sequential' }), (r) => {
        emit({ t: 'ack', w, op: 'create', path: r.path, czxid: r.stat.czxid, data });
        pool.push(r.path);
      });
    } else if (x < 0.3 && pool.length > 0) {
      const [victim] = pool.splice(Math.floor(rand() * pool.length), 1);
      emit({ t: 'issue', w, op: 'delete', path: victim });
      ok = await request(who, 'delete', victim, () => zk.delete(victim), () => emit({ t: 'ack', w, op: 'delete', path: victim }));
    } else {
      const v = version + 1;
      const data = valueData(w, v);
      emit({ t: 'issue', w, op: 'set', path, version: v, data });
      ok = await request(who, 'set', path, () => zk.setData(path, data, { version: v - 1 }), (stat) => {
        emit({ t: 'ack', w, op: 'set', path, version: stat.version, mzxid: stat.mzxid, data });
        if (stat.version !== v) emit({ t: 'anomaly', who, op: 'set', path, error: `the reply says version ${stat.version}, expected ${v}` });
      });
      if (ok) version = v;
    }
    if (!ok) return;
  }
}

/** The port: from the command line, or (with `-`) the first line of stdin, so that the process can start before the server. */
async function portToUse(): Promise<number> {
  if (args[0] !== '-') return Number(args[0]);
  let text = '';
  for await (const chunk of process.stdin) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  const port = Number(text.trim());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`no port on stdin (read ${JSON.stringify(text)})`);
  return port;
}

async function main(): Promise<void> {
  const port = await portToUse();
  const rand = prng(seed);
  const clients = await Promise.all(Array.from({ length: sessions }, async (_, s) => {
    const zk = await connect(`127.0.0.1:${port}`, { sessionTimeoutMs, logger, connectTimeoutMs: 10_000 });
    emit({ t: 'session', s, id: hexId(zk.sessionId), timeoutMs: zk.sessionTimeoutMs });
    zk.on('state', (state) => emit({ t: 'state', s, state }));
    return zk;
  }));

  // One ephemeral per session: it must outlive the crash (the session is recovered) and go once
  // the session expires after the restart.
  await Promise.all(clients.map(async (zk, s) => {
    const path = `${EPH}/r${round}-s${s}`;
    const data = `r${round}:s${s}`;
    emit({ t: 'issue', s, op: 'eph', path, data });
    await request(`s${s}`, 'eph', path, () => zk.createWithStat(path, data, { mode: 'ephemeral' }), (r) => {
      emit({ t: 'ack', s, op: 'eph', path: r.path, czxid: r.stat.czxid, owner: hexId(r.stat.ephemeralOwner) });
    });
  }));

  const children = (await clients[0].getChildren(SEQ)) as string[];
  const workers = sessions * workersPerSession;
  const starts = await Promise.all(Array.from({ length: workers }, async (_, w) => {
    const { stat } = await clients[Math.floor(w / workersPerSession)].getData(workerPath(w));
    emit({ t: 'start', w, version: stat.version, mzxid: stat.mzxid });
    return stat.version;
  }));
  emit({ t: 'ready' });

  await Promise.all(starts.map((version, w) => {
    const pool = children.filter((c) => c.startsWith(seqPrefix(w))).map((c) => `${SEQ}/${c}`);
    const workerRand = prng(Math.floor(rand() * 2 ** 32));
    return runWorker(clients[Math.floor(w / workersPerSession)], w, version, pool, workerRand);
  }));
  process.exit(0);
}

process.once('SIGTERM', () => {
  for (const { who, op, path } of inFlight.values()) emit({ t: 'fail', who, op, path, code: 'STOPPED' });
  process.exit(0);
});

main().catch((err: unknown) => {
  process.stderr.write(`crash-writer: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
