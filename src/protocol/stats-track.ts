/**
 * ZooKeeper's quota records. A quota on a path is a pair of znodes under /zookeeper/quota<path>:
 * `zookeeper_limits`, written by clients (zkCli's setquota), and `zookeeper_stats`, which the server
 * keeps up to date. Both hold a StatsTrack's text, parsed and printed here exactly as ZooKeeper 3.8
 * does, quirks included (`count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1`).
 */
import { javaSplit, parseLong } from './java-strings.ts';

export const QUOTA_ROOT = '/zookeeper/quota';
export const LIMIT_NODE = 'zookeeper_limits';
export const STAT_NODE = 'zookeeper_stats';

/** Quotas.statPath / limitPath: plain concatenation, whatever the path looks like. */
export const statPath = (path: string): string => `${QUOTA_ROOT}${path}/${STAT_NODE}`;
export const limitPath = (path: string): string => `${QUOTA_ROOT}${path}/${LIMIT_NODE}`;
export const quotaPath = (path: string): string => `${QUOTA_ROOT}${path}`;

/** A Java runtime exception of ZooKeeper's quota code (Java would throw it out of the txn). */
export class QuotaError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuotaError';
  }
}

export type StatsKey = 'count' | 'bytes' | 'countHardLimit' | 'byteHardLimit';

function parseLongOrThrow(s: string): bigint {
  const v = parseLong(s);
  if (v === null) throw new QuotaError(`NumberFormatException: For input string: "${s}"`);
  return v;
}

/**
 * org.apache.zookeeper.StatsTrack: `key=value` pairs separated by `,` or `;`. A value left empty
 * reads as -1, a missing one is -1 when asked for. Malformed text throws (QuotaError), as in Java.
 */
export class StatsTrack {
  private readonly stats = new Map<string, bigint>();

  /** No argument: empty (`new StatsTrack()`); null data throws, as Java's `new String(null, UTF_8)`. */
  constructor(data?: Buffer | null) {
    if (data === undefined) return;
    if (data === null) throw new QuotaError('NullPointerException: StatsTrack of null data');
    const s = data.toString('utf8');
    if (s.length === 0) return;
    for (const pair of javaSplit(s, /[,;]+/)) {
      const kv = javaSplit(pair, '=');
      if (kv.length < 2) throw new QuotaError(`ArrayIndexOutOfBoundsException: Index ${kv.length} out of bounds for length ${kv.length}`);
      this.stats.set(kv[0], kv[1].length === 0 ? -1n : parseLongOrThrow(kv[1]));
    }
  }

  get(key: StatsKey): bigint {
    return this.stats.get(key) ?? -1n;
  }

  set(key: StatsKey, v: bigint): void {
    this.stats.set(key, BigInt.asIntN(64, v));
  }

  get count(): bigint {
    return this.get('count');
  }

  set count(v: bigint) {
    this.stats.set('count', BigInt.asIntN(64, v));
  }

  get bytes(): bigint {
    return this.get('bytes');
  }

  set bytes(v: bigint) {
    this.stats.set('bytes', BigInt.asIntN(64, v));
  }

  get countHardLimit(): bigint {
    return this.get('countHardLimit');
  }

  get byteHardLimit(): bigint {
    return this.get('byteHardLimit');
  }

  /** toString: count and bytes first, then "=" and the other keys in sorted order, each ";key=value". */
  toString(): string {
    let s = `count=${this.count},bytes=${this.bytes}`;
    const others = [...this.stats.keys()].filter((k) => k !== 'count' && k !== 'bytes');
    if (others.length > 0) {
      s += '=';
      for (const k of others.sort()) s += `;${k}=${this.stats.get(k)}`;
    }
    return s;
  }

  bytesOf(): Buffer {
    return Buffer.from(this.toString(), 'utf8');
  }
}
