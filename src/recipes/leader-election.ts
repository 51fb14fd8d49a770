/**
 * Leader election without a herd: each candidate queues an ephemeral-sequential node under the
 * election path; the first in the queue leads, and every other candidate watches only the node just
 * before its own, so a departure wakes exactly one candidate.
 *
 *   const election = new LeaderElection(zk, '/services/billing/leader', { id: 'host-a:8080' });
 *   election.on('elected', () => startServing());
 *   election.on('revoked', (reason) => stopServing(reason));
 *   await election.start();
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AuthFailedError, NoNodeError, SessionExpiredError, type RequestOptions, type ZooKeeperClient } from '../client/index.ts';
import { ConnectionStateTracker, sessionEnded, type ConnectionState } from './connection-state.ts';
import { deleteOwnNode, discardNode } from './nodes.ts';
import { joinPath, nameOf } from './paths.ts';
import { isRetryable, sleep } from './retry.ts';
import { awaitTurn, createProtected, firstN, queueOf, unprotected } from './sequential.ts';
import { deadlineOf, settleBy, waitForChange, type WaitOptions } from './waiting.ts';

export interface LeaderElectionOptions {
  /** This candidate's identity, stored as its node's data for followers to read (e.g. 'host:port'). Default: a random UUID. */
  id?: string;
  /** Curator-style connection-state handling; default lostAfterMs = negotiated session timeout. */
  lostAfterMs?: number;
}

/**
 * Why a candidate stopped being leader:
 * - 'suspended': the connection dropped; leadership may come back ('elected') on reconnection.
 * - 'lost': the session ended (or stayed unreachable past lostAfterMs); the election is over.
 * - 'stepped_down': stepDown() was called.
 * - 'closed': close() was called.
 * - 'deleted': someone else deleted our node; the candidate queues again at the back.
 */
export type RevokeReason = 'suspended' | 'lost' | 'stepped_down' | 'closed' | 'deleted';

export interface Participant {
  /** The candidate's identity (its node's data). */
  id: string;
  /** Its node's full path. */
  path: string;
  /** Whether it is first in the queue. */
  isLeader: boolean;
}

/** The events of LeaderElection and their arguments. */
export type LeaderElectionEvents = {
  elected: [];
  revoked: [reason: RevokeReason];
  error: [err: unknown];
};

/** Our nodes are `_c_<uuid>-n_<counter>`. */
const NODE_PREFIX = 'n_';
const isCandidate = (name: string): boolean => unprotected(name).startsWith(NODE_PREFIX);

/** Pause after a retryable failure whose connection event has not arrived yet. */
const RETRY_PAUSE_MS = 100;
/** Pause after an unexpected failure of the background loop before it looks again. */
const ERROR_PAUSE_MS = 1000;

/**
 * One candidate in a leader election (Curator's LeaderLatch/LeaderSelector, kazoo's Election).
 *
 * Connection states follow Curator's contract: on SUSPENDED a leader stops leading at once
 * ('revoked' 'suspended'); on RECONNECTED (same session, our node still there) it looks again and
 * is 'elected' again if still first; on LOST (session expired or closed, or unreachable for
 * lostAfterMs) a candidate that led, or led until the suspension, hears 'revoked' 'lost' and the
 * election ends for good: make a new client and a new election.
 *
 *   const election = new LeaderElection(zk, '/app/leader', { id: 'host-a:8080' });
 *   election.on('elected', () => console.log('leading'));
 *   election.on('revoked', (reason) => console.log('not leading:', reason));
 *   await election.start();
 *   if (await election.waitForLeadership({ timeoutMs: 5000 })) doLeaderWork();
 *   await election.close();
 */
export class LeaderElection extends EventEmitter<LeaderElectionEvents> {
  readonly id: string;
  private tracker: ConnectionStateTracker | null = null;
  private started = false;
  private ended = false;
  private endedBy: 'closed' | 'lost' | null = null;
  private leader = false;
  /** We led when the connection dropped, and nothing has settled it since. */
  private leaderWhenSuspended = false;
  private nodePath: string | null = null;
  private notifications = 0;
  /** Aborted when the current look must stop: suspension, stepDown, close, loss. */
  private round = new AbortController();
  private requeue: { resolve: () => void; reject: (err: unknown) => void; promise: Promise<void> } | null = null;
  private starting: Promise<void> | null = null;
  private loop: Promise<void> | null = null;
  private closing: Promise<void> | null = null;
  /** Called once when the election ends, so that waitForLeadership() answers false. */
  private readonly endListeners = new Set<() => void>();

  constructor(
    private readonly client: ZooKeeperClient,
    private readonly path: string,
    private readonly options: LeaderElectionOptions = {},
  ) {
    super();
    this.id = options.id ?? randomUUID();
  }

