/**
 * Distributed queues in the manner of Curator's SimpleDistributedQueue: each item is a persistent
 * sequential child `qn-…` of the queue's node, and the order of the queue is the order of those
 * names. The FIFO queue names items `qn-<sequence>`; the priority queue `qn-<priority>-<sequence>`,
 * so that the same name order gives priority first, then arrival.
 *
 * Consumers race for the head: each reads the first item and deletes it; the one whose delete fails
 * (NoNode) moves on to the next name. An item is delivered at most once.
 *
 *   const jobs = new DistributedQueue(zk, '/app/jobs');
 *   await jobs.put(JSON.stringify({ id: 42 }));
 *   const item = await jobs.take({ timeoutMs: 5000 }); // Buffer, or null after 5 s of empty queue
 */
import { NoNodeError, type Watcher, type ZooKeeperClient } from '../client/index.ts';
import { childrenOf, createWithParents } from './nodes.ts';
import { joinPath } from './paths.ts';
import { retrying } from './retry.ts';
import { deadlineOf, readOrAwait, type WaitOptions } from './waiting.ts';

/** The prefix of every item's name (Curator's SimpleDistributedQueue uses the same). */
const ITEM_PREFIX = 'qn-';

/**
 * What both queues share: taking, peeking and counting items in name order. Subclasses decide the
 * names, and so the order.
 *
 *   async function drain(queue: OrderedQueue): Promise<void> {
 *     for (let item = await queue.take({ timeoutMs: 0 }); item; item = await queue.take({ timeoutMs: 0 })) handle(item);
 *   }
 */
export abstract class OrderedQueue {
  constructor(
    protected readonly client: ZooKeeperClient,
    readonly path: string,
  ) {}

  /**
   * Removes and returns the first item. When the queue is empty, waits (one child watch on the
   * queue's node) for the next item, or until `timeoutMs` (then null; `timeoutMs: 0` does not
   * wait). A wait survives a dropped connection; it rejects with SessionExpiredError when the
   * session ends. An item removed here is gone from the queue even if the caller then fails.
   */
  async take(options: WaitOptions = {}): Promise<Buffer | null> {
    const deadline = deadlineOf(options.timeoutMs);
    for (;;) {
      const item = await this.first(true, options.signal);
      if (item !== null) return item;
      const seen = await readOrAwait(this.client, this.path, (watch) => this.listWatched(watch, options.signal), (names) => names === null || names.length > 0, {
        deadline,
        signal: options.signal,
      });
      if (seen.kind === 'timeout') return null;
    }
  }

  /** The first item without removing it, or null when the queue is empty. */
  peek(options: { signal?: AbortSignal } = {}): Promise<Buffer | null> {
    return this.first(false, options.signal);
  }

  /** How many items the queue holds now. */
  async size(options: { signal?: AbortSignal } = {}): Promise<number> {
    return (await this.items(options.signal)).length;
  }

  /** Adds an item named `dir/<name prefix><sequence>`; resolves with its path. */
  protected async append(namePrefix: string, item: Buffer | string, signal?: AbortSignal): Promise<string> {
    // Not retried: after a lost connection the item may or may not be in the queue, and trying
    // again could add it twice. The caller decides.
    const path = await createWithParents(this.client, joinPath(this.path, namePrefix), item, 'persistent_sequential', { signal });
    if (path === null) throw new Error(`a sequential create under ${this.path} reported an existing node`);
    return path;
  }

  /** The first item that could be read (and deleted, when `remove`), or null when none is left. */
  private async first(remove: boolean, signal?: AbortSignal): Promise<Buffer | null> {
    for (const name of await this.items(signal)) {
      const itemPath = joinPath(this.path, name);
      try {
        const { data } = await retrying(() => this.client.getData(itemPath, { signal }), { signal });
        // After a lost reply the delete is tried again; a NoNode then may mean this consumer's own
        // first attempt removed it: the item is skipped (at most once), never delivered twice.
        if (remove) await retrying(() => this.client.delete(itemPath), { signal });
        return data ?? Buffer.alloc(0);
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
        // Another consumer took it first.
      }
    }
    return null;
  }

  /** The item names in queue order (none when the queue's node does not exist). */
  private async items(signal?: AbortSignal): Promise<string[]> {
    return inQueueOrder(await retrying(() => childrenOf(this.client, this.path, { signal }), { signal }));
  }

  /**
   * Lists the items with a child watch. When the queue's node is missing (a container parent the
   * server removed once empty), watches for its creation instead: [] then, null if it is back.
   */
  private async listWatched(watch: Watcher, signal: AbortSignal | undefined): Promise<string[] | null> {
    try {
      return inQueueOrder(await this.client.getChildren(this.path, { watch, signal }));
    } catch (err) {
      if (!(err instanceof NoNodeError)) throw err;
      return (await this.client.exists(this.path, { watch, signal })) === null ? [] : null;
    }
  }
}

function inQueueOrder(children: string[]): string[] {
  return children.filter((name) => name.startsWith(ITEM_PREFIX)).sort();
}

/**
 * A FIFO queue (Curator's SimpleDistributedQueue layout: items `qn-<sequence>` under `path`).
 *
 *   const queue = new DistributedQueue(zk, '/app/jobs');
 *   await queue.put('job-1');
 *   const next = await queue.take(); // <Buffer 6a 6f 62 2d 31>
 */
export class DistributedQueue extends OrderedQueue {
  /**
   * Appends an item; resolves with its node's path. Creates the queue's node (and its parents) as
   * containers if missing. On ConnectionLossError the item may or may not have been added.
   */
  put(item: Buffer | string, options: { signal?: AbortSignal } = {}): Promise<string> {
    return this.append(ITEM_PREFIX, item, options.signal);
  }
}

/**
 * A priority queue: a lower priority number comes out first, and items of equal priority in the
 * order they were put. Priorities are 32-bit signed integers.
 *
 *   const queue = new PriorityQueue(zk, '/app/urgent');
 *   await queue.put('routine', 10);
 *   await queue.put('now', -1);
 *   await queue.take(); // 'now'
 */
export class PriorityQueue extends OrderedQueue {
  /** Appends an item with its priority; resolves with its node's path (as DistributedQueue.put). */
  put(item: Buffer | string, priority: number, options: { signal?: AbortSignal } = {}): Promise<string> {
    return this.append(`${ITEM_PREFIX}${sortablePriority(priority)}-`, item, options.signal);
  }
}

/**
 * Curator's DistributedPriorityQueue encoding: '0' for a negative priority, '1' otherwise, then its
 * 32 bits in 8 hex digits, so that the names sort as the numbers do.
 */
export function sortablePriority(priority: number): string {
  if (!Number.isInteger(priority) || priority < -(2 ** 31) || priority >= 2 ** 31) throw new RangeError(`a priority must be a 32-bit integer, not ${priority}`);
  return `${priority < 0 ? '0' : '1'}${(priority >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
