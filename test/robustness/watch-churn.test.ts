/**
 * Watch churn and the per-session watch limit. A session that sets 200,000 watches and drops its
 * connection must not stall the server: its watches leave the tables a slice per turn of the event
 * loop while a probe session keeps being served, none of them fires meanwhile (not even to the same
 * session reconnected), and the watches of the sessions that stay still fire. A session may hold at
 * most ensemble.maxWatchesPerSession watches: a request that would set more is refused with
 * THROTTLEDOP and sets nothing. (Apache ZooKeeper has no such limit; the churn's events are
 * ZooKeeper's: a reconnected session that sends no SetWatches has no watches.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Err, EventType, OpCode } from '../../src/protocol/constants.ts';
import { JuteReader } from '../../src/protocol/jute.ts';
import type { ConnectOptions } from './frames.ts';
import { readWatcherEvent } from '../../src/protocol/requests.ts';
import {
  HealthyClient, RawClient, body, createRecord, pathWatchRecord, requestFrame, setDataRecord, setWatchesRecord,
} from './frames.ts';
import { eventually, inProcessForSuite, installUncaughtGuard, type InProcess } from './harness.ts';

installUncaughtGuard();

const WATCHES = 200_000;
/** No probe request may wait longer (generous: a slow shared machine; a stall of the old kind took seconds at this scale's five times). */
const PROBE_MAX_WAIT_MS = 1_000;

/** A probe session doing getData in a loop until stopped; its longest wait. */
function startProbe(c: HealthyClient, path: string): { stop(): Promise<number> } {
  let running = true;
  let maxMs = 0;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      const r = await c.call(OpCode.getData, pathWatchRecord(path));
      maxMs = Math.max(maxMs, performance.now() - t);
      assert.equal(r.err, 0);
      // Let the test's own work (sampling) run between requests.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return maxMs;
    },
  };
}

function eventOf(frame: Buffer): string {
  const e = readWatcherEvent(new JuteReader(frame.subarray(16)));
  return `${e.type} ${e.path}`;
}

/** A session that does one request at a time and keeps the watch events it receives, in order. */
class Session {
  readonly events: string[] = [];
  private xid = 0;
  private constructor(readonly raw: RawClient, readonly sessionId: bigint, readonly passwd: Buffer) {}

  static async open(s: InProcess, o: ConnectOptions = {}): Promise<Session> {
    const raw = await RawClient.connect(s.host, s.port);
    const resp = await raw.handshake({ timeOutMs: 30_000, ...o });
    assert.ok(resp.timeOutMs > 0, 'session refused');
    return new Session(raw, resp.sessionId, resp.passwd);
  }

  async call(type: number, record?: Buffer): Promise<number> {
    const xid = ++this.xid;
    this.raw.send(requestFrame(xid, type, record));
    for (;;) {
      const f = await this.raw.nextFrame();
      assert.ok(f !== null, `no reply to xid ${xid}`);
      const replyXid = f.readInt32BE(0);
      if (replyXid === -1) this.events.push(eventOf(f));
      else if (replyXid === xid) return f.readInt32BE(12);
    }
  }

  /** Whatever events arrive within a short while (after a round trip that follows the changes). */
  async settle(): Promise<string[]> {
    await this.call(OpCode.exists, pathWatchRecord('/'));
    return this.events;
  }
}

