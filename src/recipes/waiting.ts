/**
 * Waiting on the server: deadlines, watched reads, abortable races. Every blocking call of the
 * recipes takes `{ timeoutMs, signal }` and waits through these functions, so that they all keep
 * the same rules:
 *
 * - `timeoutMs` bounds the waiting (for a watch, or between tries after a lost connection), never a
 *   request in flight: every look gets its answer, and `timeoutMs: 0` looks once without waiting.
 * - The signal ends everything at once; the call rejects with the signal's reason.
 * - A read that fails with a lost connection is tried again once the client is back; the client
 *   sets its watches again on reconnection and the server fires what was missed, so a wait
 *   survives a dropped link.
 * - A wait on a session that ends rejects with SessionExpiredError.
 *
 *   const deadline = deadlineOf(options.timeoutMs);
 *   const seen = await readOrAwait(zk, path, (watch) => zk.exists(path, { watch }), (stat) => stat === null, { deadline });
 */
import { NoNodeError, SessionExpiredError, watchOnce, type EventType, type Watcher, type WatchedEvent, type ZooKeeperClient } from '../client/index.ts';
import { retrying } from './retry.ts';

/** What every blocking call of the recipes accepts. */
export interface WaitOptions {
  /** Give up after this long: the call then resolves false or null (0 looks once). Default: no limit. */
  timeoutMs?: number;
  /** Abort the call; it rejects with the signal's reason. */
  signal?: AbortSignal;
}

/** Node's longest timer (about 24.8 days); a longer delay would fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The instant (epoch ms) a wait of timeoutMs started now ends: Infinity without a limit, or with
 * one beyond Node's longest timer (about 24.8 days). Rejects what is not a number >= 0 with a
 * RangeError.
 *
 *   const deadline = deadlineOf(options.timeoutMs);
 */
export function deadlineOf(timeoutMs: number | undefined): number {
  if (timeoutMs === undefined) return Number.POSITIVE_INFINITY;
  if (!(timeoutMs >= 0)) throw new RangeError(`timeoutMs must be a number >= 0, not ${timeoutMs}`);
  return timeoutMs > MAX_TIMER_MS ? Number.POSITIVE_INFINITY : Date.now() + timeoutMs;
}

/**
 * One signal for a wait's options: aborted by the caller's signal, or at timeoutMs (with a
 * TimeoutError), for calls that hand a signal to the client's requests.
 *
 *   await raceAbort(somethingSlow, deadlineSignal({ timeoutMs: 5000, signal }));
 */
export function deadlineSignal(options: WaitOptions): AbortSignal | undefined {
  const { timeoutMs, signal } = options;
  if (!Number.isFinite(deadlineOf(timeoutMs))) return signal;
  const timeout = AbortSignal.timeout(timeoutMs!);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/**
 * Resolves 'settled' once promise settles (either way), 'timeout' at the deadline; rejects with
 * the signal's reason when it aborts first. The promise itself is left running.
 *
 *   if ((await settleBy(otherAttempt, deadline, signal)) === 'timeout') return false;
 */
export function settleBy(promise: Promise<unknown>, deadline: number, signal?: AbortSignal): Promise<'settled' | 'timeout'> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(deadline)) {
      timer = setTimeout(() => {
        finish();
        resolve('timeout');
      }, Math.max(0, deadline - Date.now()));
    }
    const settled = (): void => {
      finish();
      resolve('settled');
    };
    promise.then(settled, settled);
  });
}

/**
 * The promise's outcome, or the signal's reason if it aborts first (the promise keeps running).
 *
 *   const value = await raceAbort(promise, AbortSignal.timeout(1000));
 */
export async function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  await settleBy(promise, Number.POSITIVE_INFINITY, signal);
  return promise;
}

/** What a wait returns when its deadline came first. */
export const TIMED_OUT: unique symbol = Symbol('timed out');

/**
 * Runs `op` until it answers, again after each lost connection once the client is back. Resolves
 * TIMED_OUT when the deadline passes while it is kept from answering (a request in flight is never
 * cut short); rejects with the signal's reason on abort, and with any other failure of `op`.
 *
 *   const names = await untilAnswered(() => zk.getChildren(dir, { signal }), deadline, signal);
 *   if (names === TIMED_OUT) return false;
 */
