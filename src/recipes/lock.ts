/**
 * The exclusive lock: Curator's InterProcessMutex (re-entrant) and InterProcessSemaphoreMutex
 * (not re-entrant), herd-free. Each contender creates a protected ephemeral-sequential node
 * `<path>/_c_<uuid>-lock-<n>`; the first holds the lock, every other one watches only its
 * predecessor, so a release wakes exactly one waiter.
 */
import type { ZooKeeperClient } from '../client/index.ts';
import { QueuedLock, type LockDriver } from './lock-internals.ts';
import { firstN, unprotected } from './sequential.ts';

export { LockLostError, LockNotHeldError, type AcquireOptions, type HolderEvent } from './lock-internals.ts';

/** An exclusive queue: nodes named `lock-`, the first one holds (also the semaphore's inner lock). */
export const mutexDriver: LockDriver = {
  prefix: 'lock-',
  isContender: (name) => unprotected(name).startsWith('lock-'),
  rule: firstN(1),
};

export interface MutexOptions {
  /**
   * Default true: an acquire on an instance that holds the lock succeeds at once, and as many
   * releases are needed. false: it queues like any other contender, so it can succeed only after
   * the instance's release.
   */
  reentrant?: boolean;
  /** How long a suspension lasts before the lock counts as lost. Default: the session timeout. */
  lostAfterMs?: number;
}

/**
 * A distributed exclusive lock. Re-entrancy belongs to the instance (JavaScript has no threads):
 * share one instance where code may nest, use one instance per independent owner.
 *
 * Emits, while held: 'suspended' (the link dropped: stop acting as holder), 'reconnected' (same
 * session, the node survived: you still hold it), 'lost' (the session is gone: you do not;
 * `isHeld` is false, and the releases still owed resolve without effect).
 *
 *   const lock = new Mutex(zk, '/app/locks/billing');
 *   lock.on('suspended', pauseWork).on('lost', abandonWork);
 *   if (await lock.acquire({ timeoutMs: 5000 })) {
 *     try { await chargeCustomers(); } finally { await lock.release(); }
 *   }
 */
export class Mutex extends QueuedLock {
  constructor(client: ZooKeeperClient, path: string, options: MutexOptions = {}) {
    super(client, path, mutexDriver, {
      reentrant: options.reentrant ?? true,
      lostAfterMs: options.lostAfterMs,
      description: `the lock ${path}`,
    });
  }
}
