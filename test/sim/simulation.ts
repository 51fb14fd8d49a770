/**
 * One simulated run, driven by one seed: the real standalone server (its replica core, commit
 * stage and connections) and the real client library, on a simulated network and disk in virtual
 * time. Clients send a random mix of reads and writes; faults cut connections, stall a client long
 * enough for its session to expire, and crash the server (its unsynced writes are lost) and
 * restart it. A run ends with a quiet phase in which every client must reconnect and be served.
 */
import { ZooKeeperClient } from '../../src/client/client.ts';
import { ConnectionLossError, ZooKeeperError } from '../../src/client/errors.ts';
import { CreateMode, type Logger } from '../../src/client/types.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { EnsembleServer } from '../../src/server/server.ts';
import pino from 'pino';
import { Checker, digest } from './checker.ts';
import { SimDisk, type PlantedBug } from './disk.ts';
import type { CommitStage } from '../../src/server/pipeline/commit.ts';
import { SimNetwork } from './network.ts';
import { runUntilSettled, VirtualWorld } from './virtual-env.ts';

export interface SimOptions {
  seed: number;
  /** Virtual milliseconds of load and faults, before the quiet phase. */
  durationMs: number;
  clients: number;
  bug: PlantedBug | null;
}

export interface SimResult {
  seed: number;
  violations: string[];
  /** What happened, in order: faults, restarts, expiries. */
  trace: string[];
  steps: number;
  ops: { ok: number; failed: number };
  restarts: number;
  /** The final tree's digest: equal for two runs of one seed. */
  digest: string;
}

const SESSION_TIMEOUT_MS = 3_000;
const NAMES = ['a', 'b', 'c', 'd'];
const silentClientLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const silentServerLog = pino({ level: 'silent' });

interface Slot {
  index: number;
  client: ZooKeeperClient;
  /** Ephemerals this session created and did not delete, as far as it knows. */
  ephemerals: Set<string>;
  inflight: number;
  expired: boolean;
}

