/**
 * The machinery shared by the recipes that queue contenders in sequential znodes (leader election,
 * locks, semaphores): Curator's protected create, ordering by sequence number, and the herd-free
 * wait in which each contender watches only the node it must outlast.
 */
import { randomUUID } from 'node:crypto';
import { NodeExistsError, NoNodeError, type CreateMode, type Data, type WatchedEvent, type ZooKeeperClient } from '../client/index.ts';
import { isRetryable, sleep } from './retry.ts';

/** Curator's protection marker: `_c_<uuid>-` before the node's own prefix. */
const PROTECTION = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-/;

/** The 10-digit counter ZooKeeper appends to a sequential node's name (NaN when there is none). */
export function sequenceOf(name: string): number {
  const digits = name.slice(-10);
  return /^\d{10}$/.test(digits) ? Number(digits) : Number.NaN;
}

/** Sequential node names in queue order; names without a counter are left out. */
export function sortBySequence(names: readonly string[]): string[] {
  return names.filter((n) => !Number.isNaN(sequenceOf(n))).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/** A name without its protection marker (`_c_<uuid>-lock-0000000003` → `lock-0000000003`). */
export function unprotected(name: string): string {
  return name.replace(PROTECTION, '');
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Creates path and every missing ancestor ('container' parents vanish once empty). */
export async function ensurePath(client: ZooKeeperClient, path: string, mode: 'persistent' | 'container' = 'persistent'): Promise<void> {
  if (path === '/' || (await client.exists(path)) !== null) return;
  const parts = path.split('/').filter(Boolean);
  for (let i = 1; i <= parts.length; i++) {
    const prefix = `/${parts.slice(0, i).join('/')}`;
    try {
      await client.create(prefix, null, { mode });
    } catch (err) {
      if (!(err instanceof NodeExistsError)) throw err;
    }
  }
}

export interface ProtectedCreateOptions {
  mode: CreateMode;
  data?: Data;
  /** How missing parents are created. Default 'container'. */
  parentMode?: 'persistent' | 'container';
  signal?: AbortSignal;
}

/**
 * Creates `dir/_c_<uuid>-prefix` (sequential modes append the counter) and returns its path.
 * When the connection drops before the reply, the create may or may not have happened: after the
 * reconnection the marker finds it again, so no orphan is left and no second node made. Missing
 * parents are created (a container parent may vanish between two contenders' creates).
 */
export async function createProtected(client: ZooKeeperClient, dir: string, prefix: string, options: ProtectedCreateOptions): Promise<string> {
  const marker = `_c_${randomUUID()}-`;
  const path = joinPath(dir, `${marker}${prefix}`);
  let uncertain = false;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      if (uncertain) {
        const found = (await client.getChildren(dir)).find((c) => c.startsWith(marker));
        if (found !== undefined) return joinPath(dir, found);
      }
      return await client.create(path, options.data, { mode: options.mode });
    } catch (err) {
      if (err instanceof NoNodeError && attempt < 10) {
        await ensurePath(client, dir, options.parentMode ?? 'container');
      } else if (isRetryable(err) && attempt < 10) {
        uncertain = true;
        await sleep(Math.min(2000, 50 * 2 ** attempt), options.signal);
      } else {
        throw err;
      }
    }
  }
}

export type WaitOutcome = 'changed' | 'gone' | 'timeout';

/**
 * Waits for one change of the node at path, with a one-shot data watch: 'gone' when it does not
 * exist (at once, no watch left behind), 'changed' when an event fires (deletion or data change;
 * the caller looks again), 'timeout' at the deadline. Rejects when the signal aborts or the
 * session ends.
 */
export async function waitForChange(client: ZooKeeperClient, path: string, options: { deadline?: number; signal?: AbortSignal } = {}): Promise<WaitOutcome> {
  const { deadline = Number.POSITIVE_INFINITY, signal } = options;
  signal?.throwIfAborted();
  let fire!: (e: WatchedEvent) => void;
  const fired = new Promise<WatchedEvent>((resolve) => (fire = resolve));
  const watcher = (e: WatchedEvent): void => fire(e);
  try {
    await client.getData(path, { watch: watcher, signal });
  } catch (err) {
    if (err instanceof NoNodeError) return 'gone';
    throw err;
  }
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const outcome = await new Promise<WaitOutcome | WatchedEvent>((resolve, reject) => {
      fired.then(resolve, reject);
      if (Number.isFinite(deadline)) timer = setTimeout(() => resolve('timeout'), Math.max(0, deadline - Date.now()));
      if (signal) {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    if (typeof outcome === 'string') {
      await client.removeWatches(path, 'Data', { watcher, local: true }).catch(() => {});
      return outcome;
    }
    if (outcome.type === 'None') throw new Error(`the session ended (${outcome.state}) while waiting on ${path}`);
    return 'changed';
  } catch (err) {
    await client.removeWatches(path, 'Data', { watcher, local: true }).catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Whether a contender has its turn, and if not, which node (a name in the same dir) it must outlast. */
export type Turn = { ready: true } | { ready: false; watch: string };

/** Decides a turn from the contenders in queue order and the index of our own node among them. */
export type TurnRule = (sorted: readonly string[], ourIndex: number) => Turn;

/** The usual rule: the first `slots` contenders have their turn; the others watch their predecessor. */
export function firstN(slots = 1): TurnRule {
  return (sorted, ourIndex) => (ourIndex < slots ? { ready: true } : { ready: false, watch: sorted[ourIndex - slots] });
}

/**
 * Waits until our node (a child of dir) has its turn by the rule. Each look lists dir once and
 * watches at most one other node, so a departure wakes exactly one waiter (no herd). Resolves true
 * when ready, false at the deadline; rejects with NoNodeError if our node is gone (deleted, or the
 * session lost it), or when the signal aborts. `filter` picks the queue's own names among the
 * children (e.g. a read-write lock's two kinds of node share one dir).
 */
export async function awaitTurn(
  client: ZooKeeperClient,
  dir: string,
  ourName: string,
  rule: TurnRule,
  options: { deadline?: number; signal?: AbortSignal; filter?: (name: string) => boolean } = {},
): Promise<boolean> {
  for (;;) {
    options.signal?.throwIfAborted();
    const children = await client.getChildren(dir, { signal: options.signal });
    const sorted = sortBySequence(options.filter ? children.filter(options.filter) : children);
    const ourIndex = sorted.indexOf(ourName);
    if (ourIndex < 0) throw new NoNodeError(-101, joinPath(dir, ourName), 'our node is gone');
    const turn = rule(sorted, ourIndex);
    if (turn.ready) return true;
    if ((await waitForChange(client, joinPath(dir, turn.watch), options)) === 'timeout') return false;
  }
}
