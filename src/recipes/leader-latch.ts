/**
 * Curator's LeaderLatch: a leader election seen as a latch that a candidate holds or not. It adds
 * nothing to the election but Curator's names; the election and its connection-state contract are
 * LeaderElection's.
 *
 *   const latch = new LeaderLatch(zk, '/app/leader', { id: 'host-a:8080' });
 *   latch.on('isLeader', () => startServing());
 *   latch.on('notLeader', () => stopServing());
 *   await latch.start();
 */
import { EventEmitter } from 'node:events';
import type { RequestOptions, ZooKeeperClient } from '../client/index.ts';
import { LeaderElection, type LeaderElectionOptions, type Participant } from './leader-election.ts';
import type { WaitOptions } from './waiting.ts';

export type LeaderLatchOptions = LeaderElectionOptions;

/** The events of LeaderLatch and their arguments. */
export type LeaderLatchEvents = {
  isLeader: [];
  notLeader: [];
  error: [err: unknown];
};

/**
 * A latch held by one candidate at a time. 'isLeader' when it takes the latch; 'notLeader' once when
 * it lets go (suspension, loss, close, or its node deleted), however many reasons follow.
 *
 *   const latch = new LeaderLatch(zk, '/app/leader');
 *   await latch.start();
 *   if (await latch.await({ timeoutMs: 5000 })) console.log('holding the latch');
 *   await latch.close();
 */
export class LeaderLatch extends EventEmitter<LeaderLatchEvents> {
  private readonly election: LeaderElection;
  private announced = false;

  constructor(client: ZooKeeperClient, path: string, options: LeaderLatchOptions = {}) {
    super();
    this.election = new LeaderElection(client, path, options);
    this.election.on('elected', () => {
      if (this.announced) return;
      this.announced = true;
      this.emit('isLeader');
    });
    this.election.on('revoked', () => {
      if (!this.announced) return;
      this.announced = false;
      this.emit('notLeader');
    });
    this.election.on('error', (err) => {
      if (this.listenerCount('error') > 0) this.emit('error', err);
    });
  }

  get id(): string {
    return this.election.id;
  }

  get hasLeadership(): boolean {
    return this.election.isLeader;
  }

  /** Joins the election; resolves once our node exists. */
  start(): Promise<void> {
    return this.election.start();
  }

  /** True once this latch is held, false at the timeout or when the latch is closed or lost. */
  await(options: WaitOptions = {}): Promise<boolean> {
    return this.election.waitForLeadership(options);
  }

  getLeader(options?: RequestOptions): Promise<Participant | null> {
    return this.election.getLeader(options);
  }

  getParticipants(options?: RequestOptions): Promise<Participant[]> {
    return this.election.getParticipants(options);
  }

  /** Leaves the election and deletes our node ('notLeader' first if it held the latch). */
  close(): Promise<void> {
    return this.election.close();
  }
}
