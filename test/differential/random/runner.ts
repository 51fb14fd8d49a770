/**
 * Runs random steps against one server and turns each into a normalized record: every reply (error
 * code, zxid, result with its Stat), and what every session received up to a barrier (watch events
 * in order, interleaved with the acting session's replies). `compare` runs the same steps against
 * Apache ZooKeeper and Ensemble in lockstep and returns the first step whose records differ.
 *
 * The barrier: after a step, each open session sends exists("/") and waits for its reply. Both
 * servers queue a watch event on a connection before any reply that comes after the change, so
 * what arrived before that reply is exactly what the step caused.
 */
import { CreateFlag, OpCode } from '../../../src/protocol/constants.ts';
import { digestOf } from '../../../src/protocol/digest.ts';
import type { ACL, MultiOp } from '../../../src/protocol/records.ts';
import { OPEN_ACL_UNSAFE, outcomeOf, RawClient, type LogEntry, type Result } from '../../support/raw-client.ts';
import { SUPER_AUTH, type RunningServer, type ServerOptions } from '../../support/servers.ts';
import { Script } from '../harness.ts';
import { SLOT_AUTH, type AclName, type CreateMode, type Req, type Step } from './steps.ts';

/** What both servers run with: TTL nodes on, a super user, and no reaper (its timing is not comparable). */
export const FUZZ_SERVER_OPTIONS: ServerOptions = {
  extendedTypesEnabled: true,
  superDigest: 'super:D/InIHSb7yEEbrWz8b9l71RjZJU=',
  containerCheckIntervalMs: 24 * 3600_000,
};

const SECRETS: Record<string, string> = { alice: 'alice:secret', bob: 'bob:secret', super: SUPER_AUTH };
const REPLY_TIMEOUT_MS = 10_000;
const SESSION_TIMEOUT_MS = 30_000;

const world = (perms: number): ACL => ({ perms, id: { scheme: 'world', id: 'anyone' } });
const digest = (who: string, perms = 31): ACL => ({ perms, id: { scheme: 'digest', id: digestOf(SECRETS[who]) } });

const ACLS: Record<AclName, ACL[]> = {
  open: OPEN_ACL_UNSAFE,
  readOnly: [world(1)],
  noRead: [world(30)],
  alice: [digest('alice')],
  aliceAndWorldRead: [digest('alice'), world(1)],
  bob: [digest('bob')],
  creator: [{ perms: 31, id: { scheme: 'auth', id: '' } }],
  ip: [{ perms: 31, id: { scheme: 'ip', id: '127.0.0.1' } }],
  empty: [],
  badScheme: [{ perms: 31, id: { scheme: 'nosuch', id: 'x' } }],
  createOnly: [world(4 | 8)],
};

const FLAGS: Record<CreateMode, number> = {
  persistent: CreateFlag.persistent,
  ephemeral: CreateFlag.ephemeral,
  persistentSequential: CreateFlag.persistentSequential,
  ephemeralSequential: CreateFlag.ephemeralSequential,
  container: CreateFlag.container,
  ttl: CreateFlag.persistentWithTtl,
  ttlSequential: CreateFlag.persistentSequentialWithTtl,
};

/** Requests that use a zxid when ZooKeeper prepares them (a closeSession included). */
const WRITES = new Set(['create', 'delete', 'setData', 'setACL', 'check', 'multi', 'close']);

export type Record_ = Record<string, unknown>;

/** One server's side of a run: the sessions of each slot, the normalizer, the newest sequential name. */
export class Run {
  private readonly slots: Array<RawClient | null>;
  private readonly seen = new Map<RawClient, number>();
  private readonly zxidCarried = new Map<RawClient, number>();
  private lastSequential: string | null = null;

  private constructor(private readonly script: Script, slotCount: number) {
    this.slots = new Array<RawClient | null>(slotCount).fill(null);
  }

  /** Creates the run's root with the control session (not recorded); zxids count from there. */
  static async start(server: RunningServer, control: RawClient, root: string, slotCount: number): Promise<Run> {
    const made = await control.tryCreate(root, '');
    if (made.err !== 0) throw new Error(`${server.name}: cannot create ${root}: err ${made.err}`);
    return new Run(new Script(server, root, made.zxid), slotCount);
  }

  get name(): string {
    return this.script.name;
  }

