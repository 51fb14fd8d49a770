/**
 * The core of the lock recipes (Curator's LockInternals and its drivers): a contender creates a
 * protected ephemeral-sequential node, waits for its turn watching one node only, and never leaves
 * its node behind when it gives up. A driver says which children of the lock's znode take part and
 * when a contender's turn has come; `QueuedLock` adds re-entrancy and the connection-state
 * contract on top, for the exclusive lock and both halves of the read-write lock.
 *
 *   const queue = new LockQueue(zk, '/app/locks/jobs', { prefix: 'lock-', isContender, rule: firstN(1) });
 *   const node = await queue.attempt({ deadline: deadlineOf(5000), signal });
 *   if (node !== null) try { await work(); } finally { await deleteOwnNode(zk, node); }
 */
import { EventEmitter } from 'node:events';
import type { ZooKeeperClient } from '../client/index.ts';
import { ConnectionStateTracker, sessionEnded, type ConnectionState } from './connection-state.ts';
import { deleteOwnNode, discardNode } from './nodes.ts';
import { nameOf } from './paths.ts';
import { awaitTurn, enqueueAndWait, queueOf, type TurnRule } from './sequential.ts';
import { deadlineOf, settleBy, type WaitOptions } from './waiting.ts';

/** What every acquire accepts: how long to wait (no limit by default; 0 looks once) and a way to give up. */
export type AcquireOptions = WaitOptions;

/** An acquire that was in progress when the session was lost (expired, closed, or down for too long). */
export class LockLostError extends Error {
  constructor(path: string, cause?: unknown) {
    super(`the ZooKeeper session was lost while acquiring ${path}`, { cause });
    this.name = 'LockLostError';
  }
}

/** A release of something this instance does not hold. */
export class LockNotHeldError extends Error {
  constructor(what: string) {
    super(`${what} is not held by this instance`);
    this.name = 'LockNotHeldError';
  }
}

/** How one kind of contender queues (Curator's LockInternalsDriver). */
export interface LockDriver {
  /** The name of our nodes before the sequence number, e.g. 'lock-'. */
  readonly prefix: string;
  /** Which children of the lock's znode take part in the queue. */
  readonly isContender: (name: string) => boolean;
  /** When a contender's turn has come, and which single node it watches until then. */
  readonly rule: TurnRule;
}

/**
 * The queue of contenders under one znode (Curator's LockInternals).
 *
 *   const queue = new LockQueue(zk, '/app/locks/jobs', mutexDriver);
 *   const node = await queue.attempt({ deadline: deadlineOf(5000), signal });
 */
export class LockQueue {
  private notifications = 0;

  constructor(
    readonly client: ZooKeeperClient,
    readonly path: string,
    private readonly driver: LockDriver,
  ) {}

  /** Node events that reached the watches of this queue's waits (for measuring the herd effect). */
  get watchNotifications(): number {
    return this.notifications;
  }

  /**
   * Enqueues a new node and waits for its turn. Resolves with the node's path once it has its turn,
   * null at the deadline; rejects when the signal aborts or the session ends. On every outcome but
   * the turn, the node is deleted.
   */
  async attempt(options: { deadline: number; signal: AbortSignal }): Promise<string | null> {
    const { deadline, signal } = options;
    signal.throwIfAborted();
    const turn = (node: string): Promise<boolean> =>
      awaitTurn(this.client, this.path, nameOf(node), this.driver.rule, {
        deadline,
        signal,
        filter: this.driver.isContender,
        onNotification: () => this.notifications++,
      });
    return enqueueAndWait(this.client, this.path, this.driver.prefix, turn, signal);
  }

  /** The contenders' nodes (full paths), in queue order: the holder(s) first. */
  participants(): Promise<string[]> {
    return queueOf(this.client, this.path, this.driver.isContender);
  }
}

/**
 * One client's ConnectionStateTracker per lostAfterMs, shared by every lock busy on that client
 * (one 'state' listener on the client however many locks there are), and closed when none is.
 */
const trackers = new WeakMap<ZooKeeperClient, Map<number | undefined, { tracker: ConnectionStateTracker; users: number }>>();

function followConnection(client: ZooKeeperClient, lostAfterMs: number | undefined, listener: (state: ConnectionState) => void): Following {
  let byLostAfter = trackers.get(client);
  if (byLostAfter === undefined) trackers.set(client, (byLostAfter = new Map()));
  let entry = byLostAfter.get(lostAfterMs);
  if (entry === undefined) {
    const tracker = new ConnectionStateTracker(client, { lostAfterMs });
    tracker.setMaxListeners(0);
    entry = { tracker, users: 0 };
    byLostAfter.set(lostAfterMs, entry);
  }
  const used = entry;
  used.users++;
  used.tracker.on('change', listener);
  return {
    get isConnected() {
      return used.tracker.isConnected;
    },
    stop: () => {
      used.tracker.off('change', listener);
      if (--used.users === 0) {
        used.tracker.close();
        byLostAfter.delete(lostAfterMs);
      }
    },
  };
}

