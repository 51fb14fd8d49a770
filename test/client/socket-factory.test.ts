/**
 * The client's network and clock can be replaced: connections go through the socketFactory option
 * and time through the clock and scheduler options, as a network simulator would use them. Each scenario runs
 * against an in-process Ensemble (TestingServer).
 */
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { Duplex } from 'node:stream';
import { after, before, test } from 'node:test';
import { connect, type Clock, type Scheduler, type SocketFactory, type State } from '../../src/client/index.ts';
import type { Timer } from '../../src/client/types.ts';
import { TestingServer } from '../../src/testing/index.ts';

let server: TestingServer;
before(async () => {
  server = await TestingServer.start();
});
after(async () => {
  await server.stop();
});

/** The real TCP connection, with each one kept so that a test can cut it. */
function recordingFactory(): { factory: SocketFactory; opened: Duplex[] } {
  const opened: Duplex[] = [];
  const factory: SocketFactory = (host, port) => {
    const socket = netConnect({ host, port });
    opened.push(socket);
    return socket;
  };
  return { factory, opened };
}

/** A peer that accepts the connection and never answers. */
function silentPeer(): Duplex {
  return new Duplex({
    read() {},
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
}

/** Time that moves only when the test says so. */
class ManualTime implements Clock, Scheduler {
  private nowMs = 0;
  private timers: { atMs: number; everyMs: number; fn: () => void }[] = [];

  now(): number {
    return this.nowMs;
  }

  after(ms: number, fn: () => void): Timer {
    return this.add({ atMs: this.nowMs + ms, everyMs: 0, fn });
  }

  every(ms: number, fn: () => void): Timer {
    return this.add({ atMs: this.nowMs + ms, everyMs: ms, fn });
  }

  /** Runs every timer that falls due, in time order, as the clock moves on by `ms`. */
  advance(ms: number): void {
    const endMs = this.nowMs + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      this.nowMs = due.atMs;
      if (due.everyMs > 0) due.atMs += due.everyMs;
      else this.timers = this.timers.filter((t) => t !== due);
      due.fn();
    }
    this.nowMs = endMs;
  }

  private add(timer: { atMs: number; everyMs: number; fn: () => void }): Timer {
    this.timers.push(timer);
    return { cancel: () => (this.timers = this.timers.filter((t) => t !== timer)) };
  }
}

async function eventually(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('a connection the factory cuts is replaced by a new one from it, with the same session', async () => {
  const { factory, opened } = recordingFactory();
  const zk = await connect(server.connectString, { socketFactory: factory, sessionTimeoutMs: 4000 });
  try {
    const states: State[] = [];
    zk.on('state', (s) => states.push(s));
    const sessionId = zk.sessionId;
    await zk.create('/through-factory', 'x', { mode: 'ephemeral' });
    assert.equal(opened.length, 1);

    opened[0].destroy();
    await eventually(() => states.includes('SyncConnected'), 'the client to reconnect');
    assert.deepEqual(states, ['Disconnected', 'SyncConnected']);
    assert.equal(opened.length, 2, 'the new connection came from the factory too');
    assert.equal(zk.sessionId, sessionId);
    assert.equal((await zk.getData('/through-factory')).data?.toString(), 'x', 'the ephemeral outlived the cut');
  } finally {
    await zk.close();
  }
});

test('connections the factory refuses are retried until one is accepted', async () => {
  const { factory: real, opened } = recordingFactory();
  let refused = 0;
  const factory: SocketFactory = (host, port) => {
    if (refused < 3) {
      refused++;
      const socket = silentPeer();
      queueMicrotask(() => socket.destroy(new Error('refused by the test')));
      return socket;
    }
    return real(host, port);
  };
  const zk = await connect(server.connectString, { socketFactory: factory, retry: { baseDelayMs: 5, maxDelayMs: 20 } });
  try {
    assert.equal(refused, 3);
    assert.equal(opened.length, 1);
    assert.equal(zk.state, 'SyncConnected');
  } finally {
    await zk.close();
  }
});

test('a host that never answers the handshake is left for the next host when the scheduler says so', async () => {
  const time = new ManualTime();
  const { factory: real, opened } = recordingFactory();
  const asked: string[] = [];
  const factory: SocketFactory = (host, port) => {
    asked.push(host);
    return host === 'silent.invalid' ? silentPeer() : real(host, port);
  };
  const port = server.connectString.split(':').pop()!;
  const zk = connect(`silent.invalid:1,127.0.0.1:${port}`, { socketFactory: factory, clock: time, scheduler: time, shuffleHosts: false, sessionTimeoutMs: 4000 });
  await eventually(() => asked.length === 1, 'the first attempt');
  await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(asked, ['silent.invalid'], 'no time has passed: still waiting for the handshake');

  // The handshake timeout is the session timeout shared among the hosts.
  time.advance(2000);
  const client = await zk;
  try {
    assert.deepEqual(asked, ['silent.invalid', '127.0.0.1']);
    assert.equal(opened.length, 1);
    assert.equal(client.state, 'SyncConnected');
  } finally {
    await client.close();
  }
});

test('a server silent for two thirds of the session timeout, by the scheduler, is left for a new connection', async () => {
  const time = new ManualTime();
  const { factory, opened } = recordingFactory();
  const warnings: string[] = [];
  const logger = { debug() {}, info() {}, warn: (_: unknown, msg?: string) => warnings.push(msg ?? ''), error() {} };
  const zk = await connect(server.connectString, { socketFactory: factory, clock: time, scheduler: time, logger, sessionTimeoutMs: 4000 });
  try {
    const states: State[] = [];
    zk.on('state', (s) => states.push(s));
    // Synchronous: no answer to the pings can arrive while the time moves.
    time.advance((zk.sessionTimeoutMs * 2) / 3 + zk.sessionTimeoutMs / 10);
    await eventually(() => states.includes('SyncConnected'), 'the client to reconnect');
    assert.deepEqual(states, ['Disconnected', 'SyncConnected']);
    assert.equal(opened.length, 2);
    assert.match(warnings.join('\n'), /no answer from the server/);
  } finally {
    await zk.close();
  }
});
