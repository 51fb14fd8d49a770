/**
 * What the crash test and its writer (crash-writer.ts) share: the data each write carries (so that
 * the test can tell a value the writer wrote from a torn or invented one), a seeded PRNG, and the
 * lines the writer prints, one per event, on stdout.
 */

export const ROOT = '/crash';
export const SEQ = `${ROOT}/seq`;
export const EPH = `${ROOT}/eph`;
export const workerPath = (w: number): string => `${ROOT}/w${w}`;

export { prng } from '../support/prng.ts';

/** FNV-1a, to derive a filler from a key. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** `key:` then 0–299 bytes that depend on key only, so a value is checked whole. */
function withFiller(key: string): string {
  const h = fnv(key);
  const len = h % 300;
  let out = `${key}:`;
  for (let i = 0; i < len; i++) out += String.fromCharCode(97 + ((h >>> (i % 24)) + i) % 26);
  return out;
}

/** The data of worker w's znode at version v. */
export const valueData = (w: number, v: number): string => withFiller(`w${w}:v${v}`);

/** The (w, v) a worker znode's data claims, or null when it is not exactly what valueData writes. */
export function parseValue(data: string): { w: number; v: number } | null {
  const m = /^w(\d+):v(\d+):/.exec(data);
  if (!m) return null;
  const w = Number(m[1]);
  const v = Number(m[2]);
  return valueData(w, v) === data ? { w, v } : null;
}

/** The data of the c-th sequential create of worker w in round r. */
export const seqData = (r: number, w: number, c: number): string => withFiller(`r${r}:w${w}:c${c}`);
export const seqPrefix = (w: number): string => `w${w}-`;
export const isSeqData = (data: string): boolean => {
  const m = /^(r\d+:w\d+:c\d+):/.exec(data);
  return m !== null && withFiller(m[1]) === data;
};

/** What the writer prints, one JSON object per line. zxids are numbers (they stay far below 2^53). */
export type WriterLine =
  | { t: 'session'; s: number; id: string; timeoutMs: number }
  | { t: 'state'; s: number; state: string }
  | { t: 'start'; w: number; version: number; mzxid: number }
  | { t: 'ready' }
  | { t: 'issue'; w: number; op: 'set'; path: string; version: number; data: string }
  | { t: 'issue'; w: number; op: 'create'; path: string; data: string }
  | { t: 'issue'; w: number; op: 'delete'; path: string }
  | { t: 'issue'; s: number; op: 'eph'; path: string; data: string }
  | { t: 'ack'; w: number; op: 'set'; path: string; version: number; mzxid: number; data: string }
  | { t: 'ack'; w: number; op: 'create'; path: string; czxid: number; data: string }
  | { t: 'ack'; w: number; op: 'delete'; path: string }
  | { t: 'ack'; s: number; op: 'eph'; path: string; czxid: number; owner: string }
  /** A request whose outcome is unknown (ConnectionLoss after the kill, or still in flight at the stop). */
  | { t: 'fail'; who: string; op: string; path: string; code: string }
  /** Something that must not happen whatever the timing (a bad version, a missing node). */
  | { t: 'anomaly'; who: string; op: string; path: string; error: string };
