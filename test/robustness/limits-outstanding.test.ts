/**
 * globalOutstandingLimit: over that many requests in flight in all, the server stops reading from
 * the connections that have requests in flight, and reads them again as they are answered. The same
 * script against Apache ZooKeeper 3.8 and Ensemble: clients that pipeline hundreds of creates each get
 * every reply, in order, and every create is applied once; Ensemble's own count of requests in flight
 * never goes past the limit by more than one request per connection.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { body, createRecord, HealthyClient, RawClient, requestFrame } from './frames.ts';
import { assertNothingEscaped, installUncaughtGuard } from './harness.ts';
import { serverWith, SKIP_ZOOKEEPER } from './limits-harness.ts';

installUncaughtGuard();

const LIMIT = 20;
const WRITERS = 5;
const CREATES = 400;

for (const name of ['zookeeper', 'ensemble'] as const) {
  describe(`globalOutstandingLimit: ${name}`, { skip: name === 'zookeeper' && SKIP_ZOOKEEPER }, () => {
    const server = serverWith(name, [`globalOutstandingLimit=${LIMIT}`]);

    test('pipelined creates from several clients are throttled, then all answered in order, none lost', async () => {
      const t = server();
      const healthy = await HealthyClient.connect(t.host, t.port);
      const writers: RawClient[] = [];
      // Ensemble: every change of its count of requests in flight, to find the highest.
      let peak = 0;
      const limits = t.inProcess?.server.limits;
      if (limits) {
        let outstanding = limits.outstanding;
        Object.defineProperty(limits, 'outstanding', {
          configurable: true,
          get: () => outstanding,
          set: (n: number) => {
            outstanding = n;
            peak = Math.max(peak, n);
          },
        });
      }
      try {
        assert.equal((await healthy.call(OpCode.create, createRecord('/go'))).err, 0);
        for (let w = 0; w < WRITERS; w++) {
          const c = await RawClient.connect(t.host, t.port);
          await c.handshake({ timeOutMs: 30_000 });
          writers.push(c);
        }
        // Each writer's creates in one write: all of them reach the server at once.
        for (const [w, c] of writers.entries()) {
          const frames: Buffer[] = [];
          for (let i = 1; i <= CREATES; i++) frames.push(requestFrame(i, OpCode.create, createRecord(`/go/w${w}-${i}`, Buffer.from('x'))));
          c.send(Buffer.concat(frames));
        }
        await healthy.roundTrip('/healthy-while-throttled');
        for (const [w, c] of writers.entries()) {
          for (let i = 1; i <= CREATES; i++) {
            const f = await c.nextFrame();
            assert.ok(f, `writer ${w}: reply ${i} missing (${c.closed ? 'closed' : 'timeout'})`);
            const [xid, err] = [f.readInt32BE(0), f.readInt32BE(12)];
            if (xid !== i || err !== 0) assert.fail(`writer ${w}: reply ${i} has xid ${xid}, err ${err}`);
          }
        }
        const children = await healthy.call(OpCode.getAllChildrenNumber, body((b) => b.ustring('/go')));
        assert.equal(children.err, 0);
        assert.equal(children.body.readInt32BE(0), WRITERS * CREATES);
        if (limits) {
          assert.ok(limits.count('globalOutstandingLimit') > 0, 'the limit was never reached');
          assert.ok(peak > LIMIT, `requests in flight peaked at ${peak}: the test did not load the server`);
          assert.ok(peak <= LIMIT + WRITERS + 1, `requests in flight peaked at ${peak}, limit ${LIMIT}`);
          assert.equal(limits.outstanding, 0);
        }
      } finally {
        for (const c of writers) c.destroy();
        healthy.close();
        if (limits) Object.defineProperty(limits, 'outstanding', { configurable: true, writable: true, enumerable: true, value: limits.outstanding });
      }
      assertNothingEscaped();
    });
  });
}
