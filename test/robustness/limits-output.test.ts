/**
 * Clients that send requests and do not read the replies: the bytes the server holds for them are
 * bounded per connection (ensemble.maxOutputBytesPerConnection) and over all connections
 * (ensemble.maxOutputBytes), and only the connection holding the most is closed. Apache ZooKeeper
 * 3.8 has no such bound (its replies wait in an unbounded queue per connection), so these run
 * against Ensemble alone.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Err, OpCode } from '../../src/protocol/constants.ts';
import type { ConnectionLimits } from '../../src/server/net/limits.ts';
import { createRecord, HealthyClient, lengthPrefix, pathWatchRecord, RawClient, requestBody, requestFrame } from './frames.ts';
import { assertNothingEscaped, eventually, installUncaughtGuard, serverSideOf } from './harness.ts';
import { serverWith } from './limits-harness.ts';

installUncaughtGuard();

const MiB = 1024 * 1024;
const REPLY_BYTES = 512 * 1024;
const WAIT_MS = 30_000;
const SLOW_REPLIES = 4;

/** Records the highest total of bytes not yet sent; call the result to stop recording. */
function recordPeak(limits: ConnectionLimits): { peak: () => number; stop: () => void } {
  let value = limits.outputBytes;
  let peak = value;
  Object.defineProperty(limits, 'outputBytes', {
    configurable: true,
    get: () => value,
    set: (n: number) => {
      value = n;
      peak = Math.max(peak, n);
    },
  });
  return {
    peak: () => peak,
    stop: () => Object.defineProperty(limits, 'outputBytes', { configurable: true, writable: true, enumerable: true, value }),
  };
}

/** A session that sends `n` getData of `path` at once and reads nothing. */
async function flood(host: string, port: number, path: string, n: number): Promise<RawClient> {
  const c = await RawClient.connect(host, port);
  await c.handshake({ timeOutMs: 30_000 });
  c.socket.pause();
  const frames: Buffer[] = [];
  for (let i = 1; i <= n; i++) frames.push(requestFrame(i, OpCode.getData, pathWatchRecord(path)));
  c.send(Buffer.concat(frames));
  return c;
}

describe('ensemble.maxOutputBytes: the connection holding the most is closed, not the others', () => {
  const server = serverWith('ensemble', [`ensemble.maxOutputBytes=${16 * MiB}`]);

  test('two slow readers and a flood: the flood is closed, the slow readers get every reply', async () => {
    const t = server();
    const limits = t.inProcess!.server.limits;
    const healthy = await HealthyClient.connect(t.host, t.port);
    assert.equal((await healthy.call(OpCode.create, createRecord('/half-mib', Buffer.alloc(REPLY_BYTES, 7)))).err, 0);
    const recording = recordPeak(limits);
    const clients: RawClient[] = [];
    try {
      // 2 MiB each for two clients that read later; 30 MiB for one that never does.
      const slow = [await flood(t.host, t.port, '/half-mib', SLOW_REPLIES), await flood(t.host, t.port, '/half-mib', SLOW_REPLIES)];
      clients.push(...slow);
      // Their replies are all encoded (and the handshake's) before the flood starts.
      assert.ok(await eventually(() => slow.every((c) => serverSideOf(t.inProcess!, c)?.packetsSent === SLOW_REPLIES + 1), WAIT_MS));
      const flooder = await flood(t.host, t.port, '/half-mib', 60);
      clients.push(flooder);
      assert.ok(await flooder.waitClosed(WAIT_MS), 'the connection holding the most was not closed');
      assert.ok(limits.count('ensemble.maxOutputBytes') >= 1);
      assert.ok(recording.peak() <= 16 * MiB + REPLY_BYTES + 64, `the server held ${recording.peak()} bytes not yet sent`);
      await healthy.roundTrip('/healthy-during-flood');
      // The slow readers were not touched: every reply arrives, in order, whole.
      for (const [k, c] of slow.entries()) {
        assert.ok(!c.closed, `slow reader ${k} was closed`);
        c.socket.resume();
        for (let i = 1; i <= SLOW_REPLIES; i++) {
          const f = await c.nextFrame();
          assert.ok(f, `slow reader ${k}: reply ${i} missing`);
          assert.equal(f.readInt32BE(0), i);
          assert.equal(f.readInt32BE(12), 0);
          assert.equal(f.readInt32BE(16), REPLY_BYTES, 'the data is whole');
        }
      }
      assert.equal(limits.count('ensemble.maxOutputBytesPerConnection'), 0);
    } finally {
      for (const c of clients) c.destroy();
      healthy.close();
      recording.stop();
    }
    assert.ok(await eventually(() => t.inProcess!.server.connections.size === 0 && limits.outputBytes === 0, WAIT_MS),
      `${limits.outputBytes} bytes still counted after every connection closed`);
    assertNothingEscaped();
  });
});

