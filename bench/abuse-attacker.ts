/**
 * One abusive client, in a process of its own so that its work does not delay the probe's event
 * loop: `node --import tsx bench/abuse-attacker.ts <abuse> <host> <port> <durationMs> <scale>`.
 * It abuses the server for about durationMs (the watch abuse: until its watches are set), then
 * leaves (drops every connection) and prints one JSON line of what it did.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connectRequestFrame, existsBody, frame, Op, setDataBody, WireSession, getDataBody } from './abuse-wire.ts';

export const ABUSES = ['idle-sessions', 'flood', 'connect-loop', 'watches', 'slowloris', 'silent', 'big-writes'] as const;
export type Abuse = (typeof ABUSES)[number];

/** The scale of each abuse in a full run (scale 1). */
export const IDLE_SESSIONS = 10_000;
export const WATCHES = 1_000_000;
export const SLOWLORIS_CONNECTIONS = 1_000;
export const SILENT_CONNECTIONS = 5_000;
export const BIG_WRITE_BYTES = 1_000_000;
export const BIG_WRITE_PATH = '/abuse-big';
export const FLOOD_PATH = '/abuse-flood';

const OP_PING = 11;
const XID_PING = -2;
const SESSION_TIMEOUT_MS = 30_000;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface AttackReport {
  abuse: Abuse;
  /** What the abuser got done: sessions opened, requests sent, watches set, writes acknowledged… */
  done: number;
  /** Connections or requests the server refused or closed. */
  refused: number;
  /** Milliseconds from start to leaving. */
  ms: number;
  note?: string;
}

type Attack = (host: string, port: number, durationMs: number, scale: number) => Promise<Omit<AttackReport, 'abuse' | 'ms'>>;

/** N sessions that only ping, a third of their timeout apart. */
const idleSessions: Attack = async (host, port, durationMs, scale) => {
  const n = Math.round(IDLE_SESSIONS * scale);
  const sessions: WireSession[] = [];
  let refused = 0;
  const started = Date.now();
  let next = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < n) {
      next++;
      try {
        sessions.push(await WireSession.open(host, port, SESSION_TIMEOUT_MS));
      } catch {
        refused++;
      }
    }
  }));
  const ping = frame(XID_PING, OP_PING, Buffer.alloc(0));
  const pinger = setInterval(() => {
    for (const s of sessions) if (!s.closed) s.socket.write(ping);
  }, SESSION_TIMEOUT_MS / 3);
  await delay(Math.max(0, durationMs - (Date.now() - started)));
  clearInterval(pinger);
  const alive = sessions.filter((s) => !s.closed).length;
  for (const s of sessions) s.destroy();
  return { done: sessions.length, refused: refused + sessions.length - alive };
};

/** One session writing getData requests as fast as the socket takes them, never reading a reply. */
const flood: Attack = async (host, port, durationMs) => {
  const s = await WireSession.open(host, port, SESSION_TIMEOUT_MS);
  s.socket.pause();
  const perChunk = 1000;
  const body = getDataBody(FLOOD_PATH);
  let xid = 1;
  let sent = 0;
  const deadline = Date.now() + durationMs;
  while (Date.now() < deadline && !s.closed) {
    const frames: Buffer[] = [];
    for (let i = 0; i < perChunk; i++) frames.push(frame(xid++, Op.getData, body));
    sent += perChunk;
    if (!s.socket.write(Buffer.concat(frames))) {
      await Promise.race([new Promise((r) => s.socket.once('drain', r)), delay(Math.max(0, deadline - Date.now()))]);
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  const closedByServer = s.closed;
  s.destroy();
  return { done: sent, refused: closedByServer ? 1 : 0, note: closedByServer ? 'the server closed the connection' : undefined };
};

/** Parallel loops each opening a session and dropping its connection at once. */
const connectLoop: Attack = async (host, port, durationMs) => {
  const deadline = Date.now() + durationMs;
  let opened = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (Date.now() < deadline) {
      try {
        (await WireSession.open(host, port, 4_000)).destroy();
        opened++;
      } catch {
        refused++;
        await delay(10);
      }
    }
  }));
  return { done: opened, refused };
};

