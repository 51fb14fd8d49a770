/**
 * One simulated run of a replicated ensemble, driven by one seed: real members (server, replica core
 * and consensus core) on a simulated network between them, and real clients with a multi-host
 * connect string on simulated connections, all in virtual time. Clients send a random mix of reads
 * and writes; faults cut client connections, stall a client's traffic, delay and cut the links
 * between members (one way or both), cut a member off from the others while its clients still
 * reach it, pause a member's process (SIGSTOP: its timers fire late, what arrived meanwhile runs on
 * resume), crash a member (what its disk had not made durable is lost, a batch possibly cut short)
 * and restart it from its disk (its newest snapshot and the log after it), and cut the power of a
 * majority at once. In most runs each member's clock is off by up to 10 s and runs at 0.8 to 1.25
 * times the rate of time (its timers with it). Some crashes wipe the member's disk (while a majority
 * keeps its data), unless `wipe` is false.
 * Members snapshot and compact their logs every 25 or 150 entries, or never, by seed, so members
 * behind catch up by snapshot. A run ends with a quiet phase in which every client must be served.
 *
 * Checked: on the wire, each connection's replies in request order and a session's zxids never
 * going back (across members); the history of the shared nodes linearizable (workload.ts: writes
 * and reads after a sync; unless `fifo` is false, a session's lost write never takes effect after
 * its next answered write), plain reads monotonic per session; no session closed while its client's path to
 * the leader was sound for a whole session timeout (see probe below); a connection opened after its
 * session closed is told it expired; a client's session id never changes without Expired. At the
 * end, every member's tree the same (digest at the same zxid), no zxid a client was told of missing
 * from it, every ephemeral owned by a live session, every ephemeral a live client created still
 * there, and a session closed exactly when its client was told it expired.
 */
import pino from 'pino';
import { ZooKeeperClient } from '../../src/client/client.ts';
import { ConnectionLossError, NodeExistsError } from '../../src/client/errors.ts';
import type { Logger } from '../../src/client/types.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { Member } from '../../src/server/quorum/member.ts';
import { MemoryNetwork } from '../../src/server/quorum/memory-transport.ts';
import { MemoryRaftStorage } from '../../src/server/quorum/raft-storage.ts';
import { MemoryMemberSnapshots } from '../../src/server/quorum/member-snapshots.ts';
import { MemoryMemberData } from '../../src/server/quorum/member-data.ts';
import type { PeerTransport } from '../../src/server/quorum/peer-messages.ts';
import type { Environment } from '../../src/server/env/environment.ts';
import { checkLinearizable } from '../support/linearizability.ts';
import { Checker, digest } from './checker.ts';
import { SimNetwork } from './network.ts';
import { MemberEnv, runUntilSettled, VirtualWorld } from './virtual-env.ts';
import { Workload } from './workload.ts';

export interface EnsembleSimOptions {
  seed: number;
  /** Virtual milliseconds of load and faults, before the quiet phase. */
  durationMs: number;
  clients: number;
  members: number;
  /**
   * Some crashes wipe the member's disk (default): it restarts with an empty log and no snapshot,
   * as long as a majority keeps its data.
   */
  wipe?: boolean;
  /** A session's lost write must take effect before the answer to its next write, or never (FIFO client order; default). */
  fifo?: boolean;
  /**
   * Every member runs with newEnsemble (`--new-ensemble`), left on for every restart, and one of
   * them starts only after the others have begun the ensemble without it.
   */
  newEnsemble?: boolean;
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
  /**
   * Writes refused as SESSIONMOVED though the client had held its one connection for over a
   * second (its session had not moved: another member's stale touch took it).
   */
  movedInPlace: number;
  /** Sessions the ensemble closed (expired). */
  sessionsClosed: number;
}

