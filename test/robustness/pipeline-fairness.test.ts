/**
 * A client that pipelines thousands of requests in one write has them taken a slice per turn of the
 * event loop (REQUESTS_PER_TURN), so that the other connections' requests are taken in between
 * rather than behind all of them; every one of its requests is still answered, in order.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { REQUESTS_PER_TURN } from '../../src/server/net/connection.ts';
import { HealthyClient, RawClient, pathWatchRecord, requestFrame } from './frames.ts';
import { inProcessForSuite, installUncaughtGuard } from './harness.ts';

installUncaughtGuard();

const PIPELINED = 5_000;

describe('a deep pipeline', () => {
  const server = inProcessForSuite();

  test(`is taken at most about ${REQUESTS_PER_TURN} requests a turn, and answered whole and in order`, async () => {
    const s = server();
    const flood = await RawClient.connect(s.host, s.port);
    await flood.handshake();
    const probe = await HealthyClient.connect(s.host, s.port);
    const stats = s.server.stats;
    // Requests taken between two turns of the loop (this sampler runs once a turn, as the server
    // runs in this process).
    let mostInATurn = 0;
    let last = stats.packetsReceived;
    let sampling = true;
    const sample = (): void => {
      mostInATurn = Math.max(mostInATurn, stats.packetsReceived - last);
      last = stats.packetsReceived;
      if (sampling) setImmediate(sample);
    };
    setImmediate(sample);
    flood.send(Buffer.concat(Array.from({ length: PIPELINED }, (_, i) => requestFrame(i + 1, OpCode.exists, pathWatchRecord('/')))));
    const probed = probe.call(OpCode.exists, pathWatchRecord('/'));
    for (let i = 1; i <= PIPELINED; i++) {
      const f = await flood.nextFrame();
      assert.ok(f !== null, `reply ${i} of ${PIPELINED}`);
      assert.equal(f.readInt32BE(0), i, 'replies in request order');
      assert.equal(f.readInt32BE(12), 0, 'answered OK');
    }
    sampling = false;
    assert.equal((await probed).err, 0, 'the other client was served');
    // A turn takes a slice of the pipeline in its poll phase and another in its check phase, at most.
    assert.ok(mostInATurn <= 3 * REQUESTS_PER_TURN, `at most ${3 * REQUESTS_PER_TURN} requests in a turn, saw ${mostInATurn}`);
    assert.ok(mostInATurn > 0);
    flood.socket.destroy();
    probe.close();
  });
});
