/**
 * ZooKeeper's quota records (StatsTrack), kept as the data of the znodes
 * /zookeeper/quota<path>/zookeeper_limits and …/zookeeper_stats: "count=N,bytes=M", plus
 * hard limits. The text form is ZooKeeper 3.8's, quirks included: extra keys follow as
 * "=;key=value…", sorted (e.g. "count=5,bytes=-1=;byteHardLimit=-1;countHardLimit=-1").
 */
export class StatsTrack {
  private readonly values = new Map<string, bigint>();

  /** Parses the text form; pairs are separated by ',' or ';', an empty value reads as -1. */
  constructor(text: string | Buffer | null = '') {
    const s = text === null ? '' : typeof text === 'string' ? text : text.toString('utf8');
    if (s === '') return;
    for (const pair of s.split(/[,;]+/)) {
      const [key, value] = pair.split('=');
      if (key === undefined || key === '') continue;
      this.values.set(key, value === undefined || value === '' || !/^[-+]?\d+$/.test(value) ? -1n : BigInt(value));
    }
  }

  get(key: StatsKey): bigint {
    return this.values.get(key) ?? -1n;
  }

  set(key: StatsKey, value: bigint): void {
    this.values.set(key, value);
  }

  toString(): string {
    const extra = [...this.values.keys()].filter((k) => k !== 'count' && k !== 'bytes').sort();
    let s = `count=${this.get('count')},bytes=${this.get('bytes')}`;
    if (extra.length > 0) s += '=' + extra.map((k) => `;${k}=${this.values.get(k)}`).join('');
    return s;
  }

  toBuffer(): Buffer {
    return Buffer.from(this.toString(), 'utf8');
  }
}

export type StatsKey = 'count' | 'bytes' | 'countHardLimit' | 'byteHardLimit';

export const QUOTA_ROOT = '/zookeeper/quota';
export const LIMIT_NODE = 'zookeeper_limits';
export const STAT_NODE = 'zookeeper_stats';
