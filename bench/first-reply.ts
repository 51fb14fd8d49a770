/**
 * When a starting server first answers a request: a new attempt every ATTEMPT_EVERY_MS, each on a
 * fresh connection (a new session, then getData), until one gets its reply. Fresh connections,
 * because ZooKeeper 3.8 does not serve connections it accepted while it was still loading its
 * database; several at once, so that an attempt stuck on such a connection costs no time.
 */
import { performance } from 'node:perf_hooks';
import { rawRequest, requestOnNewSession } from './raw-socket.ts';

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
  const request = rawRequest('getData', path, Buffer.alloc(0));
  const frame = Buffer.alloc(request.size);
  request.encode(frame, 0, GET_DATA_XID);
  const { reply, cancel } = requestOnNewSession(host, port, SESSION_TIMEOUT_MS, frame, GET_DATA_XID);
  const timer = setTimeout(cancel, ATTEMPT_TIMEOUT_MS);
  const repliedAt = reply.then((err) => {
    clearTimeout(timer);
    return err === 0 ? performance.now() : null;
  });
  return { repliedAt, cancel };
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
