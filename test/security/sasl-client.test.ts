/**
 * Our client's SASL sequencing, seen on the wire: on every connection the SASL packets come right
 * after the handshake, before the watches it re-registers, its auth credentials and its requests;
 * and a server that never answers the exchange costs a connect() that fails, not one that hangs.
 */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { OpCode } from '../../src/protocol/constants.ts';
import { JuteWriter } from '../../src/protocol/jute.ts';
import { writeConnectResponse } from '../../src/protocol/records.ts';
import { startEnsemble } from '../support/ensemble.ts';
import { startProxy, type Proxy } from '../support/proxy.ts';
import type { RunningServer } from '../support/servers.ts';
import { SASL_SERVER_OPTIONS, SASL_USERS } from './sasl-support.ts';

/** The opcodes of the requests a connection sent, in order (its ConnectRequest left out). */
class RequestLog {
  private readonly buffers = new Map<number, Buffer>();
  readonly opcodes = new Map<number, number[]>();

  add(connection: number, chunk: Buffer): void {
    let buf = Buffer.concat([this.buffers.get(connection) ?? Buffer.alloc(0), chunk]);
    const ops = this.opcodes.get(connection) ?? [];
    let first = !this.opcodes.has(connection);
    while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
      const len = buf.readInt32BE(0);
      // A ConnectRequest starts with the protocol version; requests with xid and opcode.
      if (!first) ops.push(buf.readInt32BE(8));
      first = false;
      buf = buf.subarray(4 + len);
    }
    this.opcodes.set(connection, ops);
    this.buffers.set(connection, buf);
  }
}

describe('the SASL exchange on the wire', () => {
  let server: RunningServer;
  let proxy: Proxy;
  const log = new RequestLog();

  before(async () => {
    server = await startEnsemble(SASL_SERVER_OPTIONS);
    proxy = await startProxy(server.host, server.port, { onChunk: (id, direction, chunk) => direction === 'toServer' && log.add(id, chunk) });
  });
  after(async () => {
    await proxy.close();
    await server.stop();
  });

  test('comes first on every connection: before re-registered watches, auth packets and requests', async () => {
    const zk = await connect(proxy.connectString, {
      sasl: { mechanism: 'DIGEST-MD5', username: 'bob', password: SASL_USERS.bob },
      auth: [{ scheme: 'digest', auth: 'alice:secret' }],
      connectTimeoutMs: 30_000,
    });
    try {
      await zk.create('/watched', 'w');
      await zk.getData('/watched', { watch: () => {} });
      const reconnected = new Promise<void>((resolve) => zk.on('saslAuthenticated', () => resolve()));
      proxy.cut();
      await reconnected;
      await zk.exists('/watched');
      const [first, second] = [...log.opcodes.values()];
      assert.deepEqual(first.slice(0, 3), [OpCode.sasl, OpCode.sasl, OpCode.auth], `first connection: ${first}`);
      assert.deepEqual(second.slice(0, 4), [OpCode.sasl, OpCode.sasl, OpCode.setWatches, OpCode.auth], `after the reconnect: ${second}`);
      const who = await zk.whoAmI();
      assert.deepEqual(new Set(who.map((i) => `${i.authScheme}:${i.user}`)), new Set(['sasl:bob', 'digest:alice', 'ip:127.0.0.1']));
    } finally {
      await zk.close();
    }
  });
});

describe('a server that never answers the SASL exchange', () => {
  let silent: ReturnType<typeof createServer>;
  let port = 0;
  const sockets = new Set<Socket>();

  before(async () => {
    // Answers the handshake, then reads and says nothing.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.once('data', () => {
        const w = new JuteWriter(64);
        const mark = w.beginFrame();
        writeConnectResponse(w, { protocolVersion: 0, timeOutMs: 4000, sessionId: 1n, passwd: Buffer.alloc(16), readOnly: false });
        w.endFrame(mark);
        socket.write(w.bytes());
      });
      socket.on('error', () => {});
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    port = (silent.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  });

  test('connect() fails once its timeout passes; it does not hang', async () => {
    let client: ZooKeeperClient | undefined;
    const outcome = await connect(`127.0.0.1:${port}`, {
      sasl: { mechanism: 'DIGEST-MD5', username: 'bob', password: 'x' }, sessionTimeoutMs: 4000, connectTimeoutMs: 3000,
    }).then((c) => {
      client = c;
      return 'connected';
    }, (e: Error) => e.name);
    await client?.close();
    assert.equal(outcome, 'ConnectionLossError');
  });
});