describe('ensemble.maxOutputBytesPerConnection: a client that never reads is closed on its own', () => {
  const server = serverWith('ensemble', [`ensemble.maxOutputBytesPerConnection=${4 * MiB}`]);

  test('the flood is closed past the bound, a healthy session goes on', async () => {
    const t = server();
    const limits = t.inProcess!.server.limits;
    const healthy = await HealthyClient.connect(t.host, t.port);
    assert.equal((await healthy.call(OpCode.create, createRecord('/half-mib', Buffer.alloc(REPLY_BYTES, 7)))).err, 0);
    const flooder = await flood(t.host, t.port, '/half-mib', 40);
    try {
      assert.ok(await flooder.waitClosed(WAIT_MS), 'a client reading nothing was kept');
      assert.ok(limits.count('ensemble.maxOutputBytesPerConnection') >= 1);
      await healthy.roundTrip('/healthy-after-flood');
    } finally {
      flooder.destroy();
      healthy.close();
    }
    assertNothingEscaped();
  });
});

describe('ensemble.maxInputBytes: the connection holding the most unfinished request bytes is closed, not the others', () => {
  const server = serverWith('ensemble', [`ensemble.maxInputBytes=${4 * MiB}`]);

  test('requests announced at 1,000,000 bytes and left unfinished: the biggest are closed, the small one and a session go on', async () => {
    const t = server();
    const limits = t.inProcess!.server.limits;
    const healthy = await HealthyClient.connect(t.host, t.port);
    const clients: RawClient[] = [];
    // A getData whose path makes it 1,000,000 bytes long.
    const request = requestBody(1, OpCode.getData, pathWatchRecord(`/${'a'.repeat(999_986)}`));
    assert.equal(request.length, 1_000_000);
    /** A connection that announces the request and sends `bytes` of it. */
    const unfinished = async (bytes: number): Promise<RawClient> => {
      const c = await RawClient.connect(t.host, t.port);
      clients.push(c);
      await c.handshake({ timeOutMs: 30_000 });
      c.send(Buffer.concat([lengthPrefix(request.length), request.subarray(0, bytes)]));
      assert.ok(await eventually(() => serverSideOf(t.inProcess!, c)?.heldInputBytes === 4 + bytes || c.closed, WAIT_MS));
      return c;
    };
    try {
      const small = await unfinished(100_000);
      const big: RawClient[] = [];
      for (let i = 0; i < 6; i++) big.push(await unfinished(900_000));
      // 100 KB + 6 x 900 KB: over 4 MiB with the fifth big one; it, the holder of the most, goes.
      assert.ok(await eventually(() => big.filter((c) => c.closed).length >= 2, WAIT_MS), 'no connection closed');
      assert.ok(limits.count('ensemble.maxInputBytes') >= 2);
      assert.ok(limits.inputBytes <= 4 * MiB, `${limits.inputBytes} bytes held`);
      assert.ok(!small.closed, 'the connection holding the least was closed');
      await healthy.roundTrip('/healthy-during-unfinished');
      // The small one finishes its request: it is answered (there is no such node).
      small.send(request.subarray(100_000));
      const answer = await small.outcome();
      assert.ok(answer.kind === 'reply' && answer.header.xid === 1 && answer.header.err === Err.NONODE, JSON.stringify(answer));
    } finally {
      for (const c of clients) c.destroy();
      healthy.close();
    }
    assert.ok(await eventually(() => limits.inputBytes === 0, WAIT_MS), `${limits.inputBytes} bytes still counted`);
    assertNothingEscaped();
  });
});

