/**
 * One simulated run of a replicated ensemble, driven by one seed: real members (server, replica core
 * and consensus core) on a simulated network between them, and real clients with a multi-host
 * connect string on simulated connections, all in virtual time. Clients send a random mix of reads
 * and writes; faults cut client connections, stall a client's traffic, delay and cut the links
 * between members, cut a member off from the others while its clients still reach it, and crash a
 * member (what its disk had not made durable is lost, a batch possibly cut short) and restart it
 * from its disk (its newest snapshot and the log after it). Members snapshot and compact their logs
 * every 25 or 150 entries, or never, by seed, so members behind catch up by snapshot. A run ends with a quiet phase in which every client must be served.
 *
 * Checked: on the wire, each connection's replies in request order and a session's zxids never
 * going back (across members); at the end, every member's tree the same (digest at the same zxid),
 * no zxid a client was told of missing from it, every ephemeral owned by a live session, and every
 * ephemeral a live client created still there.
 *
 * Not yet: no member's clock is skewed, and no member's disk is wiped.
 */
import pino from 'pino';
import { ZooKeeperClient } from '../../src/client/client.ts';
import type { Logger } from '../../src/client/types.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { Member } from '../../src/server/quorum/member.ts';
import { MemoryNetwork } from '../../src/server/quorum/memory-transport.ts';
import { MemoryRaftStorage } from '../../src/server/quorum/raft-storage.ts';
import { MemoryMemberSnapshots } from '../../src/server/quorum/member-snapshots.ts';
import { checkLinearizable } from '../support/linearizability.ts';
import { Checker, digest } from './checker.ts';
import { SimNetwork } from './network.ts';
import { runUntilSettled, VirtualWorld } from './virtual-env.ts';
import { Workload } from './workload.ts';

export interface EnsembleSimOptions {
  seed: number;
  /** Virtual milliseconds of load and faults, before the quiet phase. */
  durationMs: number;
  clients: number;
  members: number;
}

export interface EnsembleSimResult {
  seed: number;
  violations: string[];
  trace: string[];
  steps: number;
  ops: { ok: number; failed: number };
  /** Terms the ensemble went through. */
  terms: number;
  /** Members crashed and restarted. */
  restarts: number;
  /** The final tree's digest: equal for two runs of one seed. */
  digest: string;
  /** The linearizability check of the shared nodes' history. */
  history: { ops: number; unknown: number; verdict: string };
}

const SESSION_TIMEOUT_MS = 4_000;
const silentClientLog: Logger = { debug() {}, info() {}, warn() {}, error() {} };
const silentServerLog = pino({ level: 'silent' });

