/**
 * The simulated clients and what they do: each slot holds one real client (a new one after its
 * session expires) that sends a random mix of reads and writes, a few at a time, until the load
 * ends. Outcomes are counted; an error that is not a ZooKeeper error is a violation.
 *
 * The writes to the shared nodes (/s/a to /s/d: create, setData and delete with or without a
 * version, a multi of both) and the reads that follow a sync on the same session are recorded as a
 * history for the linearizability checker: a node's value is its version and data (absent: null),
 * a write's outcome the answer it got (a new version, or NONODE, NODEEXISTS, BADVERSION), and any
 * other end (a lost connection, an expired session) an unknown outcome. Plain reads are only
 * sequentially consistent, so they are not in it; they are checked to be monotonic per session.
 */
import type { ZooKeeperClient } from '../../src/client/client.ts';
import { ConnectionLossError, SessionMovedError, ZooKeeperError } from '../../src/client/errors.ts';
import { CreateMode, type Stat } from '../../src/client/types.ts';
import type { Op } from '../support/linearizability.ts';
import type { Checker } from './checker.ts';
import type { VirtualWorld } from './virtual-env.ts';

const NAMES = ['a', 'b', 'c', 'd'];

type Value = string | null;
type Answer = { value: Value; result: string };

/** The answers of a write that are the server's own: anything else leaves its outcome unknown. */
const DEFINITE = new Set(['NONODE', 'NODEEXISTS', 'BADVERSION']);

const valueOf = (version: number, data: Buffer | null): string => `${version}:${data === null ? '-' : data.toString('hex')}`;
const versionOf = (v: string): number => Number(v.slice(0, v.indexOf(':')));

const created = (data: Buffer) => (v: Value): Answer => (v === null ? { value: valueOf(0, data), result: 'ok' } : { value: v, result: 'NODEEXISTS' });
const setTo = (data: Buffer, version: number) => (v: Value): Answer => {
  if (v === null) return { value: v, result: 'NONODE' };
  if (version !== -1 && versionOf(v) !== version) return { value: v, result: 'BADVERSION' };
  return { value: valueOf(versionOf(v) + 1, data), result: `ok:${versionOf(v) + 1}` };
};
const deleted = (version: number) => (v: Value): Answer => {
  if (v === null) return { value: v, result: 'NONODE' };
  if (version !== -1 && versionOf(v) !== version) return { value: v, result: 'BADVERSION' };
  return { value: null, result: 'ok' };
};
/** multi(create, setData with `version`): both or neither. */
const createThenSet = (data: Buffer, version: number) => (v: Value): Answer => {
  if (v !== null) return { value: v, result: 'NODEEXISTS' };
  return version === 0 ? { value: valueOf(1, data), result: 'ok' } : { value: v, result: 'BADVERSION' };
};

export interface Slot {
  index: number;
  client: ZooKeeperClient;
  /** Ephemerals this session created and did not delete, as far as it knows. */
  ephemerals: Set<string>;
  inflight: number;
  expired: boolean;
  /** Its shared writes whose outcome is not known yet. */
  unanswered: Op[];
  /** Per shared node, the highest mzxid its session has read or written: a later read never goes below it. */
  seen: Map<string, number>;
}

export class Workload {
  readonly slots: Slot[] = [];
  /** Every slot's clients, the replaced ones too. */
  readonly opened: Slot[] = [];
  readonly ops = { ok: 0, failed: 0 };
  /** Writes to the shared nodes and reads after a sync, for the linearizability checker. */
  readonly history: Op[] = [];
  private writeSeq = 0;
  /**
   * Checks FIFO client order: a session's write whose answer was lost took effect before the
   * answer to a later write of the session, or never.
   */
  fifo = false;

  constructor(
    private readonly world: VirtualWorld,
    private readonly checker: Checker,
    private readonly note: (what: string) => void,
    /** A new client for slot `index`. */
    private readonly newClient: (index: number) => ZooKeeperClient,
    /** A write of the slot's session was refused as moved to another member. */
    private readonly sessionMoved: (slot: Slot) => void = () => {},
  ) {}

  /** Slot `index` gets a client; when its session expires, a new one takes its place a little later. */
  open(index: number): Slot {
    const client = this.newClient(index);
    client.ready.catch(() => {});
    const slot: Slot = { index, client, ephemerals: new Set(), inflight: 0, expired: false, unanswered: [], seen: new Map() };
    let sessionId: bigint | null = null;
    client.on('state', (state: string) => {
      if (state === 'SyncConnected') {
        if (sessionId !== null && client.sessionId !== sessionId) this.checker.fail(`client ${index}: session 0x${BigInt.asUintN(64, sessionId).toString(16)} became 0x${BigInt.asUintN(64, client.sessionId).toString(16)} without Expired`);
        sessionId ??= client.sessionId;
      }
      if (state !== 'Expired' || slot.expired) return;
      slot.expired = true;
      this.note(`client ${index}: session expired`);
      void client.close();
      this.world.scheduler.after(10 + this.world.random.int(200), () => { this.slots[index] = this.open(index); });
    });
    this.slots[index] = slot;
    this.opened.push(slot);
    return slot;
  }

  /** Slot `index` sends operations until virtual time `until`. */
  load(index: number, until: number): void {
    const random = this.world.random;
    const tick = (): void => {
      if (this.world.now >= until) return;
      const slot = this.slots[index];
      if (!slot.expired && slot.client.state === 'SyncConnected' && slot.inflight < 4) this.randomOp(slot);
      this.world.scheduler.after(1 + random.float() * 30, tick);
    };
    this.world.scheduler.after(random.float() * 30, tick);
  }