  async step(step: Step): Promise<Record_> {
    const record: Record_ = { slot: step.slot };
    let c = await this.open(step.slot, record);
    const first = step.reqs[0];
    if (first?.op === 'reconnect') {
      c = await this.reconnect(step.slot, c, record);
      record.results = await this.send(c, [first]);
      record.events = await this.settle();
      return record;
    }
    const results = await this.send(c, step.reqs);
    record.results = results;
    const closeAt = step.reqs.findIndex((r) => r.op === 'close');
    if (closeAt >= 0) {
      // Whatever was pipelined behind the close is a race in ZooKeeper (answered SESSIONEXPIRED, or
      // never read): only that nothing of it took effect is compared, and a write there may have
      // used a zxid.
      if (step.reqs.slice(closeAt + 1).some((r) => WRITES.has(r.op))) this.script.zxidsComparable = false;
      await c.waitForClose(REPLY_TIMEOUT_MS).catch(() => undefined);
      c.destroy();
      this.slots[step.slot] = null;
      // The replies behind the close are part of the race: only events and the close are kept.
      // With requests behind it, ZooKeeper may drop the connection before the close is applied,
      // and with it the events the close causes for this session: then only the close is kept.
      const tail = closeAt < step.reqs.length - 1;
      record.events = { [`s${step.slot}`]: this.take(c, false).filter((e) => e !== 'reply' && (!tail || e === 'closed')) };
    }
    record.events = { ...(record.events as object), ...(await this.settle()) };
    if (closeAt > 0 && step.reqs.slice(0, closeAt).some((r) => WRITES.has(r.op))) {
      // Whether the writes pipelined before the close were applied when ZooKeeper prepared it is a
      // race, and it decides the order in which the close deletes their paths: events as multisets.
      for (const [slot, events] of Object.entries(record.events as Record<string, unknown[]>)) {
        (record.events as Record<string, unknown[]>)[slot] = events.map((e) => JSON.stringify(e)).sort();
      }
    }
    return record;
  }

  /** Close every session (not recorded). */
  async finish(): Promise<void> {
    await Promise.all(this.slots.map((c) => c?.close().catch(() => c.destroy())));
    this.slots.fill(null);
  }

  private async open(slot: number, record: Record_): Promise<RawClient> {
    const existing = this.slots[slot];
    if (existing?.isOpen) return existing;
    const { host, port } = this.script.server;
    const c = await RawClient.connect(host, port, { timeoutMs: SESSION_TIMEOUT_MS });
    this.slots[slot] = c;
    this.seen.set(c, 0);
    record.opened = this.script.session(c.sessionId);
    await this.authenticate(c, slot, record);
    return c;
  }

  /** A new connection of the slot's session presents the slot's identity. */
  private async authenticate(c: RawClient, slot: number, record: Record_): Promise<void> {
    const auth = SLOT_AUTH[slot];
    if (auth !== 'none') record.auth = (await c.tryAuth('digest', SECRETS[auth])).err;
    this.take(c, true);
  }

  /**
   * The session moves to a new connection, as a client does after a network blip: the old one is
   * dropped (its watches go with it) and the new one presents the session and the last zxid seen.
   */
  private async reconnect(slot: number, old: RawClient, record: Record_): Promise<RawClient> {
    const before = this.take(old, false);
    if (before.length > 0) record.before = before;
    old.destroy();
    const { host, port } = this.script.server;
    const c = await RawClient.connect(host, port, {
      timeoutMs: SESSION_TIMEOUT_MS, sessionId: old.sessionId, passwd: old.session.passwd, lastZxidSeen: this.lastZxidSeen(old),
    });
    this.slots[slot] = c;
    this.seen.set(c, 0);
    this.zxidCarried.set(c, this.lastZxidSeen(old));
    record.reconnected = c.expired ? 'refused' : this.script.session(c.sessionId);
    await this.authenticate(c, slot, record);
    return c;
  }

  /** The highest zxid the session saw in a reply, on c or the connections before it. */
  private lastZxidSeen(c: RawClient): number {
    let z = this.zxidCarried.get(c) ?? 0;
    for (const e of c.log) if (e.kind === 'reply' && e.zxid > z) z = e.zxid;
    return z;
  }

  /** Send the requests back to back, then collect each reply in order. */
  private async send(c: RawClient, reqs: Req[]): Promise<unknown[]> {
    const promises: Array<Promise<Result<unknown>>> = [];
    for (const r of reqs) {
      const p = this.request(c, r);
      p.catch(() => undefined);
      promises.push(p);
      // ZooKeeper authorizes writes prepared while a setACL is in flight against the ACL before it,
      // Ensemble against the new one (docs/compatibility.md): nothing is pipelined behind a setACL.
      if (r.op === 'setACL') await settleReply(p);
    }
    // Neither server answers a check sent on its own: the reply to a request behind it shows that
    // at once (NoReplyError) instead of after a timeout. Behind a close it would join the race.
    if (!reqs.some((r) => r.op === 'close')) c.tryExists('/').catch(() => undefined);
    const out: unknown[] = [];
    let closed = false;
    for (let i = 0; i < reqs.length; i++) {
      const outcome = await settleReply(promises[i]);
      if (closed) {
        out.push('afterClose');
        continue;
      }
      if (reqs[i].op === 'close') {
        closed = true;
        // With requests pipelined behind it, whether ZooKeeper's reply to the close itself gets out
        // before the connection closes is a race too.
        if (i < reqs.length - 1) {
          out.push('close');
          continue;
        }
      }
      if (typeof outcome === 'string') {
        out.push(outcome);
        continue;
      }
      this.noteSequential(reqs[i], outcome);
      out.push({ err: (this.script.norm({ err: outcome.err }) as { err: unknown }).err, zxid: this.script.zxid(outcome.zxid), result: this.script.norm(outcome.value, reqs[i].op) });
    }
    return out;
  }