/** One session setting N exists-watches on paths that do not exist, then dropping its connection. */
const watches: Attack = async (host, port, _durationMs, scale) => {
  const n = Math.round(WATCHES * scale);
  const s = await WireSession.open(host, port, SESSION_TIMEOUT_MS);
  const window = 2_000;
  let sent = 0;
  let set = 0;
  let refused = 0;
  await Promise.all(Array.from({ length: window }, async () => {
    while (sent < n && !s.closed) {
      const path = `/abuse-watch-${sent++}`;
      const reply = await s.request(Op.exists, existsBody(path, true)).catch(() => null);
      if (reply === null) return;
      // NONODE is what a watch set on an absent znode answers.
      if (reply.err === -101) set++;
      else refused++;
    }
  }));
  const note = s.closed ? 'the server closed the connection' : undefined;
  s.destroy();
  return { done: set, refused, note };
};

/** Connections sending their handshake one byte at a time; a connection closed is opened again. */
const slowloris: Attack = async (host, port, durationMs, scale) => {
  const n = Math.round(SLOWLORIS_CONNECTIONS * scale);
  const handshake = connectRequestFrame(SESSION_TIMEOUT_MS);
  const deadline = Date.now() + durationMs;
  const byteEveryMs = 250;
  let closedByServer = 0;
  let completed = 0;
  const sockets = new Set<Socket>();
  await Promise.all(Array.from({ length: n }, async (_, i) => {
    await delay((i * byteEveryMs) / n);
    while (Date.now() < deadline) {
      const socket = netConnect({ host, port });
      sockets.add(socket);
      let gone = false;
      socket.on('error', () => {});
      socket.on('close', () => (gone = true));
      socket.on('data', () => {});
      for (let b = 0; b < handshake.length && !gone && Date.now() < deadline; b++) {
        socket.write(handshake.subarray(b, b + 1));
        await delay(byteEveryMs);
      }
      if (gone) closedByServer++;
      else if (Date.now() < deadline) completed++;
      socket.destroy();
      sockets.delete(socket);
    }
  }));
  for (const s of sockets) s.destroy();
  return { done: completed, refused: closedByServer, note: `${closedByServer} connections closed by the server, ${completed} handshakes completed` };
};

/** N connections that never send a byte, held for the duration. */
const silent: Attack = async (host, port, durationMs, scale) => {
  const n = Math.round(SILENT_CONNECTIONS * scale);
  const deadline = Date.now() + durationMs;
  let closedByServer = 0;
  let opened = 0;
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const socket = netConnect({ host, port });
    socket.on('error', () => {});
    socket.on('connect', () => opened++);
    socket.on('close', () => closedByServer++);
    sockets.push(socket);
    if (i % 100 === 99) await delay(5);
  }
  await delay(Math.max(0, deadline - Date.now()));
  const closedBefore = closedByServer;
  for (const s of sockets) s.destroy();
  return { done: opened, refused: closedBefore, note: `${closedBefore} connections closed by the server` };
};

/** 1 MB setData in a loop, a few outstanding at a time; done counts the acknowledged ones. */
const bigWrites: Attack = async (host, port, durationMs) => {
  const s = await WireSession.open(host, port, SESSION_TIMEOUT_MS);
  const body = setDataBody(BIG_WRITE_PATH, Buffer.alloc(BIG_WRITE_BYTES, 0x61));
  const deadline = Date.now() + durationMs;
  let acked = 0;
  let failed = 0;
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() < deadline && !s.closed) {
      const reply = await s.request(Op.setData, body).catch(() => null);
      if (reply === null) return;
      if (reply.err === 0) acked++;
      else failed++;
    }
  }));
  s.destroy();
  return { done: acked, refused: failed };
};

const ATTACKS: Record<Abuse, Attack> = {
  'idle-sessions': idleSessions, flood, 'connect-loop': connectLoop, watches, slowloris, silent, 'big-writes': bigWrites,
};

async function main(): Promise<void> {
  const [abuse, host, port, durationMs, scale] = process.argv.slice(2);
  if (!(ABUSES as readonly string[]).includes(abuse)) throw new Error(`unknown abuse ${abuse}: one of ${ABUSES.join(', ')}`);
  const started = Date.now();
  const result = await ATTACKS[abuse as Abuse](host, Number(port), Number(durationMs), Number(scale));
  const report: AttackReport = { abuse: abuse as Abuse, ms: Date.now() - started, ...result };
  process.stdout.write(JSON.stringify(report) + '\n');
  // Sockets destroyed: nothing should keep the process, but do not wait on a stray one.
  setTimeout(() => process.exit(0), 100).unref();
}

if (process.argv[1]?.endsWith('abuse-attacker.ts')) {
  main().catch((err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  });
}