const SESSION_TIMEOUT_MS = 4_000;
/** Snapshots go to followers in pieces this small, so that pieces are lost and sent again under faults. */
const SNAPSHOT_CHUNK_BYTES = 1024;
/** How often the simulator looks at the leader's sessions and at each client's path to the leader. */
const PROBE_MS = 5;
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
  /** Each member's process as it runs now: its clock, and whether it is paused. */
  const envs = new Map<number, MemberEnv>();
  const gate = (id: number) => (fn: () => void): void => {
    const env = envs.get(id);
    if (env === undefined) fn();
    else env.run(fn);
  };
  // A disk's writes complete on their own, but what the member does then waits while it is paused.
  const diskEnv = (id: number): Environment => ({ clock: world.clock, random: world.random, scheduler: { ...world.scheduler, after: (ms, fn) => world.scheduler.after(ms, () => gate(id)(fn)) } });
  // A third of the disks are slow to sync (a busy device's fsync stalls), which widens the time a
  // write is in flight when a crash comes.
  const newDisk = (id: number): MemoryRaftStorage => {
    const slow = random.chance(0.33);
    return new MemoryRaftStorage(diskEnv(id), () => (slow ? 2 + random.float() * 60 : 0.5 + random.float() * 8));
  };
  const disks = new Map(ids.map((id) => [id, newDisk(id)]));
  const snapshotDirs = new Map(ids.map((id) => [id, new MemoryMemberSnapshots()]));
  const dataDirs = new Map(ids.map((id) => [id, new MemoryMemberData()]));
  /** Members wiped and not yet brought up to date by a leader. */
  const lostData = new Set<number>();
  // Snapshots often, now and then, or (nearly) never: followers behind get them, restarts begin at them.
  const snapshotEvery = [25, 150, 100_000][random.int(3)];
  // In most runs the members' clocks disagree: each is off by up to 10 s and runs at 0.8 to 1.25 times the rate of time.
  const skewed = random.chance(0.7);
  const start = (id: number): void => {
    const env = skewed ? new MemberEnv(world, random.float() * 10_000, 0.8 + random.float() * 0.45) : new MemberEnv(world, 0, 1);
    envs.set(id, env);
    const t = peerNet.join(id);
    const transport: PeerTransport = { ...t, onMessage: (handler) => t.onMessage((from, m) => env.run(() => handler(from, m))) };
    const m = new Member({ id, voters: ids, config, transport, storage: disks.get(id)!, snapshots: snapshotDirs.get(id)!, data: dataDirs.get(id)!, snapshotEvery, snapshotChunkBytes: SNAPSHOT_CHUNK_BYTES, env, log: silentServerLog, newEnsemble: options.newEnsemble });
    m.server.start();
    members.set(id, m);
  };
  // With newEnsemble, one member starts 3 to 8 s in: after the others waited initLimit ticks (2 s) and began.
  const late = options.newEnsemble === true ? random.pick(ids) : null;
  for (const id of ids) {
    if (id !== late) start(id);
  }
  if (late !== null) {
    // It has no data: until a leader has brought it up to date, no other member is wiped.
    lostData.add(late);
    world.scheduler.after(3_000 + random.float() * 5_000, () => {
      if (members.has(late)) return; // the quiet phase started it
      note(`member ${late} starts, late`);
      start(late);
    });
  }
  const isolated = new Set<number>();
  /** Links cut, as `from>to`. */
  const cutLinks = new Set<string>();
  let restarts = 0;

  const connectString = ids.map((id) => `m${id}:${id}`).join(',');
  const workload = new Workload(world, checker, note, (index) => new ZooKeeperClient(connectString, {
    socketFactory: (_host, port) => clientNet.connect(index, (s) => members.get(port)?.server.accept(s), port, gate(port)),
    clock: { now: () => world.clock.monotonic() },
    scheduler: world.scheduler,
    random: () => random.float(),
    logger: silentClientLog,
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    connectTimeoutMs: 3_600_000,
    retry: { baseDelayMs: 50, maxDelayMs: 1_000 },
  }), (slot) => {
    const links = clientNet.linksOf(slot.index);
    if (links.length === 1 && world.now - links[0].openedAt > 1_000) movedInPlace++;
  });
  let movedInPlace = 0;
  const { slots, ops } = workload;
  workload.fifo = options.fifo !== false;
  const history = { ops: 0, unknown: 0, verdict: 'not checked' };

  const terms = (): number => Math.max(...[...members.values()].map((m) => m.raft.term));

  const leaderNow = (): Member | undefined => [...members.values()].find((m) => m.isLeader);
  /** The leader often, any member otherwise. */
  const pickMember = (): number => {
    const leader = leaderNow();
    return leader !== undefined && random.chance(0.5) ? leader.id : random.pick(ids);
  };

  /**
   * The member's process dies (what its disk had not made durable is lost, but for the first `keep`
   * entries of a batch in flight); it restarts from its disk `downMs` later, or from a new empty one
   * when `wiped`.
   */
  const crash = (id: number, keep: number, downMs: number, wiped: boolean): void => {
    const victim = members.get(id)!;
    note(`member ${id} crashes${victim.isLeader ? ' (the leader)' : ''}${wiped ? ', its disk wiped' : ''}`);
    victim.crash();
    envs.get(id)!.kill();
    disks.get(id)!.crash(keep);
    if (wiped) {
      disks.set(id, newDisk(id));
      snapshotDirs.set(id, new MemoryMemberSnapshots());
      dataDirs.set(id, new MemoryMemberData());
      lostData.add(id);
    }
    members.delete(id);
    world.scheduler.after(downMs, () => {
      if (members.has(id)) return;
      restarts++;
      note(`member ${id} restarts`);
      start(id);
    });
  };

  const scheduleFaults = (until: number): void => {
    const next = (): void => {
      if (world.now >= until) return;
      const roll = random.float();
      const slot = random.int(options.clients);
      if (roll < 0.17) {
        note(`client ${slot}: connection cut`);
        clientNet.cut(slot);
      } else if (roll < 0.25) {
        const ms = SESSION_TIMEOUT_MS * (0.3 + random.float() * 1.5);
        note(`client ${slot}: traffic stalled for ${ms.toFixed(0)} ms`);
        clientNet.hold(slot, world.now + ms);
      } else if (roll < 0.43) {
        // A member cut off from the others; its clients still reach it. Often the leader.
        const id = pickMember();
        note(`member ${id} cut off from the others${leaderNow()?.id === id ? ' (the leader)' : ''}`);
        isolated.add(id);
        rebuildLinks();
        world.scheduler.after(200 + random.float() * 5_000, () => {
          if (!isolated.delete(id)) return;
          note(`member ${id} rejoins`);
          rebuildLinks();
        });
      } else if (roll < 0.58) {
        // A member dies, the leader often; it comes back from its disk (or an empty one) a while later.
        const id = pickMember();
        const keep = random.int(3);
        const downMs = 50 + random.float() * 3_000;
        // A wipe leaves a majority with its data: without one, no leader may be elected again.
        const wiped = random.chance(0.25) && options.wipe !== false && ids.filter((x) => x !== id && !lostData.has(x)).length > ids.length / 2;
        if (members.has(id) && members.size > 1) crash(id, keep, downMs, wiped);
      } else if (roll < 0.7) {
        // A power cut: a majority dies at once, the leader among them, each losing what its disk
        // had not made durable (what a member acknowledged before its disk had it is lost here).
        const leader = leaderNow();
        const others = [...members.keys()].filter((id) => id !== leader?.id).sort(() => random.float() - 0.5);
        const down = [...(leader === undefined ? [] : [leader.id]), ...others].slice(0, Math.floor(ids.length / 2) + 1);
        const downMs = 50 + random.float() * 2_000;
        if (down.length < members.size) for (const id of down) crash(id, random.int(3), downMs, false);
      } else if (roll < 0.85) {
        // The member's process is stopped (SIGSTOP) and resumed: its timers fire late, what arrived meanwhile runs then.
        const id = pickMember();
        const ms = random.chance(0.5) ? 20 + random.float() * 500 : SESSION_TIMEOUT_MS * (0.2 + random.float() * 1.5);
        // Now and then its links to the others fail meanwhile too (a VM moved): it resumes cut off,
        // still taking itself for the leader until it finds no quorum, while its clients reach it.
        const alone = random.chance(0.3);
        if (members.has(id)) {
          note(`member ${id} paused for ${ms.toFixed(0)} ms${leaderNow()?.id === id ? ' (the leader)' : ''}${alone ? ', cut off from the others until 300 ms after' : ''}`);
          envs.get(id)!.pause(ms);
          if (alone) {
            isolated.add(id);
            rebuildLinks();
            world.scheduler.after(ms + 300, () => {
              if (!isolated.delete(id)) return;
              note(`member ${id} rejoins`);
              rebuildLinks();
            });
          }
        }
      } else if (roll < 0.95) {
        const [a, b] = [random.pick(ids), random.pick(ids)];
        if (a !== b) {
          const oneWay = random.chance(0.3);
          note(`link ${a}-${b} cut${oneWay ? ' one way' : ''}`);
          cutLinks.add(`${a}>${b}`);
          if (!oneWay) cutLinks.add(`${b}>${a}`);
          rebuildLinks();
          world.scheduler.after(200 + random.float() * 3_000, () => {
            note(`link ${a}-${b} back`);
            cutLinks.delete(`${a}>${b}`);
            cutLinks.delete(`${b}>${a}`);
            rebuildLinks();
          });
        }
      }
      world.scheduler.after(200 + random.float() * 1_800, next);
    };
    world.scheduler.after(1_000 + random.float() * 1_000, next);
  };

  const linked = (a: number, b: number): boolean => !isolated.has(a) && !isolated.has(b) && !cutLinks.has(`${a}>${b}`) && !cutLinks.has(`${b}>${a}`);

  /** The network as the faults now in force make it. */
  const rebuildLinks = (): void => {
    peerNet.heal();
    for (const id of isolated) peerNet.isolate(id, ids);
    for (const link of cutLinks) {
      const [a, b] = link.split('>').map(Number);
      peerNet.cutLink(a, b, true);
    }
  };

  /**
   * Sessions and the paths to the leader, looked at every PROBE_MS. A session is closed once the
   * leader (the one of the newest term, its whole log applied) no longer holds it. A client's path
   * is sound while it has one connection, not held, to a running member whose leader is that leader,
   * both unpaused and linked both ways: a session closed while its path was sound (the same
   * connection, the same leader and term) for a whole session timeout was expired wrongly, since
   * the client pings at a third of it and the leader's clock runs at most 1.25 times as fast.
   */
  let leaderTerm = 0;
  const liveSessions = new Set<bigint>();
  const sound = new Map<number, { path: string; since: number }>();
  const probe = (): void => {
    for (const id of lostData) if (members.get(id)?.raft.recovering === false) lostData.delete(id);
    const leader = leaderNow();
    if (leader !== undefined && leader.raft.term >= leaderTerm) {
      leaderTerm = leader.raft.term;
      const held = leader.server.tree.sessions;
      for (const id of held.keys()) liveSessions.add(id);
      for (const id of liveSessions) {
        if (held.has(id)) continue;
        liveSessions.delete(id);
        checker.closedAt.set(id, world.now);
        const slot = slots.find((x) => x.client.sessionId === id);
        const path = slot === undefined ? undefined : sound.get(slot.index);
        if (slot !== undefined && path !== undefined && world.now - path.since >= SESSION_TIMEOUT_MS) {
          checker.fail(`client ${slot.index}: session 0x${BigInt.asUintN(64, id).toString(16)} closed while its path ${path.path} was sound since t=${path.since.toFixed(1)}`);
        }
      }
    }
    for (const slot of slots) {
      const links = clientNet.linksOf(slot.index);
      const link = links.length === 1 ? links[0] : undefined;
      const m = link === undefined ? undefined : members.get(link.target);
      const ok = link !== undefined && m !== undefined && leader !== undefined && !clientNet.held(slot.index)
        && slot.client.state === 'SyncConnected' && checker.sessionOn(link) === slot.client.sessionId
        && !envs.get(m.id)!.paused && !envs.get(leader.id)!.paused && m.raft.lead === leader.id && (m === leader || linked(m.id, leader.id));
      const path = ok ? `(connection ${link.id} to member ${m.id}, leader ${leader.id} in term ${leader.raft.term})` : '';
      const before = sound.get(slot.index);
      if (!ok) sound.delete(slot.index);
      else if (before?.path !== path) sound.set(slot.index, { path, since: world.now });
    }
  };
  world.scheduler.every(PROBE_MS, probe);

  const stopped = (): EnsembleSimResult => ({ seed, violations: checker.violations, trace, steps: world.steps, ops, terms: terms(), restarts, digest: '', history, movedInPlace, sessionsClosed: checker.closedAt.size });

  try {
    for (let i = 0; i < options.clients; i++) workload.open(i);
    await world.runUntil(3_000);
    const setup = slots[0].client;
    for (const path of ['/s', ...slots.map((s) => `/c${s.index}`)]) await runUntilSettled(world, createForSetup(setup, path, () => new Promise((r) => void world.scheduler.after(50, r))), 20_000);
    const loadUntil = world.now + options.durationMs;
    for (let i = 0; i < options.clients; i++) workload.load(i, loadUntil);
    scheduleFaults(loadUntil);
    await world.runUntil(loadUntil);
    if (world.isStopped) return stopped();

    // Quiet: every link back, every client reconnected and served, every member caught up.
    isolated.clear();
    cutLinks.clear();
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
    // A session the ensemble closed is one its client was told expired, and the other way round.
    for (const slot of workload.opened) {
      const id = slot.client.sessionId;
      const closed = checker.closedAt.get(id);
      if (closed !== undefined && closed < world.now - SESSION_TIMEOUT_MS && !slot.expired) checker.fail(`client ${slot.index}: its session 0x${BigInt.asUintN(64, id).toString(16)} closed at t=${closed.toFixed(1)}, the client (${slot.client.state}) was never told it expired`);
      if (slot.expired && tree.sessions.has(id)) checker.fail(`client ${slot.index} was told its session 0x${BigInt.asUintN(64, id).toString(16)} expired, yet the ensemble holds it`);
    }
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
    const linear = checkLinearizable(workload.history, { maxSteps: Number(process.env.LIN_STEPS ?? 1_000_000) });
    if (linear.ok === false) checker.fail(`the history of the shared nodes is not linearizable: ${linear.explanation}`);
    history.verdict = linear.ok === true ? 'linearizable' : linear.ok === 'unknown' ? `undecided on ${linear.key}` : 'not linearizable';
    const result: EnsembleSimResult = { seed, violations: checker.violations, trace, steps: world.steps, ops, terms: terms(), restarts, digest: want, history, movedInPlace, sessionsClosed: checker.closedAt.size };
    for (const slot of slots) void slot.client.close();
    await runUntilSettled(world, Promise.all([...members.values()].map((m) => m.close())), 10_000);
    return result;
  } catch (err) {
    if (!world.isStopped) checker.fail(`the run threw: ${err instanceof Error ? err.stack : String(err)}`);
    return stopped();
  }
}

/**
 * A setup znode, created before any fault: the first election may still be going on (a split vote
 * takes another term), and a client whose requests wait for a member that turns it away is told
 * CONNECTIONLOSS, as ZooKeeper's is. Tried again until it is there.
 */
async function createForSetup(client: ZooKeeperClient, path: string, pause: () => Promise<void>): Promise<void> {
  for (let tries = 0; ; tries++) {
    try {
      await client.create(path);
      return;
    } catch (err) {
      if (err instanceof NodeExistsError && tries > 0) return;
      if (!(err instanceof ConnectionLossError)) throw err;
    }
    await pause();
  }
}
