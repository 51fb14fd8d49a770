/**
 * Curator's DistributedBarrier: one znode holds everyone back while it exists.
 *
 *   const barrier = new Barrier(zk, '/app/barriers/deploy');
 *   await barrier.set();                                  // close the gate
 *   if (await barrier.wait({ timeoutMs: 60_000 })) go();  // elsewhere: blocks while it is set
 *   await barrier.remove();                               // every waiter goes on
 *
 * The module also holds the watch-and-wait step that the barrier, the double barrier and the
 * queues share: read with a one-shot watcher, and wait for that watcher only if the read says so.
 */
import {
  NodeExistsError, NoNodeError, SessionExpiredError,
  type CreateMode, type Data, type WatchedEvent, type Watcher, type ZooKeeperClient,
} from '../client/index.ts';
import { retrying } from './retry.ts';
import { ensurePath } from './sequential.ts';

/** What every blocking call of these recipes accepts. */
export interface WaitOptions {
  /** Give up after this long (the call then resolves false or null). Default: wait for ever. */
  timeoutMs?: number;
  /** Abort the wait; the call rejects with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * A barrier: `wait()` blocks while the node at `path` exists. `set()` and `remove()` are
 * idempotent, and may be called from any client.
 *
 *   const barrier = new Barrier(zk, '/jobs/ready');
 *   await barrier.set();
 *   const opened = await barrier.wait({ timeoutMs: 10_000 }); // false if still set after 10 s
 */
export class Barrier {
  constructor(
    private readonly client: ZooKeeperClient,
    readonly path: string,
  ) {}

  /** Creates the barrier node (and missing parents, as containers); nothing if it is already set. */
  async set(options: { signal?: AbortSignal } = {}): Promise<void> {
    await retrying(() => createWithParents(this.client, this.path, null, 'persistent'), options);
  }

  /** Deletes the barrier node; nothing if it is not set. */
  async remove(options: { signal?: AbortSignal } = {}): Promise<void> {
    await retrying(async () => {
      try {
        await this.client.delete(this.path, { signal: options.signal });
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
      }
    }, options);
  }

