/**
 * The machinery shared by the recipes that queue contenders in sequential znodes (leader election,
 * locks, semaphores, the service registry): Curator's protected create, ordering by sequence
 * number, joining a queue without leaving a node behind, and the herd-free wait in which each
 * contender watches only the node it must outlast.
 */
import { randomUUID } from 'node:crypto';
import { NoNodeError, type CreateMode, type Data, type RequestOptions, type ZooKeeperClient } from '../client/index.ts';
import { childrenOf, createWithParents, discardNode, type ParentMode } from './nodes.ts';
import { joinPath } from './paths.ts';
import { isRetryable, sleep } from './retry.ts';
import { TIMED_OUT, untilAnswered, waitForChange } from './waiting.ts';

/** Curator's protection marker: `_c_<uuid>-` before the node's own prefix. */
const PROTECTION = /^_c_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-/;

/**
 * The 10-digit counter ZooKeeper appends to a sequential node's name (NaN when there is none).
 *
 *   sequenceOf('_c_…-lock-0000000007');   // 7
 */
export function sequenceOf(name: string): number {
  const digits = name.slice(-10);
  return /^\d{10}$/.test(digits) ? Number(digits) : Number.NaN;
}

/**
 * Sequential node names in queue order; names without a counter are left out.
 *
 *   sortBySequence(['n_0000000002', 'ready', 'n_0000000001']);   // ['n_0000000001', 'n_0000000002']
 */
export function sortBySequence(names: readonly string[]): string[] {
  return names.filter((n) => !Number.isNaN(sequenceOf(n))).sort((a, b) => sequenceOf(a) - sequenceOf(b));
}

/**
 * The full paths of the children of dir that `filter` accepts, in queue (sequence) order; [] when
 * dir does not exist.
 *
 *   const [holder] = await queueOf(zk, '/app/locks/jobs', (name) => unprotected(name).startsWith('lock-'));
 */
export async function queueOf(client: ZooKeeperClient, dir: string, filter: (name: string) => boolean, options: RequestOptions = {}): Promise<string[]> {
  const children = await childrenOf(client, dir, options);
  return sortBySequence(children.filter(filter)).map((name) => joinPath(dir, name));
}

/**
 * A name without its protection marker.
 *
 *   unprotected('_c_<uuid>-lock-0000000003');   // 'lock-0000000003'
 */
export function unprotected(name: string): string {
  return name.replace(PROTECTION, '');
}

export interface ProtectedCreateOptions {
  mode: CreateMode;
  data?: Data;
  /** How missing parents are created. Default 'container'. */
  parentMode?: ParentMode;
  signal?: AbortSignal;
}

/** How many times a create whose reply was lost is looked for and tried again. */
const MAX_CREATE_ATTEMPTS = 10;

/**
 * Creates `dir/_c_<uuid>-prefix` (sequential modes append the counter) and returns its path.
 * When the connection drops before the reply, the create may or may not have happened: after the
 * reconnection the marker finds it again, so no orphan is left and no second node made. Missing
 * parents are created (a container parent may vanish between two contenders' creates). The
 * signal is heeded between tries only: a create abandoned midway could leave its node behind.
 *
 *   const node = await createProtected(zk, '/app/locks/jobs', 'lock-', { mode: 'ephemeral_sequential' });
 */
export async function createProtected(client: ZooKeeperClient, dir: string, prefix: string, options: ProtectedCreateOptions): Promise<string> {
  const marker = `_c_${randomUUID()}-`;
  const path = joinPath(dir, `${marker}${prefix}`);
  let uncertain = false;
  for (let attempt = 0; ; attempt++) {
    options.signal?.throwIfAborted();
    try {
      const found = uncertain ? await findMarked(client, dir, marker) : undefined;
      if (found !== undefined) return joinPath(dir, found);
      const created = await createWithParents(client, path, options.data ?? null, options.mode, { parentMode: options.parentMode });
      if (created === null) throw new Error(`${path} exists already: its marker is not unique`);
      return created;
    } catch (err) {
      if (!isRetryable(err) || attempt >= MAX_CREATE_ATTEMPTS) throw err;
      uncertain = true;
      await sleep(Math.min(2000, 50 * 2 ** attempt), options.signal);
    }
  }
}