interface Following {
  /** Whether the link is up as far as the events delivered so far tell (in order with replies). */
  readonly isConnected: boolean;
  stop(): void;
}

/** What a holder hears: 'suspended' (stop acting as holder), 'reconnected' (you still hold it), 'lost' (you do not). */
export type HolderEvent = 'suspended' | 'reconnected' | 'lost';
/** The events of a lock or semaphore: the HolderEvents, without arguments. */
export type HolderEvents = Record<HolderEvent, []>;

/** The recipe side of the connection-state contract: what is held, and how to give it all up. */
export interface Holder {
  isHolding(): boolean;
  /** Forgets everything held (the session is lost) and deletes its nodes in the background. */
  dropAll(): void;
  emit(event: HolderEvent): boolean;
}

/**
 * Curator's connection-state contract for a holder: while something is held or being acquired it
 * follows the client's connection, tells the holder 'suspended', 'reconnected' or 'lost', and
 * ends acquisitions in progress with LockLostError when the session is lost.
 *
 *   const states = new HolderStates(zk, undefined, { isHolding: () => count > 0, dropAll, emit: (e) => this.emit(e) });
 *   const attempt = states.startAttempt(signal, path);
 *   try { … attempt.signal … } catch (err) { throw attempt.failure(err); } finally { attempt.end(); }
 */
export class HolderStates {
  private readonly attempts = new Map<AbortController, string>();
  private following: Following | null = null;
  private readonly onChange = (state: ConnectionState): void => this.observe(state);

  constructor(
    private readonly client: ZooKeeperClient,
    private readonly lostAfterMs: number | undefined,
    private readonly holder: Holder,
  ) {}

  /**
   * An acquisition starts: its signal aborts with the caller's reason, or LockLostError if the
   * session is lost; `failure(err)` is what the acquisition rejects with (the caller's abort
   * reason as is, every failure due to the session's end as LockLostError).
   */
  startAttempt(signal: AbortSignal | undefined, path: string): { signal: AbortSignal; failure: (err: unknown) => unknown; end: () => void } {
    const lost = new AbortController();
    this.attempts.set(lost, path);
    this.refresh();
    return {
      signal: signal === undefined ? lost.signal : AbortSignal.any([signal, lost.signal]),
      failure: (err) => {
        if (signal?.aborted && err === signal.reason) return err;
        if (lost.signal.aborted) return lost.signal.reason;
        return sessionEnded(this.client) ? new LockLostError(path, err) : err;
      },
      end: () => {
        this.attempts.delete(lost);
        this.refresh();
      },
    };
  }

  /**
   * Something was just granted. If the link dropped before the grant was complete (the semaphore
   * still deletes its inner lock's node then), 'suspended' found nothing held: say it now.
   */
  granted(): void {
    if (this.following !== null && !this.following.isConnected) setImmediate(() => this.holder.isHolding() && this.holder.emit('suspended'));
  }

  /** Follows the connection exactly while something is held or being acquired. */
  refresh(): void {
    const busy = this.holder.isHolding() || this.attempts.size > 0;
    if (busy && this.following === null) this.following = followConnection(this.client, this.lostAfterMs, this.onChange);
    else if (!busy && this.following !== null) {
      this.following.stop();
      this.following = null;
    }
  }

  private observe(state: ConnectionState): void {
    switch (state) {
      case 'SUSPENDED':
        if (this.holder.isHolding()) this.holder.emit('suspended');
        break;
      case 'RECONNECTED':
        if (this.holder.isHolding()) this.holder.emit('reconnected');
        break;
      case 'LOST':
        for (const [attempt, path] of this.attempts) attempt.abort(new LockLostError(path));
        if (this.holder.isHolding()) {
          this.holder.dropAll();
          this.refresh();
          this.holder.emit('lost');
        }
        break;
      default:
        break;
    }
  }
}

/** A node held by one lock, or by two when a write-lock holder takes the read lock as well. */
interface Hold {
  readonly path: string;
  owners: number;
  dropped: boolean;
}

export interface QueuedLockOptions {
  /** A second acquire on a holding instance succeeds at once (counted; as many releases needed). */
  reentrant: boolean;
  /** How long a suspension lasts before it counts as lost. Default: the session timeout. */
  lostAfterMs?: number;
  /** A lock of the same owner whose node this one shares while that one is held (write → read). */
  sharesWith?: () => QueuedLock;
  /** A lock of the same owner that must not be held when this one is requested (read → write). */
  excludedBy?: () => QueuedLock;
  /** For messages: what this lock is, e.g. 'the write lock /app/rw'. */
  description: string;
}