  private request(c: RawClient, r: Req): Promise<Result<unknown>> {
    switch (r.op) {
      case 'create': {
        const opcode = r.opcode === 'create' ? OpCode.create : undefined;
        return c.tryCreate(this.path(r.path), r.data, { flags: FLAGS[r.mode], acl: ACLS[r.acl], ttl: r.ttl, opcode });
      }
      case 'delete': return c.tryDelete(this.path(r.path), r.version);
      case 'setData': return c.trySetData(this.path(r.path), r.data, r.version);
      case 'check': return c.tryCheck(this.path(r.path), r.version);
      case 'setACL': return c.trySetACL(this.path(r.path), ACLS[r.acl], r.version);
      case 'getData': return c.tryGetData(this.path(r.path), r.watch);
      case 'exists': return c.tryExists(this.path(r.path), r.watch);
      case 'getChildren': return c.tryGetChildren(this.path(r.path), r.watch);
      case 'getChildren2': return c.tryGetChildren2(this.path(r.path), r.watch);
      case 'getACL': return c.tryGetACL(this.path(r.path));
      case 'sync': return c.trySync(this.path(r.path));
      case 'getAllChildrenNumber': return c.tryGetAllChildrenNumber(this.path(r.path));
      case 'getEphemerals': return c.tryGetEphemerals(this.path(r.path));
      case 'multi': return c.tryMulti(r.ops.map((op) => this.multiOp(op)));
      case 'multiRead': return c.tryMultiRead(r.ops.map((op) => this.multiOp(op)));
      case 'addWatch': return c.tryAddWatch(this.path(r.path), r.recursive ? 1 : 0);
      case 'removeWatches': return c.tryRemoveWatches(this.path(r.path), r.type);
      case 'checkWatches': return c.tryCheckWatches(this.path(r.path), r.type);
      case 'whoAmI': return c.tryWhoAmI();
      case 'close': return c.tryClose();
      case 'reconnect': {
        const paths = (xs: string[]): string[] => xs.map((x) => this.path(x));
        return c.trySetWatches({
          relativeZxid: this.lastZxidSeen(c), dataWatches: paths(r.data), existWatches: paths(r.exist), childWatches: paths(r.child),
          persistentWatches: paths(r.persistent), persistentRecursiveWatches: paths(r.recursive),
        }, true);
      }
    }
  }

  private multiOp(r: Req): MultiOp {
    switch (r.op) {
      case 'create': {
        const flags = FLAGS[r.mode];
        const type = r.mode === 'container' ? OpCode.createContainer
          : r.mode === 'ttl' || r.mode === 'ttlSequential' ? OpCode.createTTL
          : r.opcode === 'create' ? OpCode.create : OpCode.create2;
        return { type, req: { path: this.path(r.path), data: toBuffer(r.data), acl: ACLS[r.acl], flags, ttl: r.ttl ?? -1 } };
      }
      case 'delete': return { type: OpCode.delete, req: { path: this.path(r.path), version: r.version } };
      case 'setData': return { type: OpCode.setData, req: { path: this.path(r.path), data: toBuffer(r.data), version: r.version } };
      case 'check': return { type: OpCode.check, req: { path: this.path(r.path), version: r.version } };
      case 'getData': return { type: OpCode.getData, req: { path: this.path(r.path), watch: false } };
      case 'getChildren': return { type: OpCode.getChildren, req: { path: this.path(r.path), watch: false } };
      default: throw new Error(`${r.op} cannot go in a multi here`);
    }
  }

  private path(rel: string): string {
    if (rel === 'rel') return 'rel';
    if (rel === '$seq') return this.lastSequential ?? `${this.script.root}/a`;
    if (rel.startsWith('#q')) return `/zookeeper/quota${this.script.root}${rel.slice(2)}`;
    return this.script.root + rel;
  }

  /** Remember the newest name a sequential create returned (a multi's included). */
  private noteSequential(r: Req, outcome: Result<unknown>): void {
    if (outcome.err !== 0) return;
    const paths: unknown[] = [];
    if (r.op === 'create') paths.push((outcome.value as { path?: unknown })?.path);
    if (r.op === 'multi') for (const x of (outcome.value as Array<{ path?: unknown }>) ?? []) paths.push(x.path);
    for (const p of paths) if (typeof p === 'string' && /\d{10}$/.test(p)) this.lastSequential = p;
  }