  /**
   * Creates our node and starts the background loop; resolves once the node exists. Rejects when
   * the node cannot be created (the election is then over), when already started, or after close().
   * A close() while it runs makes it resolve, leaving no node.
   */
  async start(): Promise<void> {
    if (this.started) throw new Error('the election was already started');
    if (this.ended) throw new Error('the election is closed');
    this.started = true;
    this.tracker = new ConnectionStateTracker(this.client, { lostAfterMs: this.options.lostAfterMs });
    this.tracker.on('change', (state) => this.onConnectionState(state));
    this.starting = this.enter();
    try {
      await this.starting;
    } catch (err) {
      if (this.endedBy === 'closed') return;
      this.end('lost');
      throw err;
    }
    if (this.endedBy === 'lost') {
      this.abandonNode();
      throw new Error(`the session was lost while ${this.path} was being joined`);
    }
    if (this.ended) return;
    this.loop = this.run().catch((err: unknown) => this.report(err));
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Our node's full path (null before start, after close or loss, and while queuing again). */
  get ourPath(): string | null {
    return this.nodePath;
  }

  /** Number of watch notifications this candidate has received (for measuring the herd effect). */
  get watchNotifications(): number {
    return this.notifications;
  }

  /**
   * Resolves true once this candidate leads (at once if it does), false at the timeout or when the
   * election ends (close or loss); rejects with the signal's reason when it aborts.
   *
   *   if (!(await election.waitForLeadership({ timeoutMs: 10_000 }))) console.log('still a follower');
   */
  async waitForLeadership(options: WaitOptions = {}): Promise<boolean> {
    const deadline = deadlineOf(options.timeoutMs);
    options.signal?.throwIfAborted();
    if (this.leader) return true;
    if (this.ended) return false;
    let decide!: (leads: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (decide = resolve));
    const onElected = (): void => decide(true);
    const onEnded = (): void => decide(false);
    this.on('elected', onElected);
    this.endListeners.add(onEnded);
    try {
      return (await settleBy(decided, deadline, options.signal)) === 'settled' && (await decided);
    } finally {
      this.off('elected', onElected);
      this.endListeners.delete(onEnded);
    }
  }

  /**
   * Gives leadership up: emits 'revoked' 'stepped_down', deletes our node and queues a new one at
   * the back; resolves once the new node exists. A candidate that does not lead keeps its place:
   * the call does nothing.
   *
   *   election.on('elected', async () => { await runOneBatch(); await election.stepDown(); });
   */
  stepDown(): Promise<void> {
    if (this.requeue !== null) return this.requeue.promise;
    if (!this.leader || this.ended) return Promise.resolve();
    this.leader = false;
    let resolve!: () => void;
    let reject!: (err: unknown) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    this.requeue = { resolve, reject, promise };
    this.round.abort();
    this.emit('revoked', 'stepped_down');
    return promise;
  }

  /**
   * The leader as the server has it: the first node of the queue and its data (null when there is
   * no candidate).
   *
   *   const leader = await election.getLeader(); // { id: 'host-a:8080', path: '/app/leader/_c_…-n_0000000003', isLeader: true }
   */
  async getLeader(options: RequestOptions = {}): Promise<Participant | null> {
    for (;;) {
      const [first] = await this.queue(options);
      if (first === undefined) return null;
      try {
        const { data } = await this.client.getData(first, options);
        return { id: data?.toString('utf8') ?? '', path: first, isLeader: true };
      } catch (err) {
        if (!(err instanceof NoNodeError)) throw err;
        // It left between the two reads: the next one leads now.
      }
    }
  }

  /**
   * Every candidate in queue order, read from the server in one round trip after the listing.
   *
   *   for (const p of await election.getParticipants()) console.log(p.isLeader ? '*' : ' ', p.id);
   */
  async getParticipants(options: RequestOptions = {}): Promise<Participant[]> {
    const paths = await this.queue(options);
    if (paths.length === 0) return [];
    const results = await this.client.multiRead(paths.map((path) => ({ type: 'getData' as const, path })), options);
    const participants: Participant[] = [];
    results.forEach((result, i) => {
      // An error here is a candidate that left between the listing and the read.
      if (result.type !== 'getData') return;
      participants.push({ id: result.data?.toString('utf8') ?? '', path: paths[i], isLeader: participants.length === 0 });
    });
    return participants;
  }

  /**
   * Leaves the election: emits 'revoked' 'closed' at once if leading, stops the background loop,
   * waits for a create in flight, and deletes our node. Safe to call at any time, more than once.
   * Rejects only when our node could not be deleted on a live session (e.g. the connection stayed
   * down through the retries); the election is closed all the same, and the node goes with the
   * session.
   */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.end('closed');
    await this.starting?.catch(() => {});
    await this.loop;
    const path = this.nodePath;
    this.nodePath = null;
    if (path !== null) await deleteOwnNode(this.client, path);
  }

  // ---- the background loop: between start() and close(), the only code that touches our node ----

