/**
 * Random operation sequences for the differential fuzzer: what one step asks of one session, as
 * plain JSON (so that a failing case prints, saves and replays as it is), and a seeded generator.
 *
 * Paths are relative to the run's root and drawn from a small tree (names a, b, c, three deep) so
 * that operations collide: creates meet existing nodes, deletes meet children, versions match.
 * `$seq` stands for the newest name a sequential create returned in this run, `#q` for the run's
 * root under /zookeeper/quota (where quota limits and statistics live).
 */
import { prng } from '../../support/prng.ts';

/** How a session identifies itself; each slot has one, kept across its reopenings. */
export const SLOT_AUTH = ['none', 'alice', 'bob', 'super'] as const;
export type SlotAuth = (typeof SLOT_AUTH)[number];

/** ACLs by name (see runner.ts for what each one is). */
export const ACL_NAMES = ['open', 'open', 'open', 'readOnly', 'noRead', 'alice', 'aliceAndWorldRead', 'bob', 'creator', 'ip', 'empty', 'badScheme', 'createOnly'] as const;
export type AclName = (typeof ACL_NAMES)[number];

export type CreateMode = 'persistent' | 'ephemeral' | 'persistentSequential' | 'ephemeralSequential' | 'container' | 'ttl' | 'ttlSequential';

/** One request. Paths are relative (`''` is the run's root, `$seq` the newest sequential name). */
export type Req =
  | { op: 'create'; path: string; data: string | null; mode: CreateMode; acl: AclName; ttl?: number; opcode?: 'create' | 'create2' }
  | { op: 'delete'; path: string; version: number }
  | { op: 'setData'; path: string; data: string | null; version: number }
  | { op: 'check'; path: string; version: number }
  | { op: 'setACL'; path: string; acl: AclName; version: number }
  | { op: 'getData' | 'exists' | 'getChildren' | 'getChildren2'; path: string; watch: boolean }
  | { op: 'getACL' | 'sync' | 'getAllChildrenNumber' | 'getEphemerals'; path: string }
  | { op: 'multi' | 'multiRead'; ops: Req[] }
  | { op: 'addWatch'; path: string; recursive: boolean }
  | { op: 'removeWatches' | 'checkWatches'; path: string; type: number }
  | { op: 'whoAmI' }
  | { op: 'close' }
  /** Drop the connection, open another for the same session and re-arm these watches (setWatches2). */
  | { op: 'reconnect'; data: string[]; exist: string[]; child: string[]; persistent: string[]; recursive: string[] };

/** One session sends these back to back (a burst when there are several), then every session settles. */
export interface Step {
  slot: number;
  reqs: Req[];
}

export interface GenerateOptions {
  /** Sessions in play (at most SLOT_AUTH.length). */
  slots?: number;
  /**
   * A check outside a multi (default true). Apache ZooKeeper 3.8's followers cannot read the Txn
   * one makes ("Unsupported Txn with type=%d13") and leave their leader: against its ensembles, a
   * sync takes its place.
   */
  topLevelCheck?: boolean;
}

const NAMES = ['a', 'b', 'c'];
/** Paths that are not valid, each with the error ZooKeeper gives it somewhere. */
const MALFORMED = ['/', '//a', '/a/./b', '/a/../b', '/a\u0000b', '/a/', 'rel'];
const VERSIONS = [-1, -1, 0, 0, 1, 2, 3, 7];
const DATA = [null, '', 'x', 'data', 'yy', 'a longer value with spaces'];
/** Well-formed quota texts (a malformed one stops ZooKeeper from serving: docs/compatibility.md). */
const QUOTA_DATA = ['count=2,bytes=10', 'count=-1,bytes=-1', 'count=0,bytes=0', 'count=5,bytes=-1,countHardLimit=3,byteHardLimit=20', 'count=1,bytes=1000'];
const QUOTA_NODES = ['/zookeeper_limits', '/zookeeper_stats'];

