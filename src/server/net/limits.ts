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
  'ensemble.maxOutputBytes', 'ensemble.maxOutputBytesPerConnection', 'ensemble.maxInputBytes', 'jute.maxbuffer',
] as const;
export type Limit = (typeof LIMITS)[number];
/** The bounds on bytes held over all connections, past which the connection holding the most is closed. */
export type ByteLimit = 'ensemble.maxOutputBytes' | 'ensemble.maxInputBytes';

/** What a connection holds: replies not yet sent, and bytes received that are not yet a whole request. */
export interface Holder {
  readonly heldOutputBytes: number;
  readonly heldInputBytes: number;
}

/** What `limit` counts of what `c` holds. */
export const heldBy = (c: Holder, limit: ByteLimit): number => (limit === 'ensemble.maxOutputBytes' ? c.heldOutputBytes : c.heldInputBytes);

/** The log line of each limit reached. */
const MESSAGES: Record<Limit, string> = {
  'maxCnxns': 'connection refused: too many connections in all (maxCnxns)',
  'maxClientCnxns': 'connection refused: too many connections from this address (maxClientCnxns)',
  'nio.sessionlessCnxnTimeout': 'closing connection: no handshake within nio.sessionlessCnxnTimeout of its opening',
  'globalOutstandingLimit': 'not reading from a connection until its requests are answered: too many requests in flight (globalOutstandingLimit)',
  'ensemble.maxOutputBytes': 'closing connection: replies not yet sent to all clients are too many bytes (ensemble.maxOutputBytes), and this one holds the most',
  'ensemble.maxOutputBytesPerConnection': 'closing connection: client is not reading its replies (ensemble.maxOutputBytesPerConnection)',
  'ensemble.maxInputBytes': 'closing connection: bytes received from all clients and not yet whole requests are too many (ensemble.maxInputBytes), and this one holds the most',
  'jute.maxbuffer': 'closing connection: packet larger than jute.maxbuffer',
};

type LimitsConfig = Pick<ServerConfig, 'maxCnxns' | 'maxClientCnxns' | 'globalOutstandingLimit' | 'maxOutputBytes' | 'maxInputBytes'>;

export class ConnectionLimits {
  /** Requests read and not yet answered, over all connections. */
  outstanding = 0;
  /** Bytes of replies and events not yet sent, over all connections, as each last counted its own. */
  outputBytes = 0;
  /** Bytes received and not yet whole requests, over all connections, as each last counted its own. */
  inputBytes = 0;
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

  /** What a byte limit counts over all connections, and its bound. */
  bytes(limit: ByteLimit): { total: number; max: number } {
    return limit === 'ensemble.maxOutputBytes'
      ? { total: this.outputBytes, max: this.config.maxOutputBytes }
      : { total: this.inputBytes, max: this.config.maxInputBytes };
  }

  over(limit: ByteLimit): boolean {
    const { total, max } = this.bytes(limit);
    return total > max;
  }
}

/** The connection holding the most of what `limit` counts (undefined if none holds any). */
export function heaviest<T extends Holder>(connections: Iterable<T>, limit: ByteLimit): T | undefined {
  let most: T | undefined;
  let mostBytes = 0;
  for (const c of connections) {
    const bytes = heldBy(c, limit);
    if (bytes > mostBytes) [most, mostBytes] = [c, bytes];
  }
  return most;
}

/** The address a client is counted under (an IPv4 client of an IPv6 socket by its IPv4 address). */
export function clientAddress(remoteAddress: string | undefined): string {
  return (remoteAddress ?? '').replace(/^::ffff:/, '');
}
