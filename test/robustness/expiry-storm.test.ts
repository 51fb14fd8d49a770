/**
 * A storm of session expiries: thousands of sessions whose clients left together expire in the same
 * tick. Their ends are proposed a slice per turn of the event loop (a probe session is served
 * between slices), and each of them is closing from the tick on: a request of a session due whose
 * end is not yet applied is dropped unanswered and its connection closed, as ZooKeeperServer.touch
 * does ("Dropping request"), never served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { OpCode, Xid } from '../../src/protocol/constants.ts';
import { EXPIRIES_PER_SLICE } from '../../src/server/replica/replica.ts';
import { HealthyClient, RawClient, createRecord, pathWatchRecord, requestFrame } from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard, startInProcess, type InProcess } from './harness.ts';

installUncaughtGuard();

const SESSIONS = EXPIRIES_PER_SLICE * 6;
const TIMEOUT_MS = 2_000;
/** Generous: a slow shared machine. Before slicing, 20,000 such expiries stalled the server 0.5–1.8 s. */
const PROBE_MAX_WAIT_MS = 1_000;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function ping(c: RawClient): Promise<void> {
  c.send(requestFrame(Xid.ping, OpCode.ping));
  const f = await c.nextFrame();
  assert.ok(f !== null && f.readInt32BE(0) === Xid.ping, 'ping answered');
}

/** Open `n` sessions, at most 100 handshakes at a time; their connections stay open. */
async function openSessions(s: InProcess, n: number): Promise<Array<{ c: RawClient; id: bigint }>> {
  const out: Array<{ c: RawClient; id: bigint }> = [];
  for (let i = 0; i < n; i += 100) {
    out.push(...await Promise.all(Array.from({ length: Math.min(100, n - i) }, async () => {
      const c = await RawClient.connect(s.host, s.port);
      const r = await c.handshake({ timeOutMs: TIMEOUT_MS });
      assert.equal(r.timeOutMs, TIMEOUT_MS);
      return { c, id: r.sessionId };
    })));
  }
  return out;
}

describe(`${SESSIONS} sessions expire in one tick`, () => {
  let s: InProcess;
  before(async () => {
    s = await startInProcess({ tickTimeMs: 1_000 });
  });
  after(async () => {
    await s.stop();
    assertNothingEscaped();
  });

  test('their ends go a slice per turn, the probe is served, and a due session is not', async () => {
    const sessions = s.server.sessions;
    const probe = await HealthyClient.connect(s.host, s.port);
    assert.equal((await probe.call(OpCode.create, createRecord('/probe'))).err, 0);
    const storm = await openSessions(s, SESSIONS);
    const [due] = await openSessions(s, 1);
    // Pinged together, the storm shares one deadline; the due session's, pinged last, is the same
    // (tried again if a tick's boundary fell between them) and it is last in its bucket.
    for (let tries = 0; ; tries++) {
      await Promise.all(storm.map(({ c }) => ping(c)));
      await ping(due.c);
      const deadlines = new Set([...storm, due].map(({ id }) => sessions.get(id)!.expiresAtMs));
      if (deadlines.size === 1) break;
      assert.ok(tries < 5, 'the sessions share a deadline');
    }
    for (const { c } of storm) c.destroy();

    let probeMaxMs = 0;
    let probing = true;
    const probeLoop = (async () => {
      while (probing) {
        const t = performance.now();
        assert.equal((await probe.call(OpCode.getData, pathWatchRecord('/probe'))).err, 0);
        probeMaxMs = Math.max(probeMaxMs, performance.now() - t);
        await turn();
      }
    })();

    assert.ok(await eventually(() => sessions.get(due.id)?.closing === true, 15_000, 1), 'the due session is found expired');
    // Its end is proposed in the last slice: its request arrives before, and is dropped.
    assert.ok(sessions.get(due.id) !== undefined, 'its end is not yet applied');
    due.c.send(requestFrame(1, OpCode.getData, pathWatchRecord('/probe')));
    // The ends proposed so far, seen once a turn (the commit stage may apply several slices together).
    const proposed = [s.server.stats.sessionsExpired];
    for (let turns = 0; sessions.size > 1 && turns < 100_000; turns++) {
      await turn();
      proposed.push(s.server.stats.sessionsExpired);
    }
    assert.equal(sessions.size, 1, 'only the probe session is left');
    assert.equal(proposed.at(-1), SESSIONS + 1);
    const steps = proposed.slice(1).map((n, i) => n - proposed[i]).filter((d) => d > 0);
    const seen = [...new Set(proposed)].join(', ');
    assert.ok(steps.length >= 3, `the ends were proposed over several turns (${seen})`);
    assert.ok(steps.every((d) => d <= EXPIRIES_PER_SLICE), `at most a slice a turn (${seen})`);
    assert.deepEqual(await due.c.outcome(), { kind: 'closed' }, "the due session's request is not answered; its connection is closed");

    probing = false;
    await probeLoop;
    assert.ok(probeMaxMs < PROBE_MAX_WAIT_MS, `the probe waited ${probeMaxMs.toFixed(0)} ms at most`);
    probe.close();
  });
});