  /**
   * Resolves true once the barrier node does not exist (at once if it is not set), false when
   * `timeoutMs` passes first. One exists watch on the barrier node; a dropped connection is waited
   * out (the watch is set again on reconnection). Rejects with SessionExpiredError when the
   * session ends.
   */
  async wait(options: WaitOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    for (;;) {
      const seen = await readOrAwait(
        this.client,
        this.path,
        (watch, signal) => this.client.exists(this.path, { watch, signal }),
        (stat) => stat === null,
        { deadline, signal: options.signal },
      );
      if (seen.kind === 'read') return true;
      if (seen.kind === 'timeout') return false;
      // An event (deleted, or its data changed): look again.
    }
  }
}

// ---- Waiting on a one-shot watch, shared by the barriers and the queues ----

/** The epoch-ms deadline of a wait of timeoutMs from now (Infinity without one). */
export function deadlineOf(timeoutMs: number | undefined): number {
  return timeoutMs === undefined ? Number.POSITIVE_INFINITY : Date.now() + Math.max(0, timeoutMs);
}

/** How a watched read ended: its value settled it, its watcher fired, or the deadline came first. */
export type WatchedRead<T> = { kind: 'read'; value: T } | { kind: 'event'; event: WatchedEvent } | { kind: 'timeout' };

/**
 * Reads with a one-shot watcher (`read` passes it to exists/getData/getChildren on `path`), then:
 * if `settled(value)`, removes the watcher locally and returns the value; otherwise waits until the
 * watcher fires or the deadline passes. A read that fails with a lost connection is tried again
 * once the client is back (until the deadline); the client sets its watches again on reconnection
 * and the server fires what was missed, so a wait survives a dropped link. Rejects with
 * SessionExpiredError when the session ends, and with the signal's reason when it aborts.
 *
 *   const seen = await readOrAwait(zk, dir, (watch, signal) => zk.getChildren(dir, { watch, signal }),
 *     (names) => names.length > 0, { deadline: deadlineOf(5000) });
 */
export async function readOrAwait<T>(
  client: ZooKeeperClient,
  path: string,
  read: (watch: Watcher, signal: AbortSignal | undefined) => Promise<T>,
  settled: (value: T) => boolean,
  options: { deadline: number; signal?: AbortSignal },
): Promise<WatchedRead<T>> {
  const { deadline, signal } = options;
  signal?.throwIfAborted();
  let fire!: (event: WatchedEvent) => void;
  const fired = new Promise<WatchedEvent>((resolve) => (fire = resolve));
  const watcher: Watcher = (event) => fire(event);
  let armed = true;
  try {
    const value = await untilAnswered((bounded) => read(watcher, bounded), deadline, signal);
    if (value === TIMED_OUT) return { kind: 'timeout' };
    if (settled(value)) return { kind: 'read', value };
    const outcome = await untilFired(fired, deadline, signal);
    if (outcome.kind === 'event') {
      armed = false;
      if (outcome.event.type === 'None') throw new SessionExpiredError(-112, path, `the session ended (${outcome.event.state}) during the wait`);
    }
    return outcome;
  } finally {
    // Not awaited: on a hung link the removal would hold the caller until the connection drops.
    if (armed) client.removeWatches(path, 'Any', { watcher, local: true }).catch(() => {});
  }
}

const TIMED_OUT = Symbol('timed out');

/**
 * Runs `op` again after each connection loss until it answers. Its signal aborts at the deadline
 * (then TIMED_OUT) or with the caller's signal (then the caller's reason is thrown).
 */
async function untilAnswered<T>(op: (signal: AbortSignal | undefined) => Promise<T>, deadline: number, signal?: AbortSignal): Promise<T | typeof TIMED_OUT> {
  if (!Number.isFinite(deadline)) return retrying(() => op(signal), { retries: Number.POSITIVE_INFINITY, maxDelayMs: 1000, signal });
  const timer = new AbortController();
  const timeout = setTimeout(() => timer.abort(), Math.max(0, deadline - Date.now()));
  const bounded = signal ? AbortSignal.any([signal, timer.signal]) : timer.signal;
  try {
    return await retrying(() => op(bounded), { retries: Number.POSITIVE_INFINITY, maxDelayMs: 1000, signal: bounded });
  } catch (err) {
    if (timer.signal.aborted && !signal?.aborted) return TIMED_OUT;
    throw err;
  } finally {
    clearTimeout(timeout);
  }
}

function untilFired(fired: Promise<WatchedEvent>, deadline: number, signal?: AbortSignal): Promise<{ kind: 'event'; event: WatchedEvent } | { kind: 'timeout' }> {
  return new Promise((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    if (Number.isFinite(deadline)) {
      timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve({ kind: 'timeout' });
      }, Math.max(0, deadline - Date.now()));
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    void fired.then((event) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve({ kind: 'event', event });
    });
  });
}

/**
 * Creates path, first its missing parents (as containers, as Curator's
 * creatingParentContainersIfNeeded). Resolves with the created path (with its sequence suffix), or
 * null when a node of that name already exists.
 */
export async function createWithParents(client: ZooKeeperClient, path: string, data: Data, mode: CreateMode, signal?: AbortSignal): Promise<string | null> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await client.create(path, data, { mode, signal });
    } catch (err) {
      if (err instanceof NodeExistsError) return null;
      // A container parent may vanish again between our ensurePath and our create: try a few times.
      if (!(err instanceof NoNodeError) || attempt >= 5) throw err;
      await ensurePath(client, parentOf(path), 'container');
    }
  }
}

function parentOf(path: string): string {
  const at = path.lastIndexOf('/');
  return at <= 0 ? '/' : path.slice(0, at);
}
