/**
 * What the recipe tests share: the sessions of one server's tests (closed after each test), a
 * link that is cut or a session expired on purpose, polling, recorders of events, and cleanup.
 *
 *   forEachServer({ tickTimeMs: 1000 }, (server, name) => {
 *     const { open, proxy, expire } = sessions(server);
 *     test(`${name}: …`, async () => {
 *       const link = await proxy();
 *       const zk = await open(link.connectString);
 *       await expire(zk, link);   // the session is gone; the link still refuses
 *     });
 *   });
 */
import { isDeepStrictEqual } from 'node:util';
import { afterEach } from 'node:test';
import { NoNodeError, connect, type ConnectOptions, type Logger, type State, type ZooKeeperClient } from '../../src/client/index.ts';
import { startProxy, type Proxy } from './proxy.ts';
import type { RunningServer } from './servers.ts';

/** Negotiated as asked on both servers (tickTime 1000: the range is 2000..20000 ms). */
export const SESSION_TIMEOUT_MS = 4000;
/**
 * How long any single wait of a test may take before it fails: far beyond what any wait needs, so
 * that only something that never happens fails it, not a busy machine.
 */
export const WAIT_MS = 30_000;

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * Polls `cond` every 10 ms until it holds; fails after timeoutMs, saying what it waited for.
 *
 *   await eventually(() => lock.isHeld, 'the lock to be held');
 */
