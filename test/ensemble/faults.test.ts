/**
 * Ensemble processes under faults while sessions write through a multi-host connect string: the
 * leader killed with SIGKILL, then a random follower, both restarted from their data dirs, then the
 * leader frozen with SIGSTOP for several election timeouts and continued. After each: every
 * acknowledged write on every running member (each read directly after a sync, their zxids equal),
 * the writers' sessions unchanged with their ephemerals, and the ephemerals of sessions closed or
 * dropped gone from every member.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { assertMembersHold, createRetried, droppedSessionEphemeral, ProcessEnsemble, quietLogger, WriteLoad } from '../support/process-ensemble.ts';
import { prng } from '../support/prng.ts';

// Elections take half a tickTime to one; a session outlives several (maxSessionTimeout raised).
const TICK_MS = 250;
const SESSION_TIMEOUT_MS = 10_000;
/** Frozen for this long: eight election timeouts at least. */
const STOP_MS = 8 * TICK_MS;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function faultyEnsemble(size: 3 | 5) {
  const e = new ProcessEnsemble({ size, tickTimeMs: TICK_MS, maxSessionTimeoutMs: 2 * SESSION_TIMEOUT_MS });
  const state = { load: null as WriteLoad | null, gone: [] as string[] };
  before(async () => {
    await e.configure();
    for (const id of e.ids) e.start(id);
    await e.leader();
    state.load = await WriteLoad.start(e.connectString(), { sessionTimeoutMs: SESSION_TIMEOUT_MS });
    // A session closed by its client and one whose client vanished: their ephemerals must go.
    const closed = await connect(e.connectString(), { sessionTimeoutMs: SESSION_TIMEOUT_MS, logger: quietLogger });
    state.gone.push(await createRetried(closed, '/closed-owner', 'ephemeral'));
    await closed.close();
    state.gone.push(await droppedSessionEphemeral(e, e.ids[0], '/dropped-owner'));
    await state.load.waitForMore(20);
  });
  after(async () => {
    await state.load?.close().catch(() => {});
    await e.close();
  });
  /** More writes acknowledged after the fault, then the members checked with the load paused. */
  const checkpoint = async (ids = e.running()) => {
    const load = state.load!;
    await load.waitForMore(20);
    await load.pause();
    await assertMembersHold(e, load, { ids, gone: state.gone });
    load.resume();
  };
  return { e, state, checkpoint };
}

/** The leader frozen longer than an election takes: the others elect one of them; continued, it rejoins. */
async function stopTheLeader(e: ProcessEnsemble, state: { load: WriteLoad | null }): Promise<void> {
  const leader = await e.leader();
  const others = e.ids.filter((id) => id !== leader);
  e.pause(leader);
  try {
    const next = await e.leader(others);
    assert.notEqual(next, leader);
    await sleep(STOP_MS);
    // The writers whose member is frozen move once their pings go unanswered.
    await state.load!.waitForMore(20);
  } finally {
    e.resume(leader);
  }
  // Every member serves again (the continued one most likely follows; on a slow machine it may
  // have been elected again since).
  await e.leader();
}

describe('five ensemble processes under faults, with writes going on', { timeout: 300_000 }, () => {
  const { e, state, checkpoint } = faultyEnsemble(5);
  const seed = Number(process.env.ENSEMBLE_FAULT_SEED ?? Date.now() % 1_000_000);
  const random = prng(seed);

  it('the leader killed with SIGKILL: the others elect one of them, writes go on, none acknowledged is lost', async () => {
    const leader = await e.leader();
    // A client on the leader vanishes with it: its session expires on the new leader.
    state.gone.push(await droppedSessionEphemeral(e, leader, '/dropped-with-leader'));
    await e.kill(leader);
    assert.notEqual(await e.leader(e.running()), leader);
    await checkpoint();
  });

  it(`a random follower killed as well (seed ${seed}): three of five go on`, async () => {
    const leader = await e.leader(e.running());
    const candidates = e.running().filter((id) => id !== leader);
    const victim = candidates[Math.floor(random() * candidates.length)];
    await e.kill(victim);
    await e.leader(e.running());
    await checkpoint();
  });

  it('both restarted from their data dirs: they catch up and hold every acknowledged write', async () => {
    const down = e.ids.filter((id) => !e.isRunning(id));
    assert.equal(down.length, 2);
    for (const id of down) e.start(id);
    await e.leader();
    await checkpoint(e.ids as number[]);
  });

  it(`the leader stopped with SIGSTOP for ${STOP_MS} ms, then continued: the others elected a leader meanwhile, it rejoins and nothing is lost`, async () => {
    await stopTheLeader(e, state);
    await checkpoint(e.ids as number[]);
  });

  it('no load session was answered SESSIONMOVED', () => {
    assert.deepEqual(state.load!.sessionMoved, []);
  });
});

describe('three ensemble processes: the leader stopped with SIGSTOP under writes', { timeout: 180_000 }, () => {
  const { e, state, checkpoint } = faultyEnsemble(3);

  it(`stopped for ${STOP_MS} ms, then continued: the others elected a leader meanwhile, it rejoins and nothing is lost`, async () => {
    await stopTheLeader(e, state);
    await checkpoint(e.ids as number[]);
  });

  it('a session reopened on the new leader while the old one was stopped still writes there once it is continued', async () => {
    const leader = await e.leader();
    const options = { sessionTimeoutMs: SESSION_TIMEOUT_MS, logger: quietLogger };
    const before = await connect(e.connectString([leader]), options);
    await createRetried(before, '/moved-0');
    e.pause(leader);
    let after: ZooKeeperClient;
    try {
      const next = await e.leader(e.ids.filter((id) => id !== leader));
      after = await connect(e.connectString([next]), { ...options, sessionId: before.sessionId, sessionPassword: before.sessionPassword });
      await createRetried(after, '/moved-1');
    } finally {
      e.resume(leader);
    }
    await e.leader();
    await sleep(4 * TICK_MS);
    try {
      // (ZooKeeper may drop the connection once meanwhile: a lost connection is tried again.)
      for (let i = 2; i < 6; i++) await createRetried(after, `/moved-${i}`);
    } finally {
      await after.close();
      await before.close().catch(() => {});
    }
  });

  it('no load session was answered SESSIONMOVED', () => {
    assert.deepEqual(state.load!.sessionMoved, []);
  });
});