export async function simulate(options: SimOptions): Promise<SimResult> {
  const { seed, bug } = options;
  const world = new VirtualWorld(seed);
  const random = world.random;
  const trace: string[] = [];
  const note = (what: string): void => void trace.push(`t=${world.now.toFixed(1)} ${what}`);
  const checker = new Checker(() => world.now, () => world.stop());
  const network = new SimNetwork(world, (link, chunk) => checker.observe(link, chunk));
  const disk = new SimDisk(world);
  const config = resolveConfig({ tickTimeMs: 200, containerCheckIntervalMs: 1_000, dataDir: '/nonexistent' });
  const ops = { ok: 0, failed: 0 };
  let restarts = 0;
  let server: { server: EnsembleServer; crash(): void } | null = null;

  const startServer = (): void => {
    const { tree, commit } = disk.open(bug);
    if (restarts === 0) checker.started(tree);
    else checker.restarted(tree, disk.durableEntries());
    let crashed = false;
    // A dead process applies nothing more (an early acknowledgement may still be on its way).
    const observed: CommitStage = {
      submit: (entry, done) => commit.submit(entry, () => {
        if (!crashed) done();
      }),
      close: () => commit.close(),
    };
    const s = new EnsembleServer(config, { env: world, commit: observed, tree, log: silentServerLog });
    s.start();
    server = { server: s, crash: () => { crashed = true; } };
  };

  const crashServer = (): void => {
    if (server === null) return;
    note('server crashes');
    disk.crash();
    server.crash();
    void server.server.close();
    server = null;
  };

  const slots: Slot[] = [];
  const newSlot = (index: number): Slot => {
    const client = new ZooKeeperClient('127.0.0.1:2181', {
      socketFactory: () => network.connect(index, server === null ? null : ((s) => server?.server.accept(s))),
      clock: { now: () => world.clock.monotonic() },
      scheduler: world.scheduler,
      random: () => random.float(),
      logger: silentClientLog,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      connectTimeoutMs: 3_600_000,
      shuffleHosts: false,
      retry: { baseDelayMs: 50, maxDelayMs: 1_000 },
    });
    client.ready.catch(() => {});
    const slot: Slot = { index, client, ephemerals: new Set(), inflight: 0, expired: false };
    client.on('state', (state: string) => {
      if (state !== 'Expired' || slot.expired) return;
      slot.expired = true;
      note(`client ${index}: session expired`);
      void client.close();
      world.scheduler.after(10 + random.int(200), () => { slots[index] = newSlot(index); });
    });
    return slot;
  };

  const run = <T>(slot: Slot, op: () => Promise<T>, then?: (v: T) => void, otherwise?: (e: unknown) => void): void => {
    slot.inflight++;
    op().then((v) => {
      ops.ok++;
      then?.(v);
    }, (e: unknown) => {
      if (!(e instanceof ZooKeeperError)) checker.fail(`client ${slot.index}: unexpected error ${String(e)}`);
      ops.failed++;
      otherwise?.(e);
    }).finally(() => { slot.inflight--; });
  };

  const randomOp = (slot: Slot): void => {
    const c = slot.client;
    const data = random.bytes(random.int(8));
    const shared = `/s/${random.pick(NAMES)}`;
    const own = `/c${slot.index}/${random.pick(NAMES)}`;
    switch (random.int(10)) {
      case 0:
      case 1:
        return run(slot, () => c.create(shared, data));
      case 2:
        return run(slot, () => c.create(own, data, { mode: CreateMode.EPHEMERAL }), (p) => slot.ephemerals.add(p));
      case 3:
        return run(slot, () => c.create(`/c${slot.index}/q-`, data, { mode: CreateMode.EPHEMERAL_SEQUENTIAL }), (p) => slot.ephemerals.add(p));
      case 4:
        return run(slot, () => c.setData(random.chance(0.5) ? shared : own, data, { version: random.chance(0.7) ? -1 : random.int(3) }));
      case 5: {
        const mine = [...slot.ephemerals];
        if (mine.length > 0 && random.chance(0.5)) {
          const path = random.pick(mine);
          return run(slot, () => c.delete(path), () => slot.ephemerals.delete(path), (e) => {
            if (e instanceof ConnectionLossError) slot.ephemerals.delete(path);
          });
        }
        return run(slot, () => c.delete(shared));
      }
      case 6:
        return run(slot, () => c.getData(shared, { watch: () => {} }));
      case 7:
        if (random.chance(0.5)) return run(slot, () => c.getChildren('/s', { watch: () => {} }));
        return run(slot, () => c.exists(own, { watch: () => {} }));
      case 8:
        return run(slot, () => c.multi([
          { type: 'create', path: shared, data },
          { type: 'setData', path: shared, data, version: random.chance(0.5) ? 0 : 1 },
        ]));
      default:
        return run(slot, () => c.sync('/s').then(() => c.getData(shared)));
    }
  };

  const scheduleOps = (index: number, until: number): void => {
    const tick = (): void => {
      if (world.now >= until) return;
      const slot = slots[index];
      if (!slot.expired && slot.client.state === 'SyncConnected' && slot.inflight < 4) randomOp(slot);
      world.scheduler.after(1 + random.float() * 30, tick);
    };
    world.scheduler.after(random.float() * 30, tick);
  };

  const scheduleFaults = (until: number): void => {
    const next = (): void => {
      if (world.now >= until) return;
      const roll = random.float();
      const slot = random.int(options.clients);
      if (roll < 0.35) {
        note(`client ${slot}: connection cut`);
        network.cut(slot);
      } else if (roll < 0.5) {
        const ms = SESSION_TIMEOUT_MS * (0.3 + random.float() * 1.5);
        note(`client ${slot}: traffic stalled for ${ms.toFixed(0)} ms`);
        network.hold(slot, world.now + ms);
      } else if (roll < 0.65 && server !== null) {
        crashServer();
        const down = 20 + random.float() * 1_500;
        world.scheduler.after(down, () => {
          if (server !== null) return;
          restarts++;
          note('server restarts');
          startServer();
        });
      }
      world.scheduler.after(200 + random.float() * 1_800, next);
    };
    world.scheduler.after(500 + random.float() * 1_000, next);
  };

  const stopped = (): SimResult => ({ seed, violations: checker.violations, trace, steps: world.steps, ops, restarts, digest: '' });

  try {
    startServer();
    for (let i = 0; i < options.clients; i++) slots.push(newSlot(i));
    await world.runUntil(2_000);
    const setup = slots[0].client;
    for (const path of ['/s', ...slots.map((s) => `/c${s.index}`)]) await runUntilSettled(world, setup.create(path), 10_000);
    const loadUntil = world.now + options.durationMs;
    for (let i = 0; i < options.clients; i++) scheduleOps(i, loadUntil);
    scheduleFaults(loadUntil);
    await world.runUntil(loadUntil);
    if (world.isStopped) return stopped();

    // Quiet: the server up, every client reconnected and served.
    if (server === null) {
      restarts++;
      note('server restarts (quiet phase)');
      startServer();
    }
    await world.runUntil(world.now + 4 * SESSION_TIMEOUT_MS);
    const finals = slots.map((slot) => slot.client.sync('/').then(() => slot.client.exists('/')).then(() => true, () => false));
    const served = await runUntilSettled(world, Promise.all(finals), 10_000);
    if (world.isStopped) return stopped();
    const s = (server as { server: EnsembleServer } | null)!.server;
    slots.forEach((slot, i) => {
      if (!served[i]) checker.fail(`liveness: client ${i} (${slot.client.state}) was not served in the quiet phase`);
      else if (slot.client.state === 'SyncConnected') {
        const id = slot.client.sessionId;
        if (!s.tree.sessions.has(id)) checker.fail(`client ${i} is connected but its session is not in the tree`);
        for (const path of slot.ephemerals) {
          const n = s.tree.get(path);
          if (!n || n.ephemeralOwner !== id) checker.fail(`client ${i}: its acknowledged ephemeral ${path} is gone while its session lives`);
        }
      }
    });
    checker.sameAsLog(s.tree, disk.durableEntries(), 'at the end');
    checker.ephemeralsOwned(s.tree, [...s.sessions.all()].map((x) => x.id));
    const result: SimResult = { seed, violations: checker.violations, trace, steps: world.steps, ops, restarts, digest: digest(s.tree) };
    for (const slot of slots) void slot.client.close();
    await runUntilSettled(world, s.close(), 10_000);
    return result;
  } catch (err) {
    if (!world.isStopped) checker.fail(`the run threw: ${err instanceof Error ? err.stack : String(err)}`);
    return stopped();
  }
}
