/**
 * The simulated clients and what they do: each slot holds one real client (a new one after its
 * session expires) that sends a random mix of reads and writes, a few at a time, until the load
 * ends. Outcomes are counted; an error that is not a ZooKeeper error is a violation.
 */
import type { ZooKeeperClient } from '../../src/client/client.ts';
import { ConnectionLossError, ZooKeeperError } from '../../src/client/errors.ts';
import { CreateMode } from '../../src/client/types.ts';
import type { Checker } from './checker.ts';
import type { VirtualWorld } from './virtual-env.ts';

const NAMES = ['a', 'b', 'c', 'd'];

export interface Slot {
  index: number;
  client: ZooKeeperClient;
  /** Ephemerals this session created and did not delete, as far as it knows. */
  ephemerals: Set<string>;
  inflight: number;
  expired: boolean;
}

export class Workload {
  readonly slots: Slot[] = [];
  readonly ops = { ok: 0, failed: 0 };

  constructor(
    private readonly world: VirtualWorld,
    private readonly checker: Checker,
    private readonly note: (what: string) => void,
    /** A new client for slot `index`. */
    private readonly newClient: (index: number) => ZooKeeperClient,
  ) {}

  /** Slot `index` gets a client; when its session expires, a new one takes its place a little later. */
  open(index: number): Slot {
    const client = this.newClient(index);
    client.ready.catch(() => {});
    const slot: Slot = { index, client, ephemerals: new Set(), inflight: 0, expired: false };
    client.on('state', (state: string) => {
      if (state !== 'Expired' || slot.expired) return;
      slot.expired = true;
      this.note(`client ${index}: session expired`);
      void client.close();
      this.world.scheduler.after(10 + this.world.random.int(200), () => { this.slots[index] = this.open(index); });
    });
    this.slots[index] = slot;
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

  private randomOp(slot: Slot): void {
    const random = this.world.random;
    const c = slot.client;
    const data = random.bytes(random.int(8));
    const shared = `/s/${random.pick(NAMES)}`;
    const own = `/c${slot.index}/${random.pick(NAMES)}`;
    switch (random.int(10)) {
      case 0:
      case 1:
        return this.run(slot, () => c.create(shared, data));
      case 2:
        return this.run(slot, () => c.create(own, data, { mode: CreateMode.EPHEMERAL }), (p) => slot.ephemerals.add(p));
      case 3:
        return this.run(slot, () => c.create(`/c${slot.index}/q-`, data, { mode: CreateMode.EPHEMERAL_SEQUENTIAL }), (p) => slot.ephemerals.add(p));
      case 4:
        return this.run(slot, () => c.setData(random.chance(0.5) ? shared : own, data, { version: random.chance(0.7) ? -1 : random.int(3) }));
      case 5: {
        const mine = [...slot.ephemerals];
        if (mine.length > 0 && random.chance(0.5)) {
          const path = random.pick(mine);
          return this.run(slot, () => c.delete(path), () => slot.ephemerals.delete(path), (e) => {
            if (e instanceof ConnectionLossError) slot.ephemerals.delete(path);
          });
        }
        return this.run(slot, () => c.delete(shared));
      }
      case 6:
        return this.run(slot, () => c.getData(shared, { watch: () => {} }));
      case 7:
        if (random.chance(0.5)) return this.run(slot, () => c.getChildren('/s', { watch: () => {} }));
        return this.run(slot, () => c.exists(own, { watch: () => {} }));
      case 8:
        return this.run(slot, () => c.multi([
          { type: 'create', path: shared, data },
          { type: 'setData', path: shared, data, version: random.chance(0.5) ? 0 : 1 },
        ]));
      default:
        return this.run(slot, () => c.sync('/s').then(() => c.getData(shared)));
    }
  }
}
