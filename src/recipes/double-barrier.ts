/**
 * Curator's DistributedDoubleBarrier: a fixed number of members enter together and leave together.
 *
 * Layout under `path` (created as a container): one ephemeral node per member, named by its id,
 * and a persistent `ready` node, created by the member whose arrival completes the count.
 * Entering members watch only `ready`. Leaving, the lowest-named member waits for the highest to
 * go, and every other member deletes its node and waits for the lowest: a departure wakes at most
 * one waiter, until the lowest leaves last. Each member that has left deletes `ready`.
 *
 *   const barrier = new DoubleBarrier(zk, '/jobs/phase-1', 3);
 *   if (await barrier.enter({ timeoutMs: 30_000 })) {
 *     await compute();
 *     await barrier.leave();
 *   }
 */
import { randomUUID } from 'node:crypto';
import { NoNodeError, type Stat, type Watcher, type ZooKeeperClient } from '../client/index.ts';
import { childrenOf, createWithParents, deleteIfPresent } from './nodes.ts';
import { joinPath } from './paths.ts';
import { retrying } from './retry.ts';
import { deadlineOf, readOrAwait, type WaitOptions } from './waiting.ts';

/** The node whose existence lets members through enter (Curator's name, for interoperation). */
const READY = 'ready';

export interface DoubleBarrierOptions {
  /** This member's node name under the barrier path, unique among members. Default: a random UUID. */
  id?: string;
}

/**
 * A double barrier for `memberQty` members. `enter()` blocks until that many have entered;
 * `leave()` blocks until every member has left. Use one instance per member and round.
 *
 *   const barrier = new DoubleBarrier(zk, '/jobs/phase-1', 3, { id: 'worker-7' });
 *   await barrier.enter();
 *   await barrier.leave();
 */
export class DoubleBarrier {
  readonly id: string;
  private readonly readyPath: string;
  private readonly ourPath: string;

  constructor(
    private readonly client: ZooKeeperClient,
    readonly path: string,
    readonly memberQty: number,
    options: DoubleBarrierOptions = {},
  ) {
    if (!Number.isInteger(memberQty) || memberQty < 1) throw new RangeError(`memberQty must be a positive integer, not ${memberQty}`);
    this.id = options.id ?? randomUUID();
    if (this.id === READY || this.id.includes('/') || this.id === '') throw new RangeError(`a member id cannot be '${this.id}'`);
    this.readyPath = joinPath(path, READY);
    this.ourPath = joinPath(path, this.id);
  }

  /**
   * Creates this member's node and resolves true once `memberQty` members have entered (at once if
   * the barrier is already complete). At `timeoutMs` the member's node is deleted again and the
   * call resolves false — unless the barrier completed meanwhile: the member then counts as
   * entered and true is returned. When the signal aborts, the node is deleted and the call rejects
   * with the signal's reason.
   */
  async enter(options: WaitOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    try {
      for (;;) {
        const seen = await readOrAwait(this.client, this.readyPath, (watch) => this.arrive(watch, options.signal), (complete) => complete, {
          deadline,
          signal: options.signal,
        });
        if (seen.kind === 'read') return true;
        // As Curator, the creation of `ready` is enough: fast members may delete it again soon after.
        if (seen.kind === 'event' && seen.event.type === 'NodeCreated') return true;
        if (seen.kind === 'timeout') return await this.abandonEntry();
      }
    } catch (err) {
      // Aborted: the caller will not leave, so the node goes even if the barrier completed.
      if (options.signal?.aborted) await this.deleteOurNode().catch(() => {});
      throw err;
    }
  }

  /**
   * Deletes this member's node and resolves true once every member's node is gone, false at
   * `timeoutMs` (this member's node is deleted then too, so that the others are not held).
   * Deletes `ready` before resolving.
   */
  async leave(options: WaitOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    const { signal } = options;
    let ourNodeShouldExist = true;
    let result = true;
    try {
      for (;;) {
        const members = await this.members(signal);
        if (members.length === 0) break;
        const ourIndex = members.indexOf(this.id);
        if (ourIndex < 0 && ourNodeShouldExist) throw new NoNodeError(-101, this.ourPath, 'this member has not entered, or its node is gone');
        if (members.length === 1) {
          if (ourNodeShouldExist && members[0] !== this.id) throw new Error(`the last member (${members[0]}) is not this one (${this.id})`);
          if (ourNodeShouldExist) await this.deleteOurNode(signal);
          ourNodeShouldExist = false;
          break;
        }
        let awaited: string;
        if (ourIndex === 0) {
          awaited = members[members.length - 1];
        } else {
          awaited = members[0];
          if (ourNodeShouldExist) await this.deleteOurNode(signal);
          ourNodeShouldExist = false;
        }
        const awaitedPath = joinPath(this.path, awaited);
        const look = (watch: Watcher): Promise<Stat | null> => this.client.exists(awaitedPath, { watch, signal });
        const seen = await readOrAwait(this.client, awaitedPath, look, (stat) => stat === null, { deadline, signal });
        if (seen.kind === 'timeout') {
          result = false;
          break;
        }
      }
    } finally {
      if (ourNodeShouldExist) await this.deleteOurNode().catch(() => {});
    }
    await deleteIfPresent(this.client, this.readyPath, signal);
    return result;
  }

  /**
   * One look on entering: arms the watch on `ready`, creates our node, and creates `ready` if our
   * arrival completes the count. Safe to repeat after a lost connection (our node's name is ours).
   */
  private async arrive(watch: Watcher, signal: AbortSignal | undefined): Promise<boolean> {
    const ready = await this.client.exists(this.readyPath, { watch, signal });
    await createWithParents(this.client, this.ourPath, null, 'ephemeral', { signal });
    if (ready !== null) return true;
    if ((await this.members(signal)).length < this.memberQty) return false;
    await createWithParents(this.client, this.readyPath, null, 'persistent', { signal });
    return true;
  }

  /** Gives up entering, unless the barrier completed with this member counted. */
  private async abandonEntry(): Promise<boolean> {
    if ((await retrying(() => this.client.exists(this.readyPath))) !== null) return true;
    await this.deleteOurNode();
    return false;
  }

  /** Member names (without `ready`) in name order. */
  private async members(signal?: AbortSignal): Promise<string[]> {
    const children = await retrying(() => childrenOf(this.client, this.path, { signal }), { signal });
    return children.filter((name) => name !== READY).sort();
  }

  private deleteOurNode(signal?: AbortSignal): Promise<void> {
    return deleteIfPresent(this.client, this.ourPath, signal);
  }
}