/** The child of dir whose name starts with marker, if there is one. */
async function findMarked(client: ZooKeeperClient, dir: string, marker: string): Promise<string | undefined> {
  return (await childrenOf(client, dir)).find((name) => name.startsWith(marker));
}

/**
 * Adds a protected ephemeral-sequential node of ours to dir and waits with it: resolves with the
 * node when `wait(node)` resolves true, null when it resolves false. The node is kept only in the
 * first case: after false, a failure or an abort of the signal it is discarded again.
 *
 *   const node = await enqueueAndWait(zk, dir, 'lock-', (node) => awaitTurn(zk, dir, nameOf(node), firstN(1), { deadline, signal }), signal);
 */
export async function enqueueAndWait(
  client: ZooKeeperClient,
  dir: string,
  prefix: string,
  wait: (node: string) => Promise<boolean>,
  signal: AbortSignal,
): Promise<string | null> {
  // Not aborted midway: a create abandoned while its reply is uncertain would leave a node in the queue.
  const node = await createProtected(client, dir, prefix, { mode: 'ephemeral_sequential' });
  let kept = false;
  try {
    kept = await wait(node);
    // The loss of the session may be learnt just as the wait ends.
    if (kept) signal.throwIfAborted();
    return kept ? node : null;
  } catch (err) {
    kept = false;
    throw err;
  } finally {
    if (!kept) await discardNode(client, node);
  }
}

/** Whether a contender has its turn, and if not, which node (a name in the same dir) it must outlast. */
export type Turn = { ready: true } | { ready: false; watch: string };

/** Decides a turn from the contenders in queue order and the index of our own node among them. */
export type TurnRule = (sorted: readonly string[], ourIndex: number) => Turn;

/**
 * The usual rule: the first `slots` contenders have their turn; the others watch the contender
 * `slots` places before them.
 *
 *   await awaitTurn(zk, dir, ourName, firstN(1), { deadline });   // an exclusive lock
 */
export function firstN(slots = 1): TurnRule {
  return (sorted, ourIndex) => (ourIndex < slots ? { ready: true } : { ready: false, watch: sorted[ourIndex - slots] });
}

/**
 * Waits until our node (a child of dir) has its turn by the rule. Each look lists dir once and
 * watches at most one other node, so a departure wakes exactly one waiter (no herd). Resolves true
 * when ready, false at the deadline; rejects with NoNodeError if our node is gone (deleted, or the
 * session lost it), with SessionExpiredError when the session ends, or when the signal aborts.
 * Lost connections are waited out (see waiting.ts). `filter` picks the queue's own names among
 * the children (e.g. a read-write lock's two kinds of node share one dir); `onNotification` hears
 * each node event that reaches the watch.
 *
 *   const ours = await awaitTurn(zk, '/app/locks/jobs', nameOf(node), firstN(1), { deadline, signal });
 */
export async function awaitTurn(
  client: ZooKeeperClient,
  dir: string,
  ourName: string,
  rule: TurnRule,
  options: { deadline?: number; signal?: AbortSignal; filter?: (name: string) => boolean; onNotification?: () => void } = {},
): Promise<boolean> {
  const { deadline = Number.POSITIVE_INFINITY, signal, filter, onNotification } = options;
  for (;;) {
    signal?.throwIfAborted();
    const children = await untilAnswered(() => client.getChildren(dir, { signal }), deadline, signal);
    if (children === TIMED_OUT) return false;
    const sorted = sortBySequence(filter ? children.filter(filter) : children);
    const ourIndex = sorted.indexOf(ourName);
    if (ourIndex < 0) throw new NoNodeError(-101, joinPath(dir, ourName), 'our node is gone');
    const turn = rule(sorted, ourIndex);
    if (turn.ready) return true;
    if ((await waitForChange(client, joinPath(dir, turn.watch), { deadline, signal, onNotification })) === 'timeout') return false;
  }
}