  private async run(): Promise<void> {
    while (!this.ended) {
      const round = (this.round = new AbortController());
      try {
        await this.untilUsable(round.signal);
        if (this.requeue !== null) await this.queueAgain();
        if (this.nodePath === null && !round.signal.aborted) await this.enter();
        if (round.signal.aborted || this.nodePath === null) continue;
        const ourName = nameOf(this.nodePath);
        const waiting = { signal: round.signal, onNotification: () => this.notifications++ };
        const first = await awaitTurn(this.client, this.path, ourName, firstN(1), { ...waiting, filter: isCandidate });
        if (!first || round.signal.aborted) continue;
        this.elect();
        // A leader watches its own node: someone deleting it takes leadership away.
        await waitForChange(this.client, joinPath(this.path, ourName), waiting);
      } catch (err) {
        await this.recover(err, round.signal);
      }
    }
    this.requeue?.resolve();
    this.requeue = null;
    if (this.endedBy === 'lost') this.abandonNode();
  }

  private async enter(): Promise<void> {
    // Never aborted: a create whose reply was lost is found again by its marker, not left behind.
    this.nodePath = await createProtected(this.client, this.path, NODE_PREFIX, { mode: 'ephemeral_sequential', data: this.id });
  }

  private async queueAgain(): Promise<void> {
    const request = this.requeue!;
    try {
      if (this.nodePath !== null) await deleteOwnNode(this.client, this.nodePath);
      this.nodePath = null;
      if (!this.ended) await this.enter();
      this.requeue = null;
      request.resolve();
    } catch (err) {
      this.requeue = null;
      request.reject(err);
      throw err;
    }
  }

  private async recover(err: unknown, signal: AbortSignal): Promise<void> {
    if (this.ended || signal.aborted) return; // the next round (if any) decides
    if (err instanceof SessionExpiredError || err instanceof AuthFailedError || sessionEnded(this.client)) {
      // The error may come before the client's state event does.
      this.end('lost');
    } else if (err instanceof NoNodeError) {
      // Only our own node's absence reaches here (waitForChange reports a watched node's as 'gone').
      this.nodePath = null;
      this.settle('deleted');
    } else if (isRetryable(err)) {
      await sleep(RETRY_PAUSE_MS, signal).catch(() => {});
    } else {
      this.report(err);
      await sleep(ERROR_PAUSE_MS, signal).catch(() => {});
    }
  }

  /** Resolves once the connection is usable (CONNECTED or RECONNECTED); rejects when the round is aborted. */
  private untilUsable(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const tracker = this.tracker!;
    if (isUsable(tracker.state)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onChange = (state: ConnectionState): void => {
        if (!isUsable(state)) return;
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(signal.reason);
      };
      const cleanup = (): void => {
        tracker.off('change', onChange);
        signal.removeEventListener('abort', onAbort);
      };
      tracker.on('change', onChange);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  // ---- connection states and leadership ----

  private onConnectionState(state: ConnectionState): void {
    if (this.ended) return;
    switch (state) {
      case 'SUSPENDED':
      case 'READ_ONLY':
        this.round.abort();
        if (this.leader) {
          this.leader = false;
          this.leaderWhenSuspended = true;
          this.emit('revoked', 'suspended');
        }
        break;
      case 'LOST':
        this.end('lost');
        break;
      default:
        // CONNECTED / RECONNECTED: the loop, waiting in untilUsable, looks again.
        break;
    }
  }

  private elect(): void {
    this.leaderWhenSuspended = false;
    if (this.leader) return;
    this.leader = true;
    this.emit('elected');
  }

  /** Leadership is gone for good (not merely suspended): tells a candidate that led, once. */
  private settle(reason: Exclude<RevokeReason, 'suspended'>): void {
    const led = this.leader || this.leaderWhenSuspended;
    this.leader = false;
    this.leaderWhenSuspended = false;
    if (led) this.emit('revoked', reason);
  }

  private end(by: 'closed' | 'lost'): void {
    if (this.ended) return;
    this.ended = true;
    this.endedBy = by;
    this.round.abort();
    this.tracker?.close();
    if (by === 'lost') this.abandonNode();
    this.settle(by);
    for (const listener of [...this.endListeners]) listener();
  }

  /**
   * After a loss our node is no longer ours to use. It is gone with an ended session; after a LOST by
   * time (lostAfterMs below the session timeout) the session may come back, and the node with it.
   */
  private abandonNode(): void {
    if (this.nodePath === null) return;
    void discardNode(this.client, this.nodePath);
    this.nodePath = null;
  }

  /** Lists the queue: candidate node paths in order. */
  private queue(options: RequestOptions): Promise<string[]> {
    return queueOf(this.client, this.path, isCandidate, options);
  }

  private report(err: unknown): void {
    // 'error' without a listener would throw: the loop keeps going quietly instead.
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }
}

function isUsable(state: ConnectionState): boolean {
  return state === 'CONNECTED' || state === 'RECONNECTED';
}
