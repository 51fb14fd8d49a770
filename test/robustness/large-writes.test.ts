/**
 * Large writes queued by one session do not hold back another session's small write: the small
 * write is given its zxid (its place in the log) ahead of the large writes still waiting, while the
 * large writer's own requests keep their order and all succeed (src/server/pipeline/write-gate.ts).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { OpCode } from '../../src/protocol/constants.ts';
import { JuteReader } from '../../src/protocol/jute.ts';
import { readReplyHeader } from '../../src/protocol/records.ts';
import { HealthyClient, RawClient, createRecord, pathWatchRecord, requestFrame, setDataRecord } from './frames.ts';
import { inProcessForSuite, installUncaughtGuard } from './harness.ts';

installUncaughtGuard();

const LARGE_WRITES = 16;
const LARGE_BYTES = 500_000;

describe('large writes and a small one', () => {
  const server = inProcessForSuite();

  test('the small write of another session is not queued behind them; the large writer keeps its order', async () => {
    const s = server();
    const setup = await HealthyClient.connect(s.host, s.port);
    assert.equal((await setup.call(OpCode.create, createRecord('/large'))).err, 0);
    assert.equal((await setup.call(OpCode.create, createRecord('/small'))).err, 0);
    assert.equal((await setup.call(OpCode.create, createRecord('/other'))).err, 0);

    const large = await RawClient.connect(s.host, s.port);
    await large.handshake({ timeOutMs: 30_000 });
    const frames: Buffer[] = [];
    for (let i = 1; i <= LARGE_WRITES; i++) frames.push(requestFrame(i, OpCode.setData, setDataRecord('/large', Buffer.alloc(LARGE_BYTES, i))));
    // The same session's small write and read come after its large writes, and must stay there.
    frames.push(requestFrame(LARGE_WRITES + 1, OpCode.setData, setDataRecord('/small', Buffer.from('from the large writer'))));
    frames.push(requestFrame(LARGE_WRITES + 2, OpCode.getData, pathWatchRecord('/large')));
    large.send(Buffer.concat(frames));
    // Another session's small write, sent once the first large write is applied.
    const small = await RawClient.connect(s.host, s.port);
    await small.handshake({ timeOutMs: 30_000 });
    while (s.server.replica.tree.get('/large')!.version === 0) await new Promise((r) => setImmediate(r));
    small.send(requestFrame(1, OpCode.setData, setDataRecord('/other', Buffer.from('from another session'))));
    const f = await small.nextFrame();
    assert.ok(f !== null);
    const other = readReplyHeader(new JuteReader(f));
    assert.equal(other.err, 0);

    const replies = [];
    for (let i = 0; i < LARGE_WRITES + 2; i++) {
      const f = await large.nextFrame();
      assert.ok(f !== null, 'every request of the large writer is answered');
      replies.push(readReplyHeader(new JuteReader(f)));
    }
    assert.deepEqual(replies.map((r) => r.xid), Array.from({ length: LARGE_WRITES + 2 }, (_, i) => i + 1), 'answered in order');
    assert.deepEqual(replies.map((r) => r.err), replies.map(() => 0));
    const lastLargeZxid = replies[LARGE_WRITES - 1].zxid;
    const smallZxid = s.server.replica.tree.get('/small')!.mzxid;
    assert.equal(s.server.replica.tree.get('/large')!.version, LARGE_WRITES);
    assert.ok(smallZxid > lastLargeZxid, 'the large writer\'s own small write follows its large ones');
    // The other session's write went in ahead of the large writes still waiting when it arrived.
    assert.ok(other.zxid < lastLargeZxid, `the other session's write (zxid ${other.zxid}) waited behind every large write (the last: ${lastLargeZxid})`);
    assert.equal(s.server.replica.tree.get('/small')!.data?.toString(), 'from the large writer');
    large.destroy();
    small.destroy();
    setup.close();
  });
});