describe('a session with 200,000 watches leaves', () => {
  const server = inProcessForSuite();

  test('the probe is served throughout, the watches leave a slice per turn, and only live watches fire', async () => {
    const s = server();
    const watches = s.server.watches;
    const stays = await Session.open(s);
    const probeClient = await HealthyClient.connect(s.host, s.port);
    assert.equal(await stays.call(OpCode.create, createRecord('/shared', Buffer.from('v0'))), 0);
    assert.equal(await stays.call(OpCode.getData, pathWatchRecord('/shared', true)), 0);
    assert.equal(await stays.call(OpCode.exists, pathWatchRecord('/churn-5', true)), Err.NONODE);
    const probe = startProbe(probeClient, '/shared');

    const churner = await RawClient.connect(s.host, s.port);
    const session = await churner.handshake({ timeOutMs: 30_000 });
    const batch = 5_000;
    for (let i = 0; i < WATCHES; i += batch) {
      churner.send(Buffer.concat(Array.from({ length: batch }, (_, k) => requestFrame(i + k + 1, OpCode.exists, pathWatchRecord(`/churn-${i + k}`, true)))));
      assert.ok(await eventually(() => churner.framesWaiting >= i + batch, 60_000), 'the exists requests are answered');
    }
    churner.send(requestFrame(WATCHES + 1, OpCode.getData, pathWatchRecord('/shared', true)));
    assert.ok(await eventually(() => churner.framesWaiting >= WATCHES + 1, 15_000));
    assert.equal(watches.data.pathCount, WATCHES + 1);

    // The churner drops its connection (its session lives on): its watches leave a slice per turn.
    const connections = s.server.connections.size;
    churner.destroy();
    assert.ok(await eventually(() => s.server.connections.size < connections), 'the server saw the connection go');
    // A change on paths the churner watched, while its watches are leaving: it fires to no one else.
    const changed = stays.call(OpCode.create, createRecord('/churn-7'));
    const sizes = new Set<number>();
    for (let turns = 0; watches.data.pathCount > 2 && turns < 100_000; turns++) {
      sizes.add(watches.data.pathCount);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(await changed, 0);
    assert.equal(watches.data.pathCount, 2, "only the staying session's two watches are left");
    assert.ok(sizes.size >= 3, `the watches left over several turns (the table had ${sizes.size} sizes on the way)`);
    assert.equal(watches.watchCount, 2);

    // The churner's session comes back on a new connection, without SetWatches: it has no watches.
    const back = await Session.open(s, { sessionId: session.sessionId, passwd: session.passwd });
    assert.equal(back.sessionId, session.sessionId);
    assert.equal(await stays.call(OpCode.setData, setDataRecord('/shared', Buffer.from('v1'))), 0);
    assert.equal(await stays.call(OpCode.create, createRecord('/churn-5')), 0);
    assert.equal(await stays.call(OpCode.create, createRecord('/churn-9')), 0);
    assert.deepEqual(await back.settle(), [], 'no stale watch fires to the session reconnected');
    assert.deepEqual(await stays.settle(), [`${EventType.NodeDataChanged} /shared`, `${EventType.NodeCreated} /churn-5`], 'the live watches fired, once each');
    assert.equal(watches.watchCount, 0);

    const probeMaxMs = await probe.stop();
    assert.ok(probeMaxMs < PROBE_MAX_WAIT_MS, `the probe waited ${probeMaxMs.toFixed(0)} ms at most`);
    back.raw.destroy();
    stays.raw.destroy();
    probeClient.close();
  });
});

describe('the per-session watch limit (ensemble.maxWatchesPerSession)', () => {
  const LIMIT = 100;
  const server = inProcessForSuite({ maxWatchesPerSession: LIMIT });

  test('a request that would set more watches is refused with THROTTLEDOP and sets nothing', async () => {
    const s = server();
    const c = await Session.open(s);
    const other = await Session.open(s);
    const watches = s.server.watches;
    assert.equal(await c.call(OpCode.create, createRecord('/limit')), 0);
    // 97 exists watches, a child watch, and a persistent watch (one in each table): 100.
    for (let i = 0; i < LIMIT - 3; i++) assert.equal(await c.call(OpCode.exists, pathWatchRecord(`/limit/n${i}`, true)), Err.NONODE);
    assert.equal(await c.call(OpCode.getChildren, pathWatchRecord('/limit', true)), 0);
    assert.equal(await c.call(OpCode.addWatch, body((w) => w.ustring('/other').int(0))), 0);
    assert.equal(watches.watchCount, LIMIT);
    const refusedBefore = watches.refusedCount;

    // Over the limit: each way of setting a watch is refused, and the read is not done either.
    assert.equal(await c.call(OpCode.exists, pathWatchRecord('/limit/over', true)), Err.THROTTLEDOP);
    assert.equal(await c.call(OpCode.getData, pathWatchRecord('/limit', true)), Err.THROTTLEDOP);
    assert.equal(await c.call(OpCode.addWatch, body((w) => w.ustring('/x').int(1))), Err.THROTTLEDOP);
    assert.equal(await c.call(OpCode.setWatches, setWatchesRecord(0, ['/limit'], [], [])), Err.THROTTLEDOP);
    assert.equal(watches.refusedCount, refusedBefore + 4);
    assert.equal(watches.watchCount, LIMIT);
    // A watch it already holds may be set again; reads without a watch go on; other sessions have their own count.
    assert.equal(await c.call(OpCode.exists, pathWatchRecord('/limit/n0', true)), Err.NONODE);
    assert.equal(await c.call(OpCode.getData, pathWatchRecord('/limit', false)), 0);
    assert.equal(await other.call(OpCode.getData, pathWatchRecord('/limit', true)), 0);

    // The refused exists set no watch: its znode's creation fires only the child watch on /limit.
    assert.equal(await other.call(OpCode.create, createRecord('/limit/over')), 0);
    assert.deepEqual(await c.settle(), [`${EventType.NodeChildrenChanged} /limit`]);
    // That watch was consumed: exactly one more may be set.
    assert.equal(await c.call(OpCode.exists, pathWatchRecord('/limit/more', true)), Err.NONODE);
    assert.equal(await c.call(OpCode.exists, pathWatchRecord('/limit/more2', true)), Err.THROTTLEDOP);
    c.raw.destroy();
    other.raw.destroy();
  });
});
