/**
 * The counting semaphore: Curator's InterProcessSemaphoreV2. Layout under the semaphore's path:
 *
 * - `<path>/locks/_c_<uuid>-lock-<n>`: an exclusive lock that acquirers take in turn (herd-free);
 * - `<path>/leases/_c_<uuid>-lease-<n>`: one ephemeral node per lease held.
 *
 * The lock holder creates its lease; while there are more than maxLeases it waits on a child watch
 * of `leases` (only the lock holder watches, so a release wakes one process), then releases the
 * lock. Every process must use the same maxLeases.
 */
import { EventEmitter } from 'node:events';
import { NoNodeError, type Watcher, type ZooKeeperClient } from '../client/index.ts';
import { HolderStates, LockNotHeldError, LockQueue, type AcquireOptions, type HolderEvents } from './lock-internals.ts';
import { mutexDriver } from './lock.ts';
import { deleteOwnNode, discardNode } from './nodes.ts';
import { joinPath, nameOf } from './paths.ts';
import { enqueueAndWait, queueOf, unprotected } from './sequential.ts';
import { deadlineOf, readOrAwait } from './waiting.ts';

const LEASE_PREFIX = 'lease-';
const isLease = (name: string): boolean => unprotected(name).startsWith(LEASE_PREFIX);
/** Ends a lease with the session; a symbol so that only this module calls it. */
const drop = Symbol('drop');

export interface SemaphoreOptions {
  /** How many leases may be held at once, across all processes. */
  maxLeases: number;
  /** How long a suspension lasts before held leases count as lost. Default: the session timeout. */
  lostAfterMs?: number;
}

export interface SemaphoreAcquireOptions extends AcquireOptions {
  /** How many leases to take, all or none. Default 1; at most maxLeases. */
  qty?: number;
}

/**
 * One lease of a Semaphore, held until released (or lost with the session).
 *
 *   const [lease] = (await semaphore.acquire())!;
 *   try { await work(); } finally { await lease.release(); }
 */
export class Lease {
  private state: 'held' | 'released' | 'lost' = 'held';

  /** @internal created by Semaphore.acquire */
  constructor(
    /** The lease's node. */
    readonly path: string,
    private readonly client: ZooKeeperClient,
    private readonly onEnd: (lease: Lease) => void,
  ) {}

  /** Whether the lease is still held (false once released or lost with the session). */
  get isHeld(): boolean {
    return this.state === 'held';
  }

  /**
   * Deletes the lease's node, letting the next acquirer in. Resolves without effect after the
   * session's loss; rejects with LockNotHeldError on a second release.
   */
  async release(): Promise<void> {
    if (this.state === 'lost') return;
    if (this.state === 'released') throw new LockNotHeldError(`the lease ${this.path}`);
    this.state = 'released';
    this.onEnd(this);
    await deleteOwnNode(this.client, this.path);
  }

  /**
   * Ends the lease without its holder (the session is lost, or the acquire failed): its node is
   * deleted now on a live connection, otherwise once the same session is back.
   */
  [drop](): Promise<void> {
    this.state = 'lost';
    return discardNode(this.client, this.path);
  }
}


/**
 * A distributed counting semaphore: at most maxLeases leases held at once across all processes.
 *
 * Emits, while this instance holds leases: 'suspended' (the link dropped: stop relying on them),
 * 'reconnected' (same session: they survived), 'lost' (the session is gone: every lease is lost,
 * `isHeld` false, and its release resolves without effect).
 *
 *   const slots = new Semaphore(zk, '/app/semaphores/crawler', { maxLeases: 3 });
 *   const leases = await slots.acquire({ timeoutMs: 10_000 });
 *   if (leases !== null) {
 *     try { await crawl(); } finally { await Promise.all(leases.map((l) => l.release())); }
 *   }
 */
export class Semaphore extends EventEmitter<HolderEvents> {
  readonly maxLeases: number;
  private readonly locks: LockQueue;
  private readonly leasesPath: string;
  private readonly leases = new Set<Lease>();
  private readonly states: HolderStates;

