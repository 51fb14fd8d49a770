/**
 * The server's limits on its clients, with Apache ZooKeeper's keys where it has them: connections in
 * all and per address, the time to finish a handshake, requests in flight, bytes of replies not yet
 * sent, and the packet size. Each limit reached is counted and logged (one line per limit per
 * interval), and only the connection that reached it is refused, paused or closed: the connections
 * enforce them, this object keeps the counts they need and says which limit applies.
 */
import type { ServerConfig } from '../config.ts';
import type { Clock } from '../env/environment.ts';
import { RateLimitedLog, type WarnLog } from './rate-limited-log.ts';

/** Each limit by its zoo.cfg key (`ensemble.` ones are Ensemble's own). */
export const LIMITS = [
  'maxCnxns', 'maxClientCnxns', 'nio.sessionlessCnxnTimeout', 'globalOutstandingLimit',
  'ensemble.maxOutputBytes', 'ensemble.maxOutputBytesPerConnection', 'jute.maxbuffer',
] as const;
export type Limit = (typeof LIMITS)[number];

/** The log line of each limit reached. */
const MESSAGES: Record<Limit, string> = {
  'maxCnxns': 'connection refused: too many connections in all (maxCnxns)',
  'maxClientCnxns': 'connection refused: too many connections from this address (maxClientCnxns)',
  'nio.sessionlessCnxnTimeout': 'closing connection: no handshake within nio.sessionlessCnxnTimeout of its opening',
  'globalOutstandingLimit': 'not reading from a connection until its requests are answered: too many requests in flight (globalOutstandingLimit)',
  'ensemble.maxOutputBytes': 'closing connection: replies not yet sent to all clients are too many bytes (ensemble.maxOutputBytes), and this one holds the most',
  'ensemble.maxOutputBytesPerConnection': 'closing connection: client is not reading its replies (ensemble.maxOutputBytesPerConnection)',
  'jute.maxbuffer': 'closing connection: packet larger than jute.maxbuffer',
};

type LimitsConfig = Pick<ServerConfig, 'maxCnxns' | 'maxClientCnxns' | 'globalOutstandingLimit' | 'maxOutputBytes'>;

export class ConnectionLimits {
  /** Requests read and not yet answered, over all connections. */
  outstanding = 0;
  /** Bytes of replies and events not yet sent, over all connections, as each last counted its own. */
  outputBytes = 0;
  private readonly reachedCounts = new Map<Limit, number>();
  private readonly perAddress = new Map<string, number>();
  private open = 0;
  private readonly log: RateLimitedLog;

  constructor(private readonly config: LimitsConfig, log: WarnLog, clock: Clock, logIntervalMs?: number) {
    this.log = new RateLimitedLog(log, clock, logIntervalMs);
  }

  /** Times `limit` was reached since the server started. */
  count(limit: Limit): number {
    return this.reachedCounts.get(limit) ?? 0;
  }

  /** ZooKeeper's connection_rejected: connections refused by maxCnxns or maxClientCnxns. */
  get connectionsRejected(): number {
    return this.count('maxCnxns') + this.count('maxClientCnxns');
  }

  /** ZooKeeper's sessionless_connections_expired. */
  get sessionlessExpired(): number {
    return this.count('nio.sessionlessCnxnTimeout');
  }

  /** stat_reset (srst): the counts start again from 0, as ZooKeeper's ServerMetrics do. */
  resetCounts(): void {
    this.reachedCounts.clear();
  }

  /** Count and log that `limit` was reached; `fields` name the offender. */
  reached(limit: Limit, fields: object): void {
    this.reachedCounts.set(limit, this.count(limit) + 1);
    this.log.warn(limit, fields, MESSAGES[limit]);
  }

  /** Whether a connection from `address` may be served; when not, the refusal is counted and logged. */
  admit(address: string): boolean {
    const { maxCnxns, maxClientCnxns } = this.config;
    if (maxCnxns > 0 && this.open >= maxCnxns) {
      this.reached('maxCnxns', { client: address, max: maxCnxns });
      return false;
    }
    if (maxClientCnxns > 0 && (this.perAddress.get(address) ?? 0) >= maxClientCnxns) {
      this.reached('maxClientCnxns', { client: address, max: maxClientCnxns });
      return false;
    }
    return true;
  }

  /** A connection from `address` was admitted. */
  opened(address: string): void {
    this.open++;
    this.perAddress.set(address, (this.perAddress.get(address) ?? 0) + 1);
  }

  /** A connection from `address` is gone (each admitted connection once). */
  closed(address: string): void {
    this.open--;
    const n = (this.perAddress.get(address) ?? 0) - 1;
    if (n > 0) this.perAddress.set(address, n);
    else this.perAddress.delete(address);
  }

  /** Connections now open, and from `address`. */
  connections(address?: string): number {
    return address === undefined ? this.open : (this.perAddress.get(address) ?? 0);
  }

  /** As ZooKeeper's shouldThrottle: over globalOutstandingLimit, connections with requests in flight are not read. */
  get throttling(): boolean {
    return this.outstanding > this.config.globalOutstandingLimit;
  }

  get outputOverLimit(): boolean {
    return this.outputBytes > this.config.maxOutputBytes;
  }
}

/** The connection holding the most bytes not yet sent (undefined if none holds any). */
export function heaviest<T extends { readonly heldOutputBytes: number }>(connections: Iterable<T>): T | undefined {
  let most: T | undefined;
  for (const c of connections) if (c.heldOutputBytes > (most?.heldOutputBytes ?? 0)) most = c;
  return most;
}

/** The address a client is counted under (an IPv4 client of an IPv6 socket by its IPv4 address). */
export function clientAddress(remoteAddress: string | undefined): string {
  return (remoteAddress ?? '').replace(/^::ffff:/, '');
}
