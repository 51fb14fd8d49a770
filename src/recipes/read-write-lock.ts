/**
 * The read-write lock: Curator's InterProcessReadWriteLock, herd-free and fair. Readers and
 * writers queue in one znode, `<path>/_c_<uuid>-__READ__<n>` and `<path>/_c_<uuid>-__WRIT__<n>`,
 * ordered by their common sequence number:
 *
 * - a writer holds when it is first in the queue; until then it watches its predecessor;
 * - a reader holds when no writer precedes it; until then it watches the nearest writer before it.
 *
 * A reader that arrives after a waiting writer waits for that writer, so writers do not starve.
 */
import type { ZooKeeperClient } from '../client/index.ts';
import { QueuedLock, type LockDriver } from './lock-internals.ts';
import { firstN, unprotected, type TurnRule } from './sequential.ts';

const READ_PREFIX = '__READ__';
const WRITE_PREFIX = '__WRIT__';

const isWriter = (name: string): boolean => unprotected(name).startsWith(WRITE_PREFIX);
const isContender = (name: string): boolean => isWriter(name) || unprotected(name).startsWith(READ_PREFIX);

/** A reader's turn: no writer before it; otherwise it outlasts the nearest writer before it. */
const readerRule: TurnRule = (sorted, ourIndex) => {
  for (let i = ourIndex - 1; i >= 0; i--) {
    if (isWriter(sorted[i])) return { ready: false, watch: sorted[i] };
  }
  return { ready: true };
};

const readDriver: LockDriver = { prefix: READ_PREFIX, isContender, rule: readerRule };
const writeDriver: LockDriver = { prefix: WRITE_PREFIX, isContender, rule: firstN(1) };

export interface ReadWriteLockOptions {
  /** How long a suspension lasts before a held lock counts as lost. Default: the session timeout. */
  lostAfterMs?: number;
}

/**
 * The shared half of a ReadWriteLock. Re-entrant per instance. Taken while the same ReadWriteLock
 * holds the write lock, it shares the writer's node and holds at once; releasing the write lock
 * first then keeps the node (and so the exclusion) until the read lock is released too.
 *
 *   if (await rw.readLock.acquire({ timeoutMs: 1000 })) try { read(); } finally { await rw.readLock.release(); }
 */
export class ReadLock extends QueuedLock {
  /** @param writeLock the write lock of the same ReadWriteLock */
  constructor(client: ZooKeeperClient, path: string, options: ReadWriteLockOptions, writeLock: () => WriteLock) {
    super(client, path, readDriver, {
      reentrant: true,
      lostAfterMs: options.lostAfterMs,
      sharesWith: writeLock,
      description: `the read lock ${path}`,
    });
  }
}

/**
 * The exclusive half of a ReadWriteLock. Re-entrant per instance. Requesting it while the same
 * ReadWriteLock holds only the read lock is refused at once (an upgrade would wait for itself).
 *
 *   if (await rw.writeLock.acquire()) try { write(); } finally { await rw.writeLock.release(); }
 */
export class WriteLock extends QueuedLock {
  /** @param readLock the read lock of the same ReadWriteLock */
  constructor(client: ZooKeeperClient, path: string, options: ReadWriteLockOptions, readLock: () => ReadLock) {
    super(client, path, writeDriver, {
      reentrant: true,
      lostAfterMs: options.lostAfterMs,
      excludedBy: readLock,
      description: `the write lock ${path}`,
    });
  }
}

/**
 * A distributed read-write lock: many readers at once, or one writer. Both halves have the Mutex
 * API (`acquire`, `release`, `isHeld`, `getParticipantNodes`, events 'suspended', 'reconnected',
 * 'lost'); `getParticipantNodes` lists readers and writers alike, in queue order.
 *
 *   const rw = new ReadWriteLock(zk, '/app/locks/catalog');
 *   if (await rw.writeLock.acquire({ timeoutMs: 5000 })) {
 *     try { await rebuildCatalog(); } finally { await rw.writeLock.release(); }
 *   }
 */
export class ReadWriteLock {
  readonly readLock: ReadLock;
  readonly writeLock: WriteLock;

  constructor(client: ZooKeeperClient, path: string, options: ReadWriteLockOptions = {}) {
    this.readLock = new ReadLock(client, path, options, () => this.writeLock);
    this.writeLock = new WriteLock(client, path, options, () => this.readLock);
  }
}
