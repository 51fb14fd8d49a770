/**
 * The recipes' own znodes: created together with their missing parents, and deleted whatever the
 * link is doing at the time.
 *
 *   await createWithParents(zk, '/app/barriers/deploy', null, 'persistent');  // null if it exists
 *   await deleteIfPresent(zk, '/app/barriers/deploy');
 */
import { NodeExistsError, NoNodeError, SessionExpiredError, type CreateMode, type Data, type RequestOptions, type State, type ZooKeeperClient } from '../client/index.ts';
import { sessionEnded } from './connection-state.ts';
import { isRetryable, retrying } from './retry.ts';

/** How missing parents are created: 'container' parents vanish again once empty. */
export type ParentMode = 'persistent' | 'container';

/**
 * Creates path and every missing ancestor, all with the same mode.
 *
 *   await ensurePath(zk, '/app/elections/billing', 'container');
 */
export async function ensurePath(client: ZooKeeperClient, path: string, mode: ParentMode = 'persistent'): Promise<void> {
  if (path === '/' || (await client.exists(path)) !== null) return;
  await createWithParents(client, path, null, mode, { parentMode: mode });
}

/**
 * Creates path, first its missing parents (containers unless `parentMode` says otherwise, as
 * Curator's creatingParentContainersIfNeeded). Resolves with the created path (with its sequence
 * suffix), or null when a node of that name already exists. Not retried on a lost connection: only
 * the caller knows whether a second create is safe.
 *
 *   const path = await createWithParents(zk, '/app/jobs/qn-', 'item', 'persistent_sequential');
 */
export async function createWithParents(
  client: ZooKeeperClient,
  path: string,
  data: Data,
  mode: CreateMode,
  options: { parentMode?: ParentMode; signal?: AbortSignal } = {},
): Promise<string | null> {
  const createParents = (options.parentMode ?? 'container') === 'container' ? 'container' : true;
  try {
    return await client.create(path, data, { mode, createParents, signal: options.signal });
  } catch (err) {
    if (err instanceof NodeExistsError) return null;
    throw err;
  }
}

/**
 * The names of path's children, in the server's order; [] when path does not exist.
 *
 *   const members = (await childrenOf(zk, '/app/barriers/b1')).filter((name) => name !== 'ready');
 */
export async function childrenOf(client: ZooKeeperClient, path: string, options: RequestOptions = {}): Promise<string[]> {
  try {
    return await client.getChildren(path, options);
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
}

/**
 * Deletes path, trying again across connection losses; a node already gone is fine.
 *
 *   await deleteIfPresent(zk, '/app/barriers/deploy', signal);
 */
export async function deleteIfPresent(client: ZooKeeperClient, path: string, signal?: AbortSignal): Promise<void> {
  await retrying(async () => {
    try {
      await client.delete(path, { signal });
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
    }
  }, { signal });
}

/**
 * Deletes an ephemeral node of ours, as deleteIfPresent; a session that has ended took the node
 * with it, so that is fine too.
 *
 *   await deleteOwnNode(zk, lease.path);
 */
export async function deleteOwnNode(client: ZooKeeperClient, path: string, signal?: AbortSignal): Promise<void> {
  try {
    await deleteIfPresent(client, path, signal);
  } catch (err) {
    if (!(err instanceof SessionExpiredError) && !sessionEnded(client)) throw err;
  }
}

/**
 * Deletes a node of ours that must not outlive its purpose, and never rejects (so that it hides no
 * failure of the caller's). On a live connection it resolves once the node is gone. While the link
 * is down (at the call, or through all of deleteOwnNode's tries) it resolves without waiting, and
 * deletes the node when the same session is back, however long that takes. A session that has
 * ended took the node with it.
 *
 *   try { … } finally { if (!granted) await discardNode(zk, ourNode); }
 */
export async function discardNode(client: ZooKeeperClient, path: string): Promise<void> {
  if (client.state === 'SyncConnected') {
    try {
      await deleteOwnNode(client, path);
      return;
    } catch (err) {
      if (!isRetryable(err)) return;
    }
  }
  afterReconnection(client, () => void discardNode(client, path));
}

/** What waits for each client's reconnection: one 'state' listener per client, however many nodes. */
const awaitingReconnection = new WeakMap<ZooKeeperClient, (() => void)[]>();

/** Runs `then` once the client is connected again; never if the session ends first. */
function afterReconnection(client: ZooKeeperClient, then: () => void): void {
  if (sessionEnded(client)) return;
  let waiting = awaitingReconnection.get(client);
  if (waiting === undefined) {
    const queued: (() => void)[] = [];
    const onState = (state: State): void => {
      if (state !== 'SyncConnected' && !sessionEnded(client)) return;
      client.off('state', onState);
      awaitingReconnection.delete(client);
      if (state === 'SyncConnected') for (const run of queued) run();
    };
    client.on('state', onState);
    awaitingReconnection.set(client, (waiting = queued));
  }
  waiting.push(then);
}