  /** The barrier: what each open session received up to a reply sent after the step. */
  private async settle(): Promise<Record_> {
    const events: Record_ = {};
    for (let slot = 0; slot < this.slots.length; slot++) {
      const c = this.slots[slot];
      if (!c) continue;
      const outcome = await settleReply(c.tryExists('/'));
      const received = this.take(c, typeof outcome !== 'string');
      if (typeof outcome === 'string') {
        received.push(outcome);
        c.destroy();
        this.slots[slot] = null;
      } else {
        received.pop(); // the barrier's own reply
      }
      if (received.length > 0) events[`s${slot}`] = received;
    }
    return events;
  }

  /** Log entries of c not yet taken (up to its last reply if `toLastReply`), normalized. */
  private take(c: RawClient, toLastReply: boolean): unknown[] {
    const from = this.seen.get(c) ?? 0;
    let to = c.log.length;
    if (toLastReply) {
      while (to > from && c.log[to - 1].kind !== 'reply') to--;
    }
    this.seen.set(c, to);
    return c.log.slice(from, to).map((e: LogEntry) =>
      e.kind === 'reply' ? 'reply' : e.kind === 'closed' ? 'closed' : { type: e.type, state: e.state, path: e.path, zxid: this.script.zxid(e.zxid) });
  }
}

/** A reply, or what became of a request that got none. */
function settleReply<T>(p: Promise<Result<T>>): Promise<Result<T> | 'connectionClosed' | 'noReply'> {
  return outcomeOf(p, REPLY_TIMEOUT_MS);
}

function toBuffer(d: string | null): Buffer | null {
  return d === null ? null : Buffer.from(d, 'utf8');
}

export interface Difference {
  /** Index of the first step whose records differ. */
  index: number;
  zookeeper: Record_;
  ensemble: Record_;
}

export interface Pair {
  zookeeper: { server: RunningServer; control: RawClient };
  ensemble: { server: RunningServer; control: RawClient };
}

export interface Comparison {
  difference: Difference | null;
  /** Steps that differed only as a known difference explains (by its name). */
  explained: Map<string, number>;
}

/** Run `steps` against both servers step by step, up to the first unexplained difference. */
export async function compare(pair: Pair, root: string, steps: Step[], slotCount: number): Promise<Comparison> {
  const [zk, en] = await Promise.all([
    Run.start(pair.zookeeper.server, pair.zookeeper.control, root, slotCount),
    Run.start(pair.ensemble.server, pair.ensemble.control, root, slotCount),
  ]);
  const explained = new Map<string, number>();
  try {
    for (let i = 0; i < steps.length; i++) {
      const [a, b] = await Promise.all([zk.step(steps[i]), en.step(steps[i])]);
      if (JSON.stringify(a) === JSON.stringify(b)) continue;
      const known = explain(steps[i], a, b);
      if (known === null) return { difference: { index: i, zookeeper: a, ensemble: b }, explained };
      explained.set(known, (explained.get(known) ?? 0) + 1);
    }
    return { difference: null, explained };
  } finally {
    await Promise.all([zk.finish(), en.finish()]);
  }
}

/**
 * The known differences from Apache ZooKeeper 3.8.0 (docs/compatibility.md) a step may show: the
 * name of the one that accounts for every difference between the records, or null.
 */
function explain(step: Step, zk: Record_, en: Record_): string | null {
  const zkResults = zk.results as unknown[];
  const enResults = en.results as unknown[];
  const closeAt = step.reqs.findIndex((r) => r.op === 'close');
  const reasons = new Set<string>();
  const reconciled = enResults.map((r, i) => {
    const z = zkResults[i] as { err?: unknown } | string | undefined;
    // ZOOKEEPER-4466: 3.8.0 answers checkWatches OK when any session watches the path; Ensemble
    // answers NOWATCHER, as 3.9 does, unless the asking session holds the watch.
    if (step.reqs[i]?.op === 'checkWatches' && typeof z === 'object' && z.err === 'OK' && (r as { err?: unknown })?.err === 'NOWATCHER') {
      reasons.add('ZOOKEEPER-4466 checkWatches');
      return z;
    }
    // Requests pipelined behind a close: ZooKeeper may close the connection at once on reading one,
    // losing replies it had queued for requests before the close. Ensemble answers those.
    if (closeAt >= 0 && closeAt < step.reqs.length - 1 && i < closeAt && z === 'connectionClosed' && typeof r === 'object') {
      reasons.add('reply lost behind a pipelined close');
      return z;
    }
    return r;
  });
  if (reasons.size === 0 || JSON.stringify({ ...en, results: reconciled }) !== JSON.stringify(zk)) return null;
  return [...reasons].join(' + ');
}