export async function eventually(cond: () => boolean | Promise<boolean>, what: string | (() => string), timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Whether p has settled by now (after the callbacks already due have run).
 *
 *   assert.equal(await settled(waiter.acquire()), false, 'the waiter waits');
 */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

/**
 * p, or a rejection if it has not settled within ms (so that a broken recipe fails, not hangs).
 *
 *   assert.equal(await within(next, 'the next waiter'), true);
 */
export function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout;
  const limit = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing after ${ms} ms`)), ms)));
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

/**
 * One round trip on each live client, then a turn of the event loop: the server sends a watch
 * event before the reply to any later request, so afterwards no event owed to these clients is
 * missing, and their listeners have run.
 *
 *   await writer.setData(path, 'b');
 *   await caughtUp(zk);   // the cache has seen 'b', if it is to see it at all
 */
export async function caughtUp(...clients: ZooKeeperClient[]): Promise<void> {
  await Promise.all(clients.filter((c) => c.state === 'SyncConnected').map((c) => c.exists('/')));
  await new Promise((r) => setImmediate(r));
}

/**
 * Entries in the order they came, with ways to wait for them.
 *
 *   const log = new Recorder<string>();
 *   lock.on('lost', () => log.record('lost'));
 *   await log.waitFor('lost');
 */
export class Recorder<T> {
  readonly entries: T[] = [];
  readonly record = (entry: T): void => {
    this.entries.push(entry);
  };

  /** Waits until an entry deeply equal to `expected` is recorded at index `from` or later. */
  async waitFor(expected: T, from = 0): Promise<void> {
    await eventually(
      () => this.entries.slice(from).some((entry) => isDeepStrictEqual(entry, expected)),
      () => `${JSON.stringify(expected)} (seen ${JSON.stringify(this.entries.slice(from))})`,
    );
  }

  /** Waits until at least `count` entries are recorded. */
  async waitForCount(count: number): Promise<void> {
    await eventually(() => this.entries.length >= count, () => `${count} entries (seen ${JSON.stringify(this.entries)})`);
  }
}

/**
 * The states a client emits from now on.
 *
 *   const states = recordStates(zk);
 *   await states.waitFor('Expired');
 */
export function recordStates(client: ZooKeeperClient): Recorder<State> {
  const states = new Recorder<State>();
  client.on('state', states.record);
  return states;
}

/**
 * The named events an emitter emits from now on (their arguments are left out).
 *
 *   const events = recordEvents(lock, ['suspended', 'reconnected', 'lost']);
 */
export function recordEvents(emitter: { on(event: string, listener: () => void): unknown }, names: readonly string[]): Recorder<string> {
  const events = new Recorder<string>();
  for (const name of names) emitter.on(name, () => events.record(name));
  return events;
}

/**
 * The paths of the client's reads that set a watch (exists, getData, getChildren), recorded as
 * they are answered: the moments a recipe starts waiting on the server.
 *
 *   const watched = recordWatchedReads(zk);
 *   const taking = queue.take();
 *   await watched.waitForCount(1);   // take() waits on its child watch now
 */
export function recordWatchedReads(client: ZooKeeperClient): Recorder<string> {
  const watched = new Recorder<string>();
  for (const method of ['exists', 'getData', 'getChildren'] as const) {
    const original = client[method].bind(client) as (path: string, options?: { watch?: unknown }) => Promise<unknown>;
    (client as unknown as Record<string, unknown>)[method] = async (path: string, options?: { watch?: unknown }) => {
      const result = await original(path, options);
      if (options?.watch !== undefined) watched.record(path);
      return result;
    };
  }
  return watched;
}

/**
 * The names of path's children as the server has them ([] when path does not exist).
 *
 *   assert.deepEqual(await childrenOf(observer, '/app/locks'), []);
 */
export async function childrenOf(zk: ZooKeeperClient, path: string): Promise<string[]> {
  try {
    return await zk.getChildren(path);
  } catch (err) {
    if (err instanceof NoNodeError) return [];
    throw err;
  }
}

/**
 * Deletes path and everything below it; nothing if it does not exist.
 *
 *   await deleteTree(observer, '/bq-fifo');
 */
export async function deleteTree(zk: ZooKeeperClient, path: string): Promise<void> {
  await zk.deleteRecursive(path);
}

/**
 * Creates path afresh (empty), whatever an earlier run left there.
 *
 *   await freshNode(observer, '/le-herd');
 */
export async function freshNode(zk: ZooKeeperClient, path: string): Promise<void> {
  await deleteTree(zk, path);
  await zk.create(path);
}

export interface Sessions {
  /** A client with short timeouts and quick retries (through `connectString`, e.g. a proxy's). */
  open(connectString?: string, options?: ConnectOptions): Promise<ZooKeeperClient>;
  /** A proxy in front of the server, for cutting links. */
  proxy(): Promise<Proxy>;
  /** Something to close after the test, before the clients (an election, a cache). */
  closeAfter<T extends { close(): Promise<void> }>(closeable: T): T;
  /**
   * Keeps the client off the server (the link refuses new connections and is cut) and resolves
   * once the client has emitted 'Disconnected'; the recipes that follow its states have reacted.
   */
  cutOff(client: ZooKeeperClient, link: Proxy): Promise<void>;
  /**
   * Expires the client's session once it is cut off: Ensemble's TestingServer expires it
   * (expireSession); Apache ZooKeeper's is taken over by another client and closed, as kazoo forces
   * an expiry. The link keeps refusing: `link.refuse(false)` lets the client reconnect and learn
   * that its session is gone.
   */
  expire(client: ZooKeeperClient, link: Proxy): Promise<void>;
}

/**
 * The clients, proxies and recipes of one server's tests, all closed after each test. Call it in
 * the body of forEachServer.
 *
 *   const { open } = sessions(server);
 */
export function sessions(server: () => RunningServer): Sessions {
  const clients = new Set<ZooKeeperClient>();
  const proxies = new Set<Proxy>();
  const closeables: { close(): Promise<void> }[] = [];

  afterEach(async () => {
    await Promise.allSettled(closeables.splice(0).map((c) => c.close()));
    for (const p of proxies) p.refuse(false);
    await Promise.allSettled([...clients].map((c) => c.close()));
    clients.clear();
    await Promise.allSettled([...proxies].map((p) => p.close()));
    proxies.clear();
  });

  const open = async (connectString = server().connectString, options: ConnectOptions = {}): Promise<ZooKeeperClient> => {
    const client = await connect(connectString, { sessionTimeoutMs: SESSION_TIMEOUT_MS, retry: { baseDelayMs: 20, maxDelayMs: 200 }, logger: quiet, ...options });
    clients.add(client);
    return client;
  };

  const cutOff = async (client: ZooKeeperClient, link: Proxy): Promise<void> => {
    const disconnected = new Promise<void>((resolve) => {
      const onState = (state: State): void => {
        if (state !== 'Disconnected') return;
        client.off('state', onState);
        resolve();
      };
      client.on('state', onState);
    });
    link.refuse(true);
    link.cut();
    await within(disconnected, 'the client to notice the cut');
  };

  return {
    open,
    proxy: async () => {
      const p = await startProxy(server().host, server().port);
      proxies.add(p);
      return p;
    },
    closeAfter: (closeable) => {
      closeables.push(closeable);
      return closeable;
    },
    cutOff,
    expire: async (client, link) => {
      await cutOff(client, link);
      const running = server();
      if (running.expireSession) {
        await running.expireSession(client.sessionId);
        return;
      }
      const thief = await open(server().connectString, { sessionId: client.sessionId, sessionPassword: client.sessionPassword });
      await thief.close();
    },
  };
}
