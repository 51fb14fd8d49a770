/**
 * Members over real TCP on 127.0.0.1: messages arrive in order in every direction, a restarted
 * member is reconnected to, strangers are refused, messages to a member that is down or not
 * reading are dropped within the byte bound, and close() leaves nothing behind.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { connect, createServer, type Socket } from 'node:net';
import type { PeerMessage } from '../../src/server/quorum/peer-messages.ts';
import type { NodeId } from '../../src/server/quorum/core/types.ts';
import { TcpTransport, type PeerAddress, type PeerLog, type TcpTransportOptions } from '../../src/server/quorum/tcp-transport.ts';
import { FrameSplitter, WIRE_VERSION, WireWriter, decodeHello, writeHello } from '../../src/server/quorum/wire.ts';
import { realEnvironment } from '../../src/server/env/real.ts';

const ENSEMBLE = 'test-ensemble';

async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  const ports = await Promise.all(servers.map((s) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as { port: number }).port)))));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const turn = () => new Promise((resolve) => setImmediate(resolve));

async function until(what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

interface LogRecord { level: string; obj: object; msg?: string }

function recordingLog(): PeerLog & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void records.push({ level, obj, msg });
  return { records, info: at('info'), warn: at('warn'), debug: at('debug') };
}

interface Node {
  transport: TcpTransport;
  log: ReturnType<typeof recordingLog>;
  inbox: Map<NodeId, PeerMessage[]>;
}

const open: TcpTransport[] = [];

async function start(myId: NodeId, members: PeerAddress[], extra: Partial<TcpTransportOptions> = {}): Promise<Node> {
  const log = recordingLog();
  const transport = new TcpTransport({ myId, ensembleId: ENSEMBLE, members, env: realEnvironment, log, ...extra });
  const inbox = new Map<NodeId, PeerMessage[]>();
  transport.onMessage((from, m) => {
    if (!inbox.has(from)) inbox.set(from, []);
    inbox.get(from)!.push(m);
  });
  await transport.listen();
  open.push(transport);
  return { transport, log, inbox };
}

async function stop(node: Node): Promise<void> {
  await node.transport.close();
  open.splice(open.indexOf(node.transport), 1);
}

const connected = (n: Node, ...ids: NodeId[]) => ids.every((id) => n.transport.status().find((s) => s.id === id)?.connected);

const addresses = (ports: number[]): PeerAddress[] => ports.map((port, i) => ({ id: i + 1, host: '127.0.0.1', port }));

/** Message number `seq` from `from` to `to`, in one of each shape. */
function numbered(from: NodeId, to: NodeId, seq: number): PeerMessage {
  switch (seq % 3) {
    case 0: return { kind: 'raft', message: { type: 'app', from, to, term: seq, index: seq, entries: [{ term: 1, index: seq, data: Buffer.alloc(seq % 50, seq) }] } };
    case 1: return { kind: 'touch', sessions: [BigInt(seq), -BigInt(seq)] };
    default: return { kind: 'forward', term: 1, sessionId: BigInt(from), cxid: seq, opcode: 1, body: Buffer.from(`write ${seq}`), auth: [] };
  }
}

after(() => Promise.all(open.map((t) => t.close())));

