/**
 * When a starting server first answers a request: a new attempt every ATTEMPT_EVERY_MS, each on a
 * fresh connection (a new session, then getData), until one gets its reply. Fresh connections,
 * because ZooKeeper 3.8 does not serve connections it accepted while it was still loading its
 * database; several at once, so that an attempt stuck on such a connection costs no time.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectRequestFrame, rawRequest } from './raw-socket.ts';

const ATTEMPT_EVERY_MS = 20;
const ATTEMPT_TIMEOUT_MS = 2_000;
const SESSION_TIMEOUT_MS = 10_000;
const GET_DATA_XID = 1;

interface Attempt {
  /** When the reply came, or null: no reply. */
  repliedAt: Promise<number | null>;
  cancel(): void;
}

/** Connects, establishes a session, sends getData(path) and waits for an OK reply. */
function attempt(host: string, port: number, path: string): Attempt {
  let socket: Socket | null = null;
  let settle: (at: number | null) => void = () => {};
  const repliedAt = new Promise<number | null>((resolve) => (settle = resolve));
  const finish = (ok: boolean): void => {
    const at = ok ? performance.now() : null;
    clearTimeout(timer);
    socket?.destroy();
    settle(at);
  };
  const timer = setTimeout(() => finish(false), ATTEMPT_TIMEOUT_MS);
  socket = connect({ host, port, noDelay: true });
  socket.on('error', () => finish(false));
  socket.on('close', () => finish(false));
  socket.on('connect', () => socket?.write(connectRequestFrame(SESSION_TIMEOUT_MS)));
  let pending = Buffer.alloc(0);
  let sessionOpen = false;
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
      const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
      pending = pending.subarray(4 + frame.length);
      if (!sessionOpen) {
        // ConnectResponse: protocolVersion, timeout (0: refused), sessionId, passwd.
        if (frame.length < 8 || frame.readInt32BE(4) <= 0) return finish(false);
        sessionOpen = true;
        const request = rawRequest('getData', path, Buffer.alloc(0));
        const out = Buffer.alloc(request.size);
        request.encode(out, 0, GET_DATA_XID);
        socket?.write(out);
      } else if (frame.length >= 16 && frame.readInt32BE(0) === GET_DATA_XID) {
        // ReplyHeader: xid, zxid, err.
        return finish(frame.readInt32BE(12) === 0);
      }
    }
  });
  return { repliedAt, cancel: () => finish(false) };
}

/** Resolves with performance.now() at the first successful getData reply; rejects after timeoutMs. */
export async function firstReplyAt(host: string, port: number, path: string, timeoutMs: number): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  const attempts = new Set<Attempt>();
  try {
    return await new Promise<number>((resolve, reject) => {
      let done = false;
      const launch = (): void => {
        if (done) return;
        if (performance.now() > deadline) {
          done = true;
          reject(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`));
          return;
        }
        const a = attempt(host, port, path);
        attempts.add(a);
        void a.repliedAt.then((at) => {
          attempts.delete(a);
          if (at !== null && !done) {
            done = true;
            resolve(at);
          }
        });
        setTimeout(launch, ATTEMPT_EVERY_MS);
      };
      launch();
    });
  } finally {
    for (const a of attempts) a.cancel();
  }
}
