/**
 * One simulated run, driven by one seed: the real standalone server (its replica core, commit
 * stage and connections) and the real client library, on a simulated network and disk in virtual
 * time. Clients send a random mix of reads and writes; faults cut connections, stall a client long
 * enough for its session to expire, and crash the server (its unsynced writes are lost) and
 * restart it. A run ends with a quiet phase in which every client must reconnect and be served.
 */
import { ZooKeeperClient } from '../../src/client/client.ts';
import type { Logger } from '../../src/client/types.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { EnsembleServer } from '../../src/server/server.ts';
import pino from 'pino';
import { Checker, digest } from './checker.ts';
import { SimDisk, type PlantedBug } from './disk.ts';
import type { CommitStage } from '../../src/server/pipeline/commit.ts';
import { SimNetwork } from './network.ts';
import { runUntilSettled, VirtualWorld } from './virtual-env.ts';
import { Workload } from './workload.ts';

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
const silentClientLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const silentServerLog = pino({ level: 'silent' });


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

  const workload = new Workload(world, checker, note, (index) => new ZooKeeperClient('127.0.0.1:2181', {
    socketFactory: () => network.connect(index, server === null ? null : ((s) => server?.server.accept(s))),
    clock: { now: () => world.clock.monotonic() },
    scheduler: world.scheduler,
    random: () => random.float(),
    logger: silentClientLog,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    connectTimeoutMs: 3_600_000,
    shuffleHosts: false,
    retry: { baseDelayMs: 50, maxDelayMs: 1_000 },
  }));
  const { slots, ops } = workload;

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
    for (let i = 0; i < options.clients; i++) workload.open(i);
    await world.runUntil(2_000);
    const setup = slots[0].client;
    for (const path of ['/s', ...slots.map((s) => `/c${s.index}`)]) await runUntilSettled(world, setup.create(path), 10_000);
    const loadUntil = world.now + options.durationMs;
    for (let i = 0; i < options.clients; i++) workload.load(i, loadUntil);
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
