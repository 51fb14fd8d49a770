/**
 * Connections that never finish their handshake, and the total number of connections (maxCnxns):
 * the same zoo.cfg lines and the same scripts against Apache ZooKeeper 3.8 and Ensemble. Only the
 * offending connection is closed or refused; a session opened before keeps working; mntr counts it.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { fourLetterWord } from '../support/zookeeper.ts';
import { connectFrame, HealthyClient, pathWatchRecord, RawClient, requestFrame } from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard } from './harness.ts';
import { counter, handshakeAnswered, serverWith, silentConnections, sleep, SKIP_ZOOKEEPER } from './limits-harness.ts';

installUncaughtGuard();

const SESSIONLESS_TIMEOUT_MS = 1500;
const MAX_CNXNS = 8;
const ZOO_CFG = [`nio.sessionlessCnxnTimeout=${SESSIONLESS_TIMEOUT_MS}`, `maxCnxns=${MAX_CNXNS}`];
/** Far beyond the bound: only a connection never closed fails, not a slow machine. */
const CLOSE_WAIT_MS = 30_000;

for (const name of ['zookeeper', 'ensemble'] as const) {
  describe(`connection limits: ${name}`, { skip: name === 'zookeeper' && SKIP_ZOOKEEPER }, () => {
    const server = serverWith(name, ZOO_CFG);

    test('connections that send nothing are closed after nio.sessionlessCnxnTimeout, and counted', async () => {
      const t = server();
      const healthy = await HealthyClient.connect(t.host, t.port);
      try {
        const before = await counter(t, 'sessionless_connections_expired');
        const openedAt = Date.now();
        const silent = await silentConnections(t, 5);
        const closedAt: number[] = [];
        for (const c of silent) void c.closedPromise.then(() => closedAt.push(Date.now()));
        assert.ok(await eventually(() => silent.every((c) => c.closed), CLOSE_WAIT_MS), 'a silent connection is still open');
        // Not before the bound (ZooKeeper expires in buckets of the timeout, never early).
        assert.ok(Math.min(...closedAt) - openedAt >= SESSIONLESS_TIMEOUT_MS - 200, `closed after ${Math.min(...closedAt) - openedAt} ms`);
        assert.ok((await counter(t, 'sessionless_connections_expired')) >= before + 5);
        await healthy.roundTrip('/after-silent');
        if (t.inProcess) {
          assert.equal(t.inProcess.server.limits.sessionlessExpired, before + 5);
          assert.equal(t.inProcess.server.connections.size, 1, 'only the healthy session is left');
        }
      } finally {
        healthy.close();
      }
      assertNothingEscaped();
    });

    test('a ConnectRequest sent one byte at a time: Ensemble closes it at the bound, ZooKeeper lets it finish', async () => {
      const t = server();
      const c = await RawClient.connect(t.host, t.port);
      const frame = connectFrame({ timeOutMs: 30_000 });
      // One byte every 150 ms: the whole request takes about 7 s, far past the 1.5 s bound.
      let sent = 0;
      try {
        while (sent < frame.length && !c.closed) {
          c.send(frame.subarray(sent, sent + 1));
          sent++;
          await sleep(150);
        }
        const answer = await c.nextFrame(CLOSE_WAIT_MS);
        if (name === 'zookeeper') {
          // NIOServerCnxnFactory touches a connection on every read: each byte restarts its timeout.
          assert.ok(answer !== null, 'ZooKeeper answered the handshake');
        } else {
          assert.equal(answer, null, 'no ConnectResponse');
          assert.ok(c.closed, 'the connection was closed');
          assert.ok(sent < frame.length, `all ${sent} bytes were taken`);
        }
      } finally {
        c.destroy();
      }
      assertNothingEscaped();
    });

    test('after its session expires, a client that keeps sending and never closes is cut off', async () => {
      const t = server();
      // A socket that never reads (not even the ConnectResponse), with the shortest session (2 ticks),
      // then a request one byte at a time, never whole: nothing of it keeps the session alive.
      const socket = connect({ host: t.host, port: t.port });
      socket.on('error', () => { /* the reset is the expected end */ });
      let closed = false;
      socket.on('close', () => (closed = true));
      await new Promise((resolve) => socket.once('connect', resolve));
      socket.pause();
      socket.write(connectFrame({ timeOutMs: 1 }));
      const request = requestFrame(1, OpCode.getData, pathWatchRecord(`/${'a'.repeat(2000)}`));
      const startedAt = Date.now();
      try {
        for (let sent = 0; sent < request.length && !closed && Date.now() - startedAt < CLOSE_WAIT_MS; sent++) {
          socket.write(request.subarray(sent, sent + 1));
          await sleep(100);
        }
        assert.ok(closed, 'the connection was kept');
      } finally {
        socket.destroy();
      }
      assertNothingEscaped();
    });

    test('maxCnxns: the connection over the limit is closed at once, the others keep working, and it is counted', async () => {
      const t = server();
      const before = await counter(t, 'connection_rejected');
      const sessions: HealthyClient[] = [];
      try {
        // Sessions, not silent connections: none of them may expire while the test runs.
        for (let i = 0; i < MAX_CNXNS; i++) sessions.push(await HealthyClient.connect(t.host, t.port));
        assert.equal(await handshakeAnswered(t), false, `connection ${MAX_CNXNS + 1} was served`);
        for (const [i, s] of sessions.entries()) {
          assert.equal((await s.call(OpCode.exists, pathWatchRecord('/'))).err, 0, `session ${i} after the refusal`);
        }
        // A connection that goes makes room for a new one.
        sessions.pop()?.close();
        let served = false;
        for (let attempt = 0; attempt < 20 && !served; attempt++) {
          await sleep(250);
          served = await handshakeAnswered(t);
        }
        assert.ok(served, 'no room after a connection went');
      } finally {
        for (const s of sessions) s.close();
      }
      // mntr is itself a connection: asked once the others are gone.
      await sleep(500);
      const rejected = await counter(t, 'connection_rejected');
      assert.ok(rejected >= before + 1, `connection_rejected went from ${before} to ${rejected}`);
      if (t.inProcess) assert.equal(t.inProcess.server.limits.count('maxCnxns'), rejected - before);
      // stat_reset starts ZooKeeper's ServerMetrics counters again, these among them.
      assert.equal(await fourLetterWord(t.host, t.port, 'srst'), 'Server stats reset.\n');
      assert.equal(await counter(t, 'connection_rejected'), 0);
      assertNothingEscaped();
    });
  });
}