export async function simulateEnsemble(options: EnsembleSimOptions): Promise<EnsembleSimResult> {
  const { seed } = options;
  const world = new VirtualWorld(seed);
  const random = world.random;
  const trace: string[] = [];
  const note = (what: string): void => void trace.push(`t=${world.now.toFixed(1)} ${what}`);
  const checker = new Checker(() => world.now, () => world.stop());
  const clientNet = new SimNetwork(world, (link, chunk) => checker.observe(link, chunk));
  const peerNet = new MemoryNetwork(world.scheduler, { clock: world.clock, ms: () => 0.1 + random.float() * 3 });
  const ids = Array.from({ length: options.members }, (_, i) => i + 1);
  const config = resolveConfig({ tickTimeMs: 200, containerCheckIntervalMs: 1_000, dataDir: '/nonexistent' });
  const members = new Map<number, Member>();
  const disks = new Map(ids.map((id) => [id, new MemoryRaftStorage(world, () => 0.5 + random.float() * 8)]));
  const snapshotDirs = new Map(ids.map((id) => [id, new MemoryMemberSnapshots()]));
  // Snapshots often, now and then, or (nearly) never: followers behind get them, restarts begin at them.
  const snapshotEvery = [25, 150, 100_000][random.int(3)];
  const start = (id: number): void => {
    const m = new Member({ id, voters: ids, config, transport: peerNet.join(id), storage: disks.get(id)!, snapshots: snapshotDirs.get(id)!, snapshotEvery, env: world, log: silentServerLog });
    m.server.start();
    members.set(id, m);
  };
  for (const id of ids) start(id);
  const isolated = new Set<number>();
  let restarts = 0;

  const connectString = ids.map((id) => `m${id}:${id}`).join(',');
  const workload = new Workload(world, checker, note, (index) => new ZooKeeperClient(connectString, {
    socketFactory: (_host, port) => clientNet.connect(index, (s) => members.get(port)?.server.accept(s)),
    clock: { now: () => world.clock.monotonic() },
    scheduler: world.scheduler,
    random: () => random.float(),
    logger: silentClientLog,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    connectTimeoutMs: 3_600_000,
    retry: { baseDelayMs: 50, maxDelayMs: 1_000 },
  }));
  const { slots, ops } = workload;
  const history = { ops: 0, unknown: 0, verdict: 'not checked' };

  const terms = (): number => Math.max(...[...members.values()].map((m) => m.raft.term));

  const scheduleFaults = (until: number): void => {
    const next = (): void => {
      if (world.now >= until) return;
      const roll = random.float();
      const slot = random.int(options.clients);
      if (roll < 0.25) {
        note(`client ${slot}: connection cut`);
        clientNet.cut(slot);
      } else if (roll < 0.35) {
        const ms = SESSION_TIMEOUT_MS * (0.3 + random.float() * 1.5);
        note(`client ${slot}: traffic stalled for ${ms.toFixed(0)} ms`);
        clientNet.hold(slot, world.now + ms);
      } else if (roll < 0.6) {
        // A member cut off from the others; its clients still reach it. Often the leader.
        const leader = [...members.values()].find((m) => m.isLeader);
        const id = leader !== undefined && random.chance(0.5) ? leader.id : random.pick(ids);
        note(`member ${id} cut off from the others${leader?.id === id ? ' (the leader)' : ''}`);
        peerNet.isolate(id, ids);
        isolated.add(id);
        world.scheduler.after(200 + random.float() * 5_000, () => {
          if (!isolated.delete(id)) return;
          note(`member ${id} rejoins`);
          rebuildLinks();
        });
      } else if (roll < 0.8) {
        // A member dies, the leader often; it comes back from its disk a while later.
        const up = [...members.values()];
        const leader = up.find((m) => m.isLeader);
        const victim = leader !== undefined && random.chance(0.5) ? leader : random.pick(up);
        if (victim !== undefined && up.length > 1) {
          const keep = random.int(3);
          note(`member ${victim.id} crashes${victim.isLeader ? ' (the leader)' : ''}`);
          victim.crash();
          disks.get(victim.id)!.crash(keep);
          members.delete(victim.id);
          world.scheduler.after(50 + random.float() * 3_000, () => {
            if (members.has(victim.id)) return;
            restarts++;
            note(`member ${victim.id} restarts`);
            start(victim.id);
          });
        }
      } else if (roll < 0.9) {
        const [a, b] = [random.pick(ids), random.pick(ids)];
        if (a !== b) {
          note(`link ${a}-${b} cut`);
          peerNet.cutLink(a, b, random.chance(0.3));
          world.scheduler.after(200 + random.float() * 3_000, () => {
            note(`link ${a}-${b} back`);
            rebuildLinks();
          });
        }
      }
      world.scheduler.after(200 + random.float() * 1_800, next);
    };
    world.scheduler.after(1_000 + random.float() * 1_000, next);
  };

  /** Every link works again, but those of members still cut off. */
  const rebuildLinks = (): void => {
    peerNet.heal();
    for (const id of isolated) peerNet.isolate(id, ids);
  };

  const stopped = (): EnsembleSimResult => ({ seed, violations: checker.violations, trace, steps: world.steps, ops, terms: terms(), restarts, digest: '', history });

  try {
    for (let i = 0; i < options.clients; i++) workload.open(i);
    await world.runUntil(3_000);
    const setup = slots[0].client;
    for (const path of ['/s', ...slots.map((s) => `/c${s.index}`)]) await runUntilSettled(world, setup.create(path), 20_000);
    const loadUntil = world.now + options.durationMs;
    for (let i = 0; i < options.clients; i++) workload.load(i, loadUntil);
    scheduleFaults(loadUntil);
    await world.runUntil(loadUntil);
    if (world.isStopped) return stopped();

    // Quiet: every link back, every client reconnected and served, every member caught up.
    isolated.clear();
    peerNet.heal();
    for (const id of ids) {
      if (members.has(id)) continue;
      restarts++;
      start(id);
    }
    note('quiet: every link back, every member up');
    await world.runUntil(world.now + 4 * SESSION_TIMEOUT_MS);
    const finals = slots.map((slot) => slot.client.sync('/').then(() => slot.client.exists('/')).then(() => true, () => false));
    const served = await runUntilSettled(world, Promise.all(finals), 20_000);
    await world.runUntil(world.now + 2_000);
    if (world.isStopped) return stopped();
    const leader = [...members.values()].find((m) => m.isLeader);
    if (leader === undefined) {
      checker.fail('liveness: no member leads in the quiet phase');
      return stopped();
    }
    const tree = leader.server.tree;
    slots.forEach((slot, i) => {
      if (!served[i]) checker.fail(`liveness: client ${i} (${slot.client.state}) was not served in the quiet phase`);
      else if (slot.client.state === 'SyncConnected') {
        const id = slot.client.sessionId;
        if (!tree.sessions.has(id)) checker.fail(`client ${i} is connected but its session is not in the tree`);
        for (const path of slot.ephemerals) {
          const n = tree.get(path);
          if (!n || n.ephemeralOwner !== id) checker.fail(`client ${i}: its acknowledged ephemeral ${path} is gone while its session lives`);
        }
      }
    });
    if (tree.lastProcessedZxid < checker.maxZxidSeen) checker.fail(`clients were told of zxid 0x${checker.maxZxidSeen.toString(16)}, the leader is at 0x${tree.lastProcessedZxid.toString(16)}`);
    const want = digest(tree);
    for (const m of members.values()) {
      const t = m.server.tree;
      if (t.lastProcessedZxid !== tree.lastProcessedZxid) checker.fail(`member ${m.id} is at zxid 0x${t.lastProcessedZxid.toString(16)}, the leader at 0x${tree.lastProcessedZxid.toString(16)}`);
      else if (digest(t) !== want) checker.fail(`member ${m.id}'s tree differs from the leader's at zxid 0x${t.lastProcessedZxid.toString(16)}`);
    }
    checker.ephemeralsOwned(tree, [...leader.server.sessions.all()].map((x) => x.id));
    history.ops = workload.history.length;
    history.unknown = workload.history.filter((op) => op.outcome === 'unknown').length;
    const linear = checkLinearizable(workload.history);
    if (linear.ok === false) checker.fail(`the history of the shared nodes is not linearizable: ${linear.explanation}`);
    history.verdict = linear.ok === true ? 'linearizable' : linear.ok === 'unknown' ? `undecided on ${linear.key}` : 'not linearizable';
    const result: EnsembleSimResult = { seed, violations: checker.violations, trace, steps: world.steps, ops, terms: terms(), restarts, digest: want, history };
    for (const slot of slots) void slot.client.close();
    await runUntilSettled(world, Promise.all([...members.values()].map((m) => m.close())), 10_000);
    return result;
  } catch (err) {
    if (!world.isStopped) checker.fail(`the run threw: ${err instanceof Error ? err.stack : String(err)}`);
    return stopped();
  }
}