  private run<T>(slot: Slot, op: () => Promise<T>, then?: (v: T) => void, otherwise?: (e: unknown) => void): void {
    slot.inflight++;
    op().then((v) => {
      this.ops.ok++;
      then?.(v);
    }, (e: unknown) => {
      if (!(e instanceof ZooKeeperError)) this.checker.fail(`client ${slot.index}: unexpected error ${String(e)}`);
      this.ops.failed++;
      otherwise?.(e);
    }).finally(() => { slot.inflight--; });
  }

  /** A write to a shared node, recorded with what it does to the node's value. */
  private write<T>(slot: Slot, path: string, label: string, apply: (v: Value) => Answer, op: () => Promise<T>, answer: (v: T) => string = () => 'ok'): void {
    const record: Op = { client: slot.index, invokedAtMs: this.world.now, kind: 'update', key: path, label, apply, outcome: 'unknown' };
    this.history.push(record);
    slot.unanswered.push(record);
    const answered = (result: string): void => {
      record.outcome = { returnedAtMs: this.world.now, result };
      // A session's writes take effect in the order it sent them (FIFO client order): one it
      // sent before this and never heard of again took effect before this answer, or never.
      slot.unanswered = slot.unanswered.filter((w) => {
        if (this.fifo && w.invokedAtMs < record.invokedAtMs && w.outcome === 'unknown') w.unknownByMs = this.world.now;
        return w.outcome === 'unknown' && w.unknownByMs === undefined;
      });
    };
    this.run(slot, op, (v) => answered(answer(v)), (e) => {
      if (e instanceof ZooKeeperError && DEFINITE.has(e.codeName)) answered(e.codeName);
      else if (e instanceof SessionMovedError) {
        // Refused by the leader: it never took effect.
        this.history.splice(this.history.indexOf(record), 1);
        slot.unanswered = slot.unanswered.filter((w) => w !== record);
        this.sessionMoved(slot);
      }
    });
  }

  /** A read of a shared node: monotonic for its session; after a sync (`since`), linearizable. */
  private read(slot: Slot, path: string, since: number | null, op: () => Promise<{ data: Buffer | null; stat: Stat }>): void {
    // Answers may settle in another order than they arrived: what was seen before the call counts.
    const floor = slot.seen.get(path) ?? 0;
    const record = (value: Value): void => {
      if (since !== null) this.history.push({ client: slot.index, invokedAtMs: since, kind: 'sync-get', key: path, outcome: { returnedAtMs: this.world.now, value } });
    };
    this.run(slot, op, (r) => {
      if (r.stat.mzxid < floor) this.checker.fail(`client ${slot.index}: read ${path} at mzxid 0x${r.stat.mzxid.toString(16)} after its session saw 0x${floor.toString(16)}`);
      this.saw(slot, path, r.stat);
      record(valueOf(r.stat.version, r.data));
    }, (e) => {
      if (e instanceof ZooKeeperError && e.codeName === 'NONODE') record(null);
    });
  }

  private saw(slot: Slot, path: string, stat: Stat): void {
    slot.seen.set(path, Math.max(slot.seen.get(path) ?? 0, stat.mzxid));
  }

  private randomOp(slot: Slot): void {
    const random = this.world.random;
    const c = slot.client;
    const data = random.bytes(random.int(8));
    const name = random.pick(NAMES);
    const shared = `/s/${name}`;
    const own = `/c${slot.index}/${name}`;
    // Shared writes carry data of their own, so a read tells which write it saw.
    const unique = Buffer.from(`${slot.index}.${++this.writeSeq}`);
    const version = random.chance(0.7) ? -1 : random.int(3);
    switch (random.int(10)) {
      case 0:
      case 1:
        return this.write(slot, shared, `create(${unique})`, created(unique), () => c.create(shared, unique));
      case 2:
        return this.run(slot, () => c.create(own, data, { mode: CreateMode.EPHEMERAL }), (p) => slot.ephemerals.add(p));
      case 3:
        return this.run(slot, () => c.create(`/c${slot.index}/q-`, data, { mode: CreateMode.EPHEMERAL_SEQUENTIAL }), (p) => slot.ephemerals.add(p));
      case 4:
        if (random.chance(0.5)) return this.run(slot, () => c.setData(own, data, { version }));
        return this.write(slot, shared, `setData(${unique}, ${version})`, setTo(unique, version), () => c.setData(shared, unique, { version }), (stat) => {
          this.saw(slot, shared, stat);
          return `ok:${stat.version}`;
        });
      case 5: {
        const mine = [...slot.ephemerals];
        if (mine.length > 0 && random.chance(0.5)) {
          const path = random.pick(mine);
          return this.run(slot, () => c.delete(path), () => slot.ephemerals.delete(path), (e) => {
            if (e instanceof ConnectionLossError) slot.ephemerals.delete(path);
          });
        }
        return this.write(slot, shared, `delete(${version})`, deleted(version), () => c.delete(shared, { version }));
      }
      case 6:
        return this.read(slot, shared, null, () => c.getData(shared, { watch: () => {} }));
      case 7:
        if (random.chance(0.5)) return this.run(slot, () => c.getChildren('/s', { watch: () => {} }));
        return this.run(slot, () => c.exists(own, { watch: () => {} }));
      case 8: {
        const v = random.chance(0.5) ? 0 : 1;
        return this.write(slot, shared, `multi(create, setData(${unique}, ${v}))`, createThenSet(unique, v), () => c.multi([
          { type: 'create', path: shared, data: unique },
          { type: 'setData', path: shared, data: unique, version: v },
        ]));
      }
      default: {
        // One linearizable read: from the sync's call to the read's answer, on one session.
        const since = this.world.now;
        return this.read(slot, shared, since, () => c.sync(shared).then(() => c.getData(shared)));
      }
    }
  }
}