describe('TCP transport', () => {
  it('three members exchange messages in order in every direction', async () => {
    const members = addresses(await freePorts(3));
    const nodes = await Promise.all([1, 2, 3].map((id) => start(id, members)));
    await until('all connected', () => connected(nodes[0], 2, 3) && connected(nodes[1], 1, 3) && connected(nodes[2], 1, 2));
    const N = 600;
    for (let seq = 0; seq < N; seq++) {
      for (const a of [1, 2, 3]) for (const b of [1, 2, 3]) if (a !== b) nodes[a - 1].transport.send(b, numbered(a, b, seq));
      if (seq % 100 === 99) await turn();
    }
    // One large frame among them: a snapshot of 3 MiB.
    const snapshot = { index: 9, term: 2, conf: { voters: [1, 2, 3], learners: [] }, data: Buffer.alloc(3 << 20, 7) };
    nodes[0].transport.send(3, { kind: 'raft', message: { type: 'snap', from: 1, to: 3, term: 2, snapshot } });
    await until('every message', () => nodes.every((n, i) => [1, 2, 3].every((from) => from === i + 1 || (n.inbox.get(from)?.length ?? 0) >= N)) && (nodes[2].inbox.get(1)?.length ?? 0) === N + 1);
    for (const a of [1, 2, 3]) {
      for (const b of [1, 2, 3]) {
        if (a === b) continue;
        const expected = Array.from({ length: N }, (_, seq) => numbered(a, b, seq));
        assert.deepEqual(nodes[b - 1].inbox.get(a)!.slice(0, N), expected, `${a} to ${b}`);
      }
    }
    assert.deepEqual(nodes[2].inbox.get(1)![N], { kind: 'raft', message: { type: 'snap', from: 1, to: 3, term: 2, snapshot } });
    for (const n of nodes) {
      assert.ok(n.transport.status().every((s) => s.dropped === 0));
      assert.deepEqual(n.log.records.filter((r) => r.level === 'warn'), []);
    }
    await Promise.all(nodes.map(stop));
  });

  it('a member restarted on the same port is reconnected to, whichever side dials', async () => {
    const members = addresses(await freePorts(3));
    const nodes = await Promise.all([1, 2, 3].map((id) => start(id, members)));
    await until('all connected', () => connected(nodes[0], 2, 3) && connected(nodes[2], 1, 2));
    // Member 2 listens for 3 and dials 1.
    await stop(nodes[1]);
    await until('2 seen gone', () => !connected(nodes[0], 2) && !connected(nodes[2], 2));
    nodes[1] = await start(2, members);
    await until('2 back', () => connected(nodes[1], 1, 3) && connected(nodes[0], 2) && connected(nodes[2], 2));
    for (const other of [1, 3]) {
      nodes[1].transport.send(other, numbered(2, other, 1));
      nodes[other - 1].transport.send(2, numbered(other, 2, 2));
    }
    await until('messages through', () => nodes[0].inbox.get(2)?.length === 1 && nodes[2].inbox.get(2)?.length === 1 && nodes[1].inbox.get(1)?.length === 1 && nodes[1].inbox.get(3)?.length === 1);
    assert.deepEqual(nodes[1].inbox.get(3), [numbered(3, 2, 2)]);
    await Promise.all(nodes.map(stop));
  });

  it('refuses another ensemble, an unknown member, another version and garbage', async () => {
    const [p1, p2, p3, p9] = await freePorts(4);
    const members = addresses([p1, p2, p3]);
    const one = await start(1, members);

    const stranger = await start(3, members, { ensembleId: 'another-ensemble' });
    const unknown = await start(9, [members[0], { id: 9, host: '127.0.0.1', port: p9 }]);
    const refusals = () => one.log.records.filter((r) => r.level === 'warn' && r.msg?.startsWith('quorum connection refused')).map((r) => r.msg!);
    await until('both refused', () => refusals().some((m) => m.includes('another-ensemble')) && refusals().some((m) => m.includes('unknown member 9')));

    // A raw connection with a hello of the next version, and one that sends bytes that are no hello.
    const raw = (bytes: Buffer) => new Promise<void>((resolve) => {
      const s = connect(p1, '127.0.0.1', () => s.write(bytes));
      s.on('error', () => {});
      s.on('close', () => resolve());
    });
    const w = new WireWriter();
    writeHello(w, { version: WIRE_VERSION + 1, from: 2, ensembleId: ENSEMBLE });
    await raw(w.take());
    assert.ok(refusals().some((m) => m.includes(`format version ${WIRE_VERSION + 1}`)));
    await raw(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));

    assert.ok(!connected(one, 2) && !connected(one, 3));
    assert.ok(!connected(stranger, 1) && !connected(unknown, 1));
    await Promise.all([one, stranger, unknown].map(stop));
  });

  it('drops messages to a member that is down, holding nothing for it', async () => {
    const members = addresses(await freePorts(2));
    const two = await start(2, members);
    const message: PeerMessage = { kind: 'forward', term: 1, sessionId: 1n, cxid: 1, opcode: 1, body: Buffer.alloc(1024), auth: [] };
    for (let i = 0; i < 50_000; i++) two.transport.send(1, message);
    await turn();
    assert.deepEqual(two.transport.status(), [{ id: 1, connected: false, queuedBytes: 0, dropped: 50_000 }]);
    // It keeps dialling meanwhile, and gets through once member 1 is up.
    const one = await start(1, members);
    await until('connected', () => connected(two, 1));
    two.transport.send(1, message);
    await until('delivered', () => one.inbox.get(2)?.length === 1);
    await Promise.all([one, two].map(stop));
  });

  it('bounds what waits for a member that does not read', async () => {
    const [p1, p2] = await freePorts(2);
    // Member 1 says hello back and then never reads again.
    const sockets: Socket[] = [];
    const silent = createServer((s) => {
      sockets.push(s);
      const splitter = new FrameSplitter();
      s.once('data', (chunk) => {
        const hello = decodeHello(splitter.push(chunk)[0]);
        assert.equal(hello.from, 2);
        const w = new WireWriter();
        writeHello(w, { version: WIRE_VERSION, from: 1, ensembleId: ENSEMBLE });
        s.write(w.take());
        s.pause();
      });
    });
    await new Promise<void>((resolve) => silent.listen(p1, '127.0.0.1', resolve));
    const maxQueueBytes = 1 << 20;
    const two = await start(2, addresses([p1, p2]), { maxQueueBytes });
    await until('connected', () => connected(two, 1));
    const message: PeerMessage = { kind: 'forward', term: 1, sessionId: 1n, cxid: 1, opcode: 1, body: Buffer.alloc(1024), auth: [] };
    let peak = 0;
    for (let t = 0; t < 100; t++) {
      for (let i = 0; i < 1000; i++) two.transport.send(1, message);
      peak = Math.max(peak, two.transport.status()[0].queuedBytes);
      await turn();
    }
    const [status] = two.transport.status();
    assert.ok(status.connected);
    assert.ok(status.dropped > 0, 'some messages dropped');
    assert.ok(peak <= maxQueueBytes + 2048, `at most the bound waits (peak ${peak})`);
    await stop(two);
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('leaves no sockets or listeners once closed', async () => {
    await until('sockets closed', () => !process.getActiveResourcesInfo().some((r) => r.startsWith('TCP')), 2000);
  });
});