export async function untilAnswered<T>(op: () => Promise<T>, deadline: number, signal?: AbortSignal): Promise<T | typeof TIMED_OUT> {
  const retry = { retries: Number.POSITIVE_INFINITY, maxDelayMs: 1000 };
  if (!Number.isFinite(deadline)) return retrying(op, { ...retry, signal });
  // Bounds the pauses between tries (and the start of a new one), not the tries themselves.
  const pauses = new AbortController();
  const timer = setTimeout(() => pauses.abort(), Math.max(0, deadline - Date.now()));
  try {
    return await retrying(op, { ...retry, signal: signal ? AbortSignal.any([signal, pauses.signal]) : pauses.signal });
  } catch (err) {
    if (pauses.signal.aborted && err === pauses.signal.reason) return TIMED_OUT;
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** How a watched read ended: its value settled it, its watcher fired, or the deadline came first. */
export type WatchedRead<T> = { kind: 'read'; value: T } | { kind: 'event'; event: WatchedEvent } | { kind: 'timeout' };

export interface WatchedReadOptions {
  deadline: number;
  signal?: AbortSignal;
  /** Called for each node event that reaches the read's watcher (not for the session's end, nor for a watch removed). */
  onNotification?: () => void;
}

const NODE_EVENTS: ReadonlySet<EventType> = new Set<EventType>(['NodeCreated', 'NodeDeleted', 'NodeDataChanged', 'NodeChildrenChanged']);

/**
 * Reads with a one-shot watcher (`read` passes it to exists, getData or getChildren on `path`),
 * then: if `settled(value)`, removes the watcher locally and returns the value; otherwise waits
 * until the watcher fires or the deadline passes. The read is tried again after a lost connection
 * (see untilAnswered). Rejects with SessionExpiredError when the session ends, and with the
 * signal's reason when it aborts.
 *
 *   const seen = await readOrAwait(zk, dir, (watch) => zk.getChildren(dir, { watch }),
 *     (names) => names.length > 0, { deadline: deadlineOf(5000) });
 *   if (seen.kind === 'read') console.log(seen.value);
 */
export async function readOrAwait<T>(
  client: ZooKeeperClient,
  path: string,
  read: (watch: Watcher) => Promise<T>,
  settled: (value: T) => boolean,
  options: WatchedReadOptions,
): Promise<WatchedRead<T>> {
  const { deadline, signal, onNotification } = options;
  signal?.throwIfAborted();
  const change = watchOnce();
  const watcher: Watcher = (event) => {
    if (NODE_EVENTS.has(event.type)) onNotification?.();
    change.watcher(event);
  };
  let armed = true;
  try {
    const value = await untilAnswered(() => read(watcher), deadline, signal);
    if (value === TIMED_OUT) return { kind: 'timeout' };
    if (settled(value)) return { kind: 'read', value };
    if ((await settleBy(change.event, deadline, signal)) === 'timeout') return { kind: 'timeout' };
    armed = false;
    const event = await change.event;
    if (event.type === 'None') throw new SessionExpiredError(-112, path, `the session ended (${event.state}) during the wait`);
    return { kind: 'event', event };
  } finally {
    // Not awaited: on a hung link the removal would hold the caller until the connection drops.
    if (armed) client.removeWatches(path, 'any', { watcher, local: true }).catch(() => {});
  }
}

/** How waitForChange ended. */
export type WaitOutcome = 'changed' | 'gone' | 'timeout';

/**
 * Waits for one change of the node at path, with a one-shot data watch: 'gone' when it does not
 * exist (at once, no watch left behind), 'changed' when an event fires (deletion or data change;
 * the caller looks again), 'timeout' at the deadline. As readOrAwait for lost connections, the
 * session's end and the signal.
 *
 *   while ((await waitForChange(zk, holder, { signal })) === 'changed') { … look again … }
 */
export async function waitForChange(
  client: ZooKeeperClient,
  path: string,
  options: Partial<WatchedReadOptions> = {},
): Promise<WaitOutcome> {
  const present = (watch: Watcher): Promise<boolean> =>
    client.getData(path, { watch, signal: options.signal }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof NoNodeError) return false;
        throw err;
      },
    );
  const seen = await readOrAwait(client, path, present, (found) => !found, { ...options, deadline: options.deadline ?? Number.POSITIVE_INFINITY });
  return seen.kind === 'read' ? 'gone' : seen.kind === 'event' ? 'changed' : 'timeout';
}
