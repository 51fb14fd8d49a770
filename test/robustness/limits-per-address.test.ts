/**
 * maxClientCnxns (connections from one address) counts connections that have not finished their
 * handshake, and gives their places back when they close or time out: the same zoo.cfg lines and the
 * same scripts against Apache ZooKeeper 3.8 and Ensemble (every test client is 127.0.0.1).
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { HealthyClient } from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard } from './harness.ts';
import { counter, handshakeAnswered, servedWithin, serverWith, silentConnections, sleep, SKIP_ZOOKEEPER } from './limits-harness.ts';

installUncaughtGuard();

const MAX_CLIENT_CNXNS = 3;
const ZOO_CFG = [`maxClientCnxns=${MAX_CLIENT_CNXNS}`, 'nio.sessionlessCnxnTimeout=3000'];
/** ZooKeeper counts a connection per address once its selector thread has registered it, a moment after the accept. */
const REGISTERED_MS = 500;
const WAIT_MS = 30_000;

for (const name of ['zookeeper', 'ensemble'] as const) {
  describe(`maxClientCnxns: ${name}`, { skip: name === 'zookeeper' && SKIP_ZOOKEEPER }, () => {
    const server = serverWith(name, ZOO_CFG);
    // ZooKeeper holds the connections its readiness was polled with (unread while it started) until they time out.
    before(async () => {
      assert.ok(await servedWithin(server(), WAIT_MS), 'no connection served at the start');
      await sleep(REGISTERED_MS);
    });

    test('silent connections hold their places until nio.sessionlessCnxnTimeout closes them', async () => {
      const t = server();
      const before = await counter(t, 'connection_rejected');
      const silent = await silentConnections(t, MAX_CLIENT_CNXNS);
      await sleep(REGISTERED_MS);
      assert.equal(await handshakeAnswered(t), false, 'a connection over maxClientCnxns was served');
      if (t.inProcess) assert.equal(t.inProcess.server.limits.connections('127.0.0.1'), MAX_CLIENT_CNXNS);
      assert.ok(await eventually(() => silent.every((c) => c.closed), WAIT_MS), 'a silent connection is still open');
      assert.ok(await servedWithin(t, WAIT_MS), 'no place given back after the silent connections were closed');
      assert.ok((await counter(t, 'connection_rejected')) >= before + 1);
      if (t.inProcess) {
        assert.ok(t.inProcess.server.limits.count('maxClientCnxns') >= 1);
        assert.equal(t.inProcess.server.limits.connections('127.0.0.1'), 0);
      }
      assertNothingEscaped();
    });

    test('connections closed by their client before the handshake give their places back', async () => {
      const t = server();
      const gone = await silentConnections(t, MAX_CLIENT_CNXNS);
      for (const c of gone) c.destroy();
      // Every place would still be taken if the closed connections counted.
      const sessions: HealthyClient[] = [];
      try {
        const deadline = Date.now() + WAIT_MS;
        while (sessions.length < MAX_CLIENT_CNXNS && Date.now() < deadline) {
          try {
            sessions.push(await HealthyClient.connect(t.host, t.port));
          } catch {
            await sleep(100);
          }
        }
        assert.equal(sessions.length, MAX_CLIENT_CNXNS, `only ${sessions.length} sessions`);
        await sleep(REGISTERED_MS);
        assert.equal(await handshakeAnswered(t), false, 'a connection over the limit was served');
        await sessions[0].roundTrip('/after-refusal');
      } finally {
        for (const s of sessions) s.close();
      }
      if (t.inProcess) {
        const limits = t.inProcess.server.limits;
        assert.ok(await eventually(() => limits.connections('127.0.0.1') === 0, WAIT_MS), 'places still taken after every connection closed');
      }
      assertNothingEscaped();
    });
  });
}