  constructor(
    private readonly client: ZooKeeperClient,
    readonly path: string,
    options: SemaphoreOptions,
  ) {
    super();
    if (!Number.isInteger(options.maxLeases) || options.maxLeases < 1) {
      throw new RangeError(`maxLeases must be an integer >= 1, not ${options.maxLeases}`);
    }
    this.maxLeases = options.maxLeases;
    this.locks = new LockQueue(client, joinPath(path, 'locks'), mutexDriver);
    this.leasesPath = joinPath(path, 'leases');
    this.states = new HolderStates(client, options.lostAfterMs, {
      isHolding: () => this.leases.size > 0,
      dropAll: () => {
        for (const lease of this.leases) void lease[drop]();
        this.leases.clear();
      },
      emit: (event) => this.emit(event),
    });
  }

  /**
   * Takes qty leases (default 1), all or none. Resolves with them, or null when timeoutMs passed
   * first (nothing is left behind). Rejects with the signal's reason on abort, LockLostError if
   * the session is lost meanwhile, or the client's error; the leases taken so far are released.
   */
  async acquire(options: SemaphoreAcquireOptions = {}): Promise<Lease[] | null> {
    const { qty = 1 } = options;
    if (!Number.isInteger(qty) || qty < 1 || qty > this.maxLeases) {
      throw new RangeError(`qty must be an integer in [1, maxLeases=${this.maxLeases}], not ${qty}`);
    }
    const deadline = deadlineOf(options.timeoutMs);
    options.signal?.throwIfAborted();
    const attempt = this.states.startAttempt(options.signal, this.path);
    const taken: Lease[] = [];
    try {
      for (let i = 0; i < qty; i++) {
        const path = await this.acquireOne(deadline, attempt.signal);
        if (path === null) break;
        if (attempt.signal.aborted) {
          // Aborted (or lost) while the inner lock was being released.
          await discardNode(this.client, path);
          attempt.signal.throwIfAborted();
        }
        const lease = new Lease(path, this.client, (l) => {
          this.leases.delete(l);
          this.states.refresh();
        });
        taken.push(lease);
        this.leases.add(lease);
      }
    } catch (err) {
      for (const lease of taken) this.leases.delete(lease);
      await Promise.all(taken.map((lease) => lease[drop]()));
      throw attempt.failure(err);
    } finally {
      attempt.end();
    }
    if (taken.length === qty) {
      this.states.granted();
      return taken;
    }
    await Promise.all(taken.map((lease) => lease.release()));
    return null;
  }

  /** The nodes of the leases held now (full paths), oldest first. */
  getParticipantNodes(): Promise<string[]> {
    return queueOf(this.client, this.leasesPath, isLease);
  }

  /** One lease under the inner lock: its node's path, or null at the deadline. */
  private async acquireOne(deadline: number, signal: AbortSignal): Promise<string | null> {
    const lock = await this.locks.attempt({ deadline, signal });
    if (lock === null) return null;
    try {
      return await enqueueAndWait(this.client, this.leasesPath, LEASE_PREFIX, (lease) => this.awaitRoom(nameOf(lease), deadline, signal), signal);
    } finally {
      await discardNode(this.client, lock);
    }
  }

  /**
   * Waits until at most maxLeases leases exist, ours among them: true then, false at the deadline.
   * Only the inner lock's holder waits here, so a release wakes one process.
   */
  private async awaitRoom(ourName: string, deadline: number, signal: AbortSignal): Promise<boolean> {
    const ourPath = joinPath(this.leasesPath, ourName);
    const leases = async (watch: Watcher): Promise<string[]> => {
      const names = (await this.client.getChildren(this.leasesPath, { watch, signal })).filter(isLease);
      if (!names.includes(ourName)) throw new NoNodeError(-101, ourPath, 'our lease is gone');
      return names;
    };
    for (;;) {
      const seen = await readOrAwait(this.client, this.leasesPath, leases, (names) => names.length <= this.maxLeases, { deadline, signal });
      if (seen.kind !== 'event') return seen.kind === 'read';
    }
  }
}
