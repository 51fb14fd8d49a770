/**
 * Curator's DistributedBarrier: one znode holds everyone back while it exists.
 *
 *   const barrier = new Barrier(zk, '/app/barriers/deploy');
 *   await barrier.set();                                  // close the gate
 *   if (await barrier.wait({ timeoutMs: 60_000 })) go();  // elsewhere: blocks while it is set
 *   await barrier.remove();                               // every waiter goes on
 */
import type { Stat, Watcher, ZooKeeperClient } from '../client/index.ts';
import { createWithParents, deleteIfPresent } from './nodes.ts';
import { retrying } from './retry.ts';
import { deadlineOf, readOrAwait, type WaitOptions } from './waiting.ts';

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
    await retrying(() => createWithParents(this.client, this.path, null, 'persistent', options), options);
  }

  /** Deletes the barrier node; nothing if it is not set. */
  async remove(options: { signal?: AbortSignal } = {}): Promise<void> {
    await deleteIfPresent(this.client, this.path, options.signal);
  }

  /**
   * Resolves true once the barrier node does not exist (at once if it is not set), false when
   * `timeoutMs` passes first. One exists watch on the barrier node; a dropped connection is waited
   * out (the watch is set again on reconnection). Rejects with SessionExpiredError when the
   * session ends.
   */
  async wait(options: WaitOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    const { signal } = options;
    const look = (watch: Watcher): Promise<Stat | null> => this.client.exists(this.path, { watch, signal });
    for (;;) {
      const seen = await readOrAwait(this.client, this.path, look, (stat) => stat === null, { deadline, signal });
      if (seen.kind === 'read') return true;
      if (seen.kind === 'timeout') return false;
      // An event (deleted, or its data changed): look again.
    }
  }
}