export function generate(seed: number, count: number, options: GenerateOptions = {}): Step[] {
  const slots = Math.min(options.slots ?? SLOT_AUTH.length, SLOT_AUTH.length);
  const random = prng(seed);
  const int = (n: number): number => Math.floor(random() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)];
  const chance = (p: number): boolean => random() < p;

  const path = (): string => {
    const r = random();
    if (r < 0.04) return '';
    if (r < 0.07) return pick(MALFORMED);
    if (r < 0.15) return '$seq';
    if (r < 0.21) {
      // The run's subtree in /zookeeper/quota: quota limits and statistics kept by the server.
      let q = '#q';
      for (let i = int(3); i > 0; i--) q += '/' + pick(NAMES);
      return chance(0.6) ? q + pick(QUOTA_NODES) : q;
    }
    const depth = r < 0.5 ? 1 : r < 0.85 ? 2 : 3;
    let p = '';
    for (let i = 0; i < depth; i++) p += '/' + pick(NAMES);
    return p;
  };
  const version = (): number => pick(VERSIONS);
  const mode = (): CreateMode => {
    const r = random();
    if (r < 0.4) return 'persistent';
    if (r < 0.55) return 'ephemeral';
    if (r < 0.7) return 'persistentSequential';
    if (r < 0.8) return 'ephemeralSequential';
    if (r < 0.88) return 'container';
    return r < 0.95 ? 'ttl' : 'ttlSequential';
  };
  const dataFor = (p: string): string | null => (QUOTA_NODES.some((n) => p.endsWith(n)) ? pick(QUOTA_DATA) : pick(DATA));
  const create = (): Req => {
    const m = mode();
    const p = path();
    const req: Req = { op: 'create', path: p, data: dataFor(p), mode: m, acl: pick(ACL_NAMES) };
    if (m === 'ttl' || m === 'ttlSequential') req.ttl = chance(0.1) ? pick([0, -5]) : 3_600_000;
    else if (chance(0.03)) req.ttl = 1000;
    if (m !== 'container' && m !== 'ttl' && m !== 'ttlSequential' && chance(0.3)) req.opcode = 'create';
    return req;
  };
  const write = (): Req => {
    const r = random();
    if (r < 0.45) return create();
    if (r < 0.65) return { op: 'delete', path: path(), version: version() };
    if (r < 0.85) {
      const p = path();
      return { op: 'setData', path: p, data: dataFor(p), version: version() };
    }
    if (r < 0.93) return { op: 'setACL', path: path(), acl: pick(ACL_NAMES), version: version() };
    return { op: 'check', path: path(), version: version() };
  };
  const read = (): Req => {
    const r = random();
    if (r < 0.25) return { op: 'getData', path: path(), watch: chance(0.4) };
    if (r < 0.45) return { op: 'exists', path: path(), watch: chance(0.4) };
    if (r < 0.6) return { op: 'getChildren', path: path(), watch: chance(0.4) };
    if (r < 0.7) return { op: 'getChildren2', path: path(), watch: chance(0.4) };
    if (r < 0.78) return { op: 'getACL', path: path() };
    if (r < 0.85) return { op: 'getAllChildrenNumber', path: path() };
    if (r < 0.92) return { op: 'getEphemerals', path: path() };
    if (r < 0.97) return { op: 'sync', path: path() };
    return { op: 'whoAmI' };
  };
  const watchOp = (): Req => {
    const r = random();
    if (r < 0.5) return { op: 'addWatch', path: path(), recursive: chance(0.5) };
    // 1 children, 2 data, 3 any, 4 persistent, 5 persistent recursive
    return { op: chance(0.6) ? 'removeWatches' : 'checkWatches', path: path(), type: 1 + int(5) };
  };
  const multiOps = (kind: 'multi' | 'multiRead'): Req[] => {
    const n = 1 + int(5);
    const ops: Req[] = [];
    for (let i = 0; i < n; i++) {
      if (kind === 'multiRead') ops.push(chance(0.5) ? { op: 'getData', path: path(), watch: false } : { op: 'getChildren', path: path(), watch: false });
      // multi takes create, delete, setData and check (the other ops are refused as a whole)
      else ops.push(chance(0.03) ? { op: 'getData', path: path(), watch: false } : withoutSetACL(write));
    }
    return ops;
  };
  const withoutSetACL = (gen: () => Req): Req => {
    for (;;) {
      const r = gen();
      if (r.op !== 'setACL') return r;
    }
  };
  const one = (): Req => {
    const r = random();
    if (r < 0.45) {
      const w = write();
      return w.op === 'check' && options.topLevelCheck === false ? { op: 'sync', path: w.path } : w;
    }
    if (r < 0.72) return read();
    if (r < 0.84) return watchOp();
    if (r < 0.93) return { op: 'multi', ops: multiOps('multi') };
    if (r < 0.97) return { op: 'multiRead', ops: multiOps('multiRead') };
    return { op: 'close' };
  };
  /** What zkCli's setquota sends: the path's nodes under /zookeeper/quota, then limits and stats. */
  const setQuota = (): Req[] => {
    const reqs: Req[] = [];
    let q = '#q';
    const depth = 1 + int(2);
    for (let i = 0; i <= depth; i++) {
      reqs.push({ op: 'create', path: q, data: null, mode: 'persistent', acl: 'open' });
      if (i < depth) q += '/' + pick(NAMES);
    }
    for (const n of QUOTA_NODES) reqs.push({ op: 'create', path: q + n, data: pick(QUOTA_DATA), mode: 'persistent', acl: 'open' });
    return reqs;
  };
  const paths = (): string[] => Array.from({ length: int(3) }, path);
  const reconnect = (): Req => ({ op: 'reconnect', data: paths(), exist: paths(), child: paths(), persistent: paths(), recursive: paths() });

  const steps: Step[] = [];
  for (let i = 0; i < count; i++) {
    const slot = int(slots);
    if (chance(0.015)) {
      steps.push({ slot, reqs: [reconnect()] });
    } else if (chance(0.02)) {
      steps.push({ slot, reqs: setQuota() });
    } else if (chance(0.05)) {
      // A burst: several requests pipelined, sometimes with the session closed in the middle.
      const reqs: Req[] = [];
      const n = 2 + int(5);
      for (let j = 0; j < n; j++) reqs.push(chance(0.1) ? { op: 'close' } : one());
      steps.push({ slot, reqs });
    } else {
      steps.push({ slot, reqs: [one()] });
    }
  }
  return steps;
}

/** A step as one line of a transcript-like listing. */
export function describeStep(step: Step, index: number): string {
  return `${String(index).padStart(4)}  s${step.slot}  ${step.reqs.map(describeReq).join('  ;  ')}`;
}

function describeReq(r: Req): string {
  const { op, ...rest } = r;
  if (op === 'multi' || op === 'multiRead') return `${op} [ ${(r as { ops: Req[] }).ops.map(describeReq).join(', ')} ]`;
  const args = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return [op, ...args].join(' ');
}