/**
 * A lock whose contenders queue in sequential nodes under one znode (Curator's InterProcessMutex
 * over LockInternals). Re-entrancy belongs to the instance: JavaScript has no threads, so the
 * instance is the owner. Emits 'suspended', 'reconnected' and 'lost' while held.
 *
 *   class Mutex extends QueuedLock { constructor(zk, path) { super(zk, path, mutexDriver, { reentrant: true, description: path }); } }
 */
export abstract class QueuedLock extends EventEmitter<HolderEvents> {
  private readonly queue: LockQueue;
  private readonly states: HolderStates;
  private hold: Hold | null = null;
  /** Acquisitions not yet released. */
  private count = 0;
  /** Releases the application still owes for acquisitions the session's loss took away. */
  private lostCount = 0;
  /** A re-entrant lock's acquisition in progress: later ones wait for it rather than queue twice. */
  private pending: Promise<boolean> | null = null;

  protected constructor(
    client: ZooKeeperClient,
    readonly path: string,
    driver: LockDriver,
    private readonly options: QueuedLockOptions,
  ) {
    super();
    this.queue = new LockQueue(client, path, driver);
    this.states = new HolderStates(client, options.lostAfterMs, {
      isHolding: () => this.count > 0,
      dropAll: () => this.dropAll(),
      emit: (event) => this.emit(event),
    });
  }

  /** Whether this instance holds the lock now (false again after the last release, or once lost). */
  get isHeld(): boolean {
    return this.count > 0;
  }

  /**
   * Waits for the lock. Resolves true once held, false when timeoutMs passed first (our node is
   * then deleted). Rejects with the signal's reason on abort, with LockLostError if the session is
   * lost meanwhile, or with the client's error; our node is deleted in every such case.
   */
  async acquire(options: AcquireOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    options.signal?.throwIfAborted();
    if (this.options.reentrant) {
      for (;;) {
        if (this.count > 0) {
          this.count++;
          return true;
        }
        if (this.pending === null) break;
        if ((await settleBy(this.pending, deadline, options.signal)) === 'timeout') return false;
      }
    }
    const host = this.options.sharesWith?.();
    if (host !== undefined && host.hold !== null && !host.hold.dropped) {
      this.hold = host.hold;
      this.hold.owners++;
      this.count = 1;
      this.states.refresh();
      return true;
    }
    const excluder = this.options.excludedBy?.();
    if (excluder?.isHeld) {
      throw new Error(`${this.options.description} cannot be acquired while this instance holds ${excluder.options.description}: release it first`);
    }
    const attempt = this.enqueue(deadline, options.signal);
    if (!this.options.reentrant) return attempt;
    this.pending = attempt;
    try {
      return await attempt;
    } finally {
      this.pending = null;
    }
  }

  /**
   * Gives up one acquisition; the last one deletes our node. Rejects with LockNotHeldError when
   * this instance does not hold the lock; after a loss, the releases still owed resolve quietly.
   */
  async release(): Promise<void> {
    if (this.count === 0) {
      if (this.lostCount > 0) {
        this.lostCount--;
        return;
      }
      throw new LockNotHeldError(this.options.description);
    }
    if (--this.count > 0) return;
    const hold = this.hold!;
    this.hold = null;
    this.states.refresh();
    if (--hold.owners === 0 && !hold.dropped) {
      hold.dropped = true;
      await deleteOwnNode(this.queue.client, hold.path);
    }
  }

  /**
   * The node this instance holds the lock with, null when not held. Its sequence number
   * (`sequenceOf(nameOf(lock.nodePath))`) grows with each grant: a fencing token for the resource.
   */
  get nodePath(): string | null {
    return this.hold?.path ?? null;
  }

  /** The contenders' nodes (full paths) in queue order, the holder first. */
  getParticipantNodes(): Promise<string[]> {
    return this.queue.participants();
  }

  /**
   * How many node events have reached this instance's watches while it waited (for measuring the
   * herd effect: a release should raise the total of all waiters by exactly one).
   */
  get watchNotifications(): number {
    return this.queue.watchNotifications;
  }

  private dropAll(): void {
    const hold = this.hold!;
    this.lostCount += this.count;
    this.count = 0;
    this.hold = null;
    if (!hold.dropped) {
      hold.dropped = true;
      // If the loss was declared by time alone and the same session comes back, the node must not stay.
      void discardNode(this.queue.client, hold.path);
    }
  }

  private async enqueue(deadline: number, signal: AbortSignal | undefined): Promise<boolean> {
    const attempt = this.states.startAttempt(signal, this.path);
    try {
      const node = await this.queue.attempt({ deadline, signal: attempt.signal });
      if (node === null) return false;
      if (this.hold !== null) {
        await discardNode(this.queue.client, node);
        throw new Error(`${this.options.description}: granted while already held (a bug)`);
      }
      this.hold = { path: node, owners: 1, dropped: false };
      this.count = 1;
      this.states.granted();
      return true;
    } catch (err) {
      throw attempt.failure(err);
    } finally {
      attempt.end();
    }
  }
}
