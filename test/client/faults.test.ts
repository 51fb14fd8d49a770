/**
 * The client library under faults, run unchanged against Apache ZooKeeper and against Ensemble:
 * dead hosts, cut and hung links (through test/support/proxy.ts), requests lost with their
 * connection, read timeouts, watches across reconnects, forced session expiry, a server restart,
 * misbehaving listeners, a long pipeline, request timeouts and aborts, close with requests in flight.
 *
 * Each server is started once for the file; each test has its own root znode /faults-<name>.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import {
  ConnectionLossError, RequestTimeoutError, SessionExpiredError, connect,
  type ConnectOptions, type Logger, type State, type WatchedEvent, type ZooKeeperClient,
} from '../../src/index.ts';
import { freePort } from '../support/ports.ts';
import { rejects } from '../support/rejects.ts';
import { startProxy, type Proxy, type ProxyOptions } from '../support/proxy.ts';
import { forEachServer, type RunningServer } from '../support/servers.ts';

/** Negotiated as asked on both servers (tickTime 1000: the range is 2000..20000 ms). */
const SESSION_TIMEOUT_MS = 4000;
/**
 * How long any single wait for an event may take before the test fails: far beyond what any wait
 * needs, so that only something that never happens fails it, not a busy machine.
 */
const WAIT_MS = 30_000;

/** Polls `cond` every 10 ms until it holds. */
async function eventually(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}


/** Blocks the event loop, as a listener doing heavy synchronous work would. */
function busyWait(ms: number): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    /* spin */
  }
}

/** The states a client emits, in order, with a way to wait for the next one. */
class StateLog {
  readonly seen: State[] = [];
  constructor(client: ZooKeeperClient) {
    client.on('state', (s) => this.seen.push(s));
  }
  /** Waits for `state` at index >= from; returns its index. */
  async waitFor(state: State, from = 0, timeoutMs = WAIT_MS): Promise<number> {
    let at = -1;
    await eventually(() => (at = this.seen.indexOf(state, from)) >= 0, `state ${state} (seen ${JSON.stringify(this.seen)})`, timeoutMs);
    return at;
  }
}

/** Watch events as "Type path". */
class Recorder {
  readonly events: string[] = [];
  readonly raw: WatchedEvent[] = [];
  readonly watcher = (e: WatchedEvent): void => {
    this.raw.push(e);
    this.events.push(`${e.type} ${e.path}`);
  };
  async count(n: number): Promise<string[]> {
    await eventually(() => this.events.length >= n, `${n} events (have ${JSON.stringify(this.events)})`);
    return this.events.slice(0, n);
  }
}

/** A logger that keeps what it is given (and prints nothing). */
class RecordingLogger implements Logger {
  readonly entries: { level: string; obj: object | string; msg?: string }[] = [];
  debug(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'debug', obj, msg });
  }
  info(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'info', obj, msg });
  }
  warn(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'warn', obj, msg });
  }
  error(obj: object | string, msg?: string): void {
    this.entries.push({ level: 'error', obj, msg });
  }
  errors(): unknown[] {
    return this.entries.filter((e) => e.level === 'error').map((e) => (e.obj as { err?: unknown }).err);
  }
}

forEachServer({ tickTimeMs: 1000 }, (server: () => RunningServer, name) => {
  const clients = new Set<ZooKeeperClient>();
  const proxies = new Set<Proxy>();

  /** A client with short timeouts and quick retries; closed after the test. */
  const open = async (connectString: string, options: ConnectOptions = {}): Promise<ZooKeeperClient> => {
    const c = await connect(connectString, {
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      retry: { baseDelayMs: 20, maxDelayMs: 200 },
      logger: new RecordingLogger(),
      ...options,
    });
    clients.add(c);
    return c;
  };
  const proxy = async (options: ProxyOptions = {}): Promise<Proxy> => {
    const p = await startProxy(server().host, server().port, options);
    proxies.add(p);
    return p;
  };

  afterEach(async () => {
    // Let every link work again so that sessions close cleanly, then drop the proxies.
    for (const p of proxies) {
      p.refuse(false);
      p.setDelayMs(0);
      p.resume();
    }
    await Promise.allSettled([...clients].map((c) => c.close()));
    clients.clear();
    await Promise.allSettled([...proxies].map((p) => p.close()));
    proxies.clear();
  });

  test(`${name}: dead, refusing and hung hosts in the connection string; reconnect after a cut`, async () => {
    const root = '/faults-hosts';
    const dead = await freePort();
    const refusing = await proxy();
    refusing.refuse(true);
    const hung = await proxy();
    hung.pause();
    const live = await proxy();
    const hosts = [`127.0.0.1:${dead}`, refusing.connectString, hung.connectString, live.connectString].join(',');

    // In this order the client meets every kind of bad host before the good one; the hung one
    // costs it a handshake timeout (the session timeout shared among the hosts: 3 s each here, so
    // that a busy machine's slow handshake with the live host is not taken for a hung one).
    const sessionTimeoutMs = 12_000;
    const zk = await open(hosts, { shuffleHosts: false, sessionTimeoutMs });
    assert.equal(zk.state, 'SyncConnected');
    assert.equal(hung.acceptedConnections, 1, 'the hung host was tried, and given up after the handshake timeout');
    assert.equal(live.acceptedConnections, 1);
    // In any order.
    const shuffled = await open(hosts, { sessionTimeoutMs });
    assert.equal(shuffled.state, 'SyncConnected');

    await zk.create(root, 'here');
    const states = new StateLog(zk);
    const sessionId = zk.sessionId;
    live.cut();
    const down = await states.waitFor('Disconnected');
    const up = await states.waitFor('SyncConnected', down + 1);
    assert.deepEqual(states.seen.slice(0, up + 1), ['Disconnected', 'SyncConnected']);
    assert.equal(zk.sessionId, sessionId, 'the same session');
    assert.equal((await zk.getData(root)).data?.toString(), 'here');
    assert.ok(live.acceptedConnections >= 2, 'reconnected through the live host');
    await zk.delete(root);
  });

  test(`${name}: requests in flight when the connection drops fail with ConnectionLoss and are not resent`, async () => {
    const root = '/faults-inflight';
    let sentToServer = 0;
    const link = await proxy({ onChunk: (_id, dir, chunk) => { if (dir === 'toServer') sentToServer += chunk.length; } });
    const zk = await open(link.connectString);
    const other = await open(server().connectString);
    const states = new StateLog(zk);
    const sessionId = zk.sessionId;
    await zk.create(root);
    await zk.create(`${root}/v`, '0');

    // 1. The requests reach the server and are applied; their replies are lost with the link.
    link.pause('toClient');
    const created = zk.create(`${root}/n-`, null, { mode: 'persistent_sequential' });
    const set = zk.setData(`${root}/v`, 'one');
    await eventually(async () => {
      const [children, v] = await Promise.all([other.getChildren(root), other.getData(`${root}/v`)]);
      return children.length === 2 && v.stat.version === 1;
    }, 'the server to apply both writes');
    link.cut();
    link.resume();
    await rejects(created, ConnectionLossError);
    await rejects(set, ConnectionLossError);
    const back = await states.waitFor('SyncConnected', (await states.waitFor('Disconnected')) + 1);
    assert.equal(zk.sessionId, sessionId);
    // Applied exactly once: the client did not send them again on the new connection.
    assert.equal((await zk.getChildren(root)).filter((c) => c.startsWith('n-')).length, 1);
    assert.equal((await zk.getData(`${root}/v`)).stat.version, 1);

    // 2. The requests never reach the server: lost, and still not resent.
    link.pause();
    const before = sentToServer;
    const lost = zk.create(`${root}/m-`, null, { mode: 'persistent_sequential' });
    const lostSet = zk.setData(`${root}/v`, 'two', { version: 1 });
    await eventually(() => sentToServer > before, 'the requests to leave the client');
    link.cut();
    link.resume();
    await rejects(lost, ConnectionLossError);
    await rejects(lostSet, ConnectionLossError);
    await states.waitFor('SyncConnected', back + 1);
    assert.deepEqual((await zk.getChildren(root)).filter((c) => c.startsWith('m-')), []);
    assert.equal((await zk.getData(`${root}/v`)).stat.version, 1);
    assert.equal(zk.sessionId, sessionId);
    // And the session still works for writes.
    assert.equal((await zk.setData(`${root}/v`, 'three', { version: 1 })).version, 2);
  });

  test(`${name}: a hung link is detected by the read timeout, before the session times out`, async () => {
    // Long enough that between the read timeout (2/3 of it) and the session's expiry there are
    // seconds to spare for a busy machine.
    const sessionTimeoutMs = 15_000;
    const link = await proxy();
    const zk = await open(link.connectString, { sessionTimeoutMs });
    assert.equal(zk.sessionTimeoutMs, sessionTimeoutMs);
    const states = new StateLog(zk);
    const sessionId = zk.sessionId;
    await zk.exists('/');
    link.pause();
    const pausedAt = Date.now();
    await states.waitFor('Disconnected', 0, sessionTimeoutMs * 2);
    const elapsed = Date.now() - pausedAt;
    link.resume();
    // The client gives up on a silent server after 2/3 of the timeout since it last heard from it
    // (it last heard at most a ping interval before the pause): well before the session expires.
    assert.ok(elapsed < sessionTimeoutMs, `Disconnected after ${elapsed} ms, not within the session timeout`);
    assert.ok(elapsed >= sessionTimeoutMs / 5, `Disconnected after only ${elapsed} ms`);
    await states.waitFor('SyncConnected', 1);
    assert.deepEqual(states.seen, ['Disconnected', 'SyncConnected']);
    assert.equal(zk.sessionId, sessionId, 'the same session');
    assert.ok(await zk.exists('/'));
  });

  test(`${name}: lastZxidSeen grows with writes and is sent on reconnect`, async () => {
    const root = '/faults-zxid';
    /** What each connection through the proxy sent first: its ConnectRequest. */
    const heads = new Map<number, Buffer>();
    const link = await proxy({
      onChunk: (id, dir, chunk) => {
        if (dir === 'toServer') heads.set(id, Buffer.concat([heads.get(id) ?? Buffer.alloc(0), chunk]).subarray(0, 64));
      },
    });
    const zk = await open(link.connectString);
    const other = await open(server().connectString);
    const states = new StateLog(zk);
    const created = await zk.createWithStat(root, '0');
    assert.ok(zk.lastZxidSeen > 0);
    assert.equal(zk.lastZxidSeen, created.stat.czxid, 'a write reply carries its own zxid');
    let last = zk.lastZxidSeen;
    for (let i = 1; i <= 5; i++) {
      const stat = await zk.setData(root, String(i));
      assert.ok(zk.lastZxidSeen > last, 'grows with every write');
      assert.equal(zk.lastZxidSeen, stat.mzxid);
      last = zk.lastZxidSeen;
    }
    // Another session's write; a read then brings this client up to it.
    const theirs = await other.setData(root, 'theirs');
    await zk.getData(root);
    assert.ok(zk.lastZxidSeen >= theirs.mzxid);
    last = zk.lastZxidSeen;

    const sessionId = zk.sessionId;
    link.cut();
    await states.waitFor('SyncConnected', (await states.waitFor('Disconnected')) + 1);
    assert.equal(zk.sessionId, sessionId);
    // ConnectRequest: length, protocolVersion (int), lastZxidSeen (long), timeOut (int), sessionId (long), passwd.
    assert.equal(heads.size, 2);
    const hello = heads.get(1);
    assert.ok(hello && hello.length >= 28);
    assert.equal(Number(hello.readBigInt64BE(8)), last, 'the reconnect carries the last zxid seen');
    assert.equal(hello.readBigInt64BE(20), sessionId);
    assert.equal(Number(heads.get(0)!.readBigInt64BE(8)), 0, 'a new session starts from zxid 0');
    assert.ok(zk.lastZxidSeen >= last, 'never goes back');
    const stat = await zk.setData(root, 'after');
    assert.equal(stat.version, 7);
    assert.ok(zk.lastZxidSeen > last);
  });

  test(`${name}: watches survive a reconnect and the events missed meanwhile arrive`, async () => {
    const root = '/faults-watches';
    const link = await proxy();
    const zk = await open(link.connectString);
    const other = await open(server().connectString);
    const states = new StateLog(zk);
    await zk.create(root);
    await zk.create(`${root}/data`, 'v0');
    await zk.create(`${root}/kids`);
    await zk.create(`${root}/gone`);
    await zk.create(`${root}/tree`);
    await zk.create(`${root}/quiet`, 'q');

    const data = new Recorder();
    const exist = new Recorder();
    const kids = new Recorder();
    const gone = new Recorder();
    const quiet = new Recorder();
    const tree = new Recorder();
    await zk.getData(`${root}/data`, { watch: data.watcher });
    assert.equal(await zk.exists(`${root}/new`, { watch: exist.watcher }), null);
    await zk.getChildren(`${root}/kids`, { watch: kids.watcher });
    await zk.exists(`${root}/gone`, { watch: gone.watcher });
    await zk.getData(`${root}/quiet`, { watch: quiet.watcher });
    await zk.addWatch(`${root}/tree`, 'persistent_recursive', tree.watcher);

    // The link goes down and stays down while another client changes everything.
    link.refuse(true);
    link.cut();
    const down = await states.waitFor('Disconnected');
    await other.setData(`${root}/data`, 'v1');
    await other.create(`${root}/new`);
    await other.create(`${root}/kids/k`);
    await other.delete(`${root}/gone`);
    await other.create(`${root}/tree/a`);
    await other.setData(`${root}/tree`, 't1');
    assert.deepEqual([data, exist, kids, gone, tree].map((r) => r.events.length), [0, 0, 0, 0, 0], 'nothing while down');

    link.refuse(false);
    await states.waitFor('SyncConnected', down + 1);
    // setWatches with the last zxid seen: each one-shot watch fires for what it missed.
    assert.deepEqual(await data.count(1), [`NodeDataChanged ${root}/data`]);
    assert.deepEqual(await exist.count(1), [`NodeCreated ${root}/new`]);
    assert.deepEqual(await kids.count(1), [`NodeChildrenChanged ${root}/kids`]);
    assert.deepEqual(await gone.count(1), [`NodeDeleted ${root}/gone`]);
    for (const r of [data, exist, kids, gone]) assert.equal(r.raw[0].state, 'SyncConnected');

    // The persistent recursive watch is registered again; as in ZooKeeper 3.8, the server does not
    // replay what it missed, so its first event is the first change after the reconnect.
    await other.setData(`${root}/tree/a`, 'a1');
    await other.create(`${root}/tree/a/b`);
    assert.deepEqual(await tree.count(2), [`NodeDataChanged ${root}/tree/a`, `NodeCreated ${root}/tree/a/b`]);
    // The watch on a node that did not change is still set, once.
    await other.setData(`${root}/quiet`, 'q1');
    await other.setData(`${root}/quiet`, 'q2');
    assert.deepEqual(await quiet.count(1), [`NodeDataChanged ${root}/quiet`]);
    // One-shot watches that fired are gone: later changes do not reach them.
    await other.setData(`${root}/data`, 'v2');
    await other.delete(`${root}/tree/a/b`);
    await tree.count(3);
    assert.deepEqual([data, exist, kids, gone, quiet].map((r) => r.events.length), [1, 1, 1, 1, 1]);
  });

  test(`${name}: a session expired by another client (as kazoo forces it) ends with Expired`, async () => {
    const root = '/faults-expiry';
    const link = await proxy();
    const zk = await open(link.connectString);
    const observer = await open(server().connectString);
    const states = new StateLog(zk);
    await zk.create(root);
    await zk.create(`${root}/e`, null, { mode: 'ephemeral' });
    const pending = new Recorder();
    const onData = new Recorder();
    assert.equal(await zk.exists(`${root}/never`, { watch: pending.watcher }), null);
    await zk.getData(`${root}/e`, { watch: onData.watcher });
    const seen = new Recorder();
    await observer.exists(`${root}/e`, { watch: seen.watcher });

    // Keep the first client off the server while its session is taken over and closed, so that it
    // cannot take the session back in between; it learns of the expiry when it reconnects.
    link.refuse(true);
    link.cut();
    await states.waitFor('Disconnected');
    const thief = await open(server().connectString, { sessionId: zk.sessionId, sessionPassword: zk.sessionPassword });
    assert.equal(thief.sessionId, zk.sessionId, 'attached to the same session');
    await thief.close();
    assert.deepEqual(await seen.count(1), [`NodeDeleted ${root}/e`], 'the ephemeral went with the session');
    assert.equal(await observer.exists(`${root}/e`), null);

    link.refuse(false);
    await states.waitFor('Expired');
    assert.deepEqual(states.seen, ['Disconnected', 'Expired'], 'no new session in between');
    assert.equal(zk.state, 'Expired');
    // Every watcher still waiting hears that the session ended, once.
    assert.deepEqual(pending.raw, [{ type: 'None', state: 'Expired', path: null }]);
    assert.deepEqual(onData.raw, [{ type: 'None', state: 'Expired', path: null }]);
    await rejects(zk.exists(root), SessionExpiredError);
    await rejects(zk.create(`${root}/x`), SessionExpiredError);
    await zk.close();
    assert.equal(zk.state, 'Expired', 'close() after expiry changes nothing');
    assert.deepEqual(states.seen, ['Disconnected', 'Expired']);
    await observer.delete(root);
  });

  test(`${name}: a watch listener that throws stops neither later events nor replies`, async () => {
    const root = '/faults-throw';
    const logger = new RecordingLogger();
    const link = await proxy();
    const zk = await open(link.connectString, { logger });
    await zk.create(root, '0');
    const boom = new Error('listener failure');
    const after = new Recorder();
    await zk.getData(root, { watch: () => { throw boom; } });
    await zk.exists(root, { watch: after.watcher });
    const persistent = new Recorder();
    let thrown = 0;
    await zk.addWatch(root, 'persistent', (e) => {
      persistent.watcher(e);
      thrown++;
      throw boom;
    });

    const stat = await zk.setData(root, '1');
    assert.equal(stat.version, 1, 'the reply came');
    assert.deepEqual(await after.count(1), [`NodeDataChanged ${root}`], 'the next watcher of the same event ran');
    await zk.setData(root, '2');
    await zk.create(`${root}/c`);
    assert.deepEqual(await persistent.count(3), [`NodeDataChanged ${root}`, `NodeDataChanged ${root}`, `NodeChildrenChanged ${root}`]);
    assert.equal(thrown, 3);
    assert.equal((await zk.getData(root)).data?.toString(), '2');

    // A state listener that throws, too.
    const states = new StateLog(zk);
    zk.on('state', () => {
      throw boom;
    });
    link.cut();
    await states.waitFor('SyncConnected', (await states.waitFor('Disconnected')) + 1);
    assert.equal((await zk.getData(root)).stat.version, 2);
    await eventually(() => logger.errors().length >= 6, 'the logger to see every throw');
    assert.ok(logger.errors().every((e) => e === boom), 'each error goes to the logger as it was thrown');
  });

  test(`${name}: slow listeners lose and reorder nothing`, async () => {
    const root = '/faults-slow';
    const link = await proxy();
    const zk = await open(link.connectString);
    const other = await open(server().connectString);
    await zk.create(root, '0');
    const log: string[] = [];
    await zk.addWatch(root, 'persistent', (e) => {
      busyWait(300);
      log.push(`event ${e.type}`);
    });
    // Writes from this client: each event comes before the reply of the write that caused it.
    const writes = [
      zk.setData(root, '1').then(() => log.push('reply setData 1')),
      zk.create(`${root}/c`).then(() => log.push('reply create')),
      zk.setData(root, '2').then(() => log.push('reply setData 2')),
      zk.delete(`${root}/c`).then(() => log.push('reply delete')),
    ];
    await Promise.all(writes);
    await eventually(() => log.length === 8, 'all events and replies');
    assert.deepEqual(log, [
      'event NodeDataChanged', 'reply setData 1',
      'event NodeChildrenChanged', 'reply create',
      'event NodeDataChanged', 'reply setData 2',
      'event NodeChildrenChanged', 'reply delete',
    ]);

    // Writes from another client, while this one is busy in its listener.
    log.length = 0;
    for (let i = 3; i < 8; i++) await other.setData(root, String(i));
    await eventually(() => log.length === 5, 'five events');
    assert.deepEqual(log, Array(5).fill('event NodeDataChanged'));
    assert.equal((await zk.getData(root)).stat.version, 7);

    // A slow state listener sees every state, in order.
    const states: string[] = [];
    zk.on('state', (s) => {
      busyWait(300);
      states.push(s);
    });
    const sessionId = zk.sessionId;
    link.cut();
    await eventually(() => states.includes('SyncConnected'), 'reconnection');
    assert.deepEqual(states, ['Disconnected', 'SyncConnected']);
    assert.equal(zk.sessionId, sessionId);
  });

  test(`${name}: 10,000 pipelined requests from one session keep their order`, async () => {
    const root = '/faults-pipeline';
    const zk = await open(server().connectString, { sessionTimeoutMs: 20_000 });
    await zk.create(root, '');
    const n = 10_000;
    const order: number[] = [];
    const pending: Promise<number>[] = [];
    for (let i = 0; i < n; i++) {
      // The expected version makes the server itself check the order it applies them in.
      pending.push(zk.setData(root, String(i), { version: i }).then((stat) => {
        order.push(i);
        return stat.version;
      }));
    }
    const versions = await Promise.all(pending);
    assert.equal(order.length, n);
    assert.ok(order.every((v, i) => v === i), 'settled in issue order');
    assert.ok(versions.every((v, i) => v === i + 1), 'each applied in issue order');
    const { data, stat } = await zk.getData(root);
    assert.equal(stat.version, n);
    assert.equal(data?.toString(), String(n - 1));
    await zk.delete(root, { version: n });
  });

  test(`${name}: request timeouts and aborts, in flight and while disconnected`, async () => {
    const root = '/faults-timeouts';
    const link = await proxy();
    // A long session timeout: the link is held for a while below, and the connection must not be
    // dropped for silence meanwhile however slow the machine is (the read timeout is 2/3 of it).
    const zk = await open(link.connectString, { requestTimeoutMs: 400, sessionTimeoutMs: 15_000 });
    const states = new StateLog(zk);
    const sessionId = zk.sessionId;
    // Requests that must succeed get a generous timeout of their own: 400 ms is for those that
    // must time out.
    const ok = { timeoutMs: WAIT_MS };
    await zk.create(root, 'r', ok);

    // A slow link (each chunk 250 ms late both ways): a request with a shorter timeout gives up, and
    // its reply, when it comes, is dropped; the next request gets its own.
    link.setDelayMs(250);
    await rejects(zk.getData(root, { timeoutMs: 100 }), RequestTimeoutError);
    assert.equal((await zk.getData(root, ok)).data?.toString(), 'r');
    link.setDelayMs(0);

    // In flight on a hung link: the client's timeout, then a per-request one.
    link.pause();
    const started = Date.now();
    const timedOut = await rejects(zk.getData(root), RequestTimeoutError);
    assert.equal(timedOut.codeName, 'REQUESTTIMEOUT');
    assert.ok(Date.now() - started >= 350, 'not before its time');
    await rejects(zk.exists(root, { timeoutMs: 100 }), RequestTimeoutError);
    // An abort of a request in flight rejects with the signal's reason.
    const inFlight = new AbortController();
    const aborted = zk.getData(root, { signal: inFlight.signal, timeoutMs: 0 });
    inFlight.abort();
    const reason = await aborted.then(() => undefined, (err: unknown) => err);
    assert.equal(reason, inFlight.signal.reason);
    assert.ok(reason instanceof DOMException && reason.name === 'AbortError');
    // An already aborted signal: rejected at once.
    await assert.rejects(zk.getData(root, { signal: AbortSignal.abort() }), { name: 'AbortError' });
    link.resume();
    // The late replies of those requests are dropped; the next request gets its own.
    assert.equal((await zk.getData(root, ok)).data?.toString(), 'r');
    assert.deepEqual(states.seen, [], 'the connection stayed up');

    // Queued while disconnected: the new connection's handshake hangs.
    link.pause();
    link.cut();
    await states.waitFor('Disconnected');
    const queuedAbort = new AbortController();
    const queuedAborted = zk.getData(root, { signal: queuedAbort.signal, timeoutMs: 0 });
    const queuedTimedOut = zk.getData(root, { timeoutMs: 100 });
    const queued = zk.setData(root, 'queued', { timeoutMs: 0 });
    queuedAbort.abort();
    const queuedReason = await queuedAborted.then(() => undefined, (err: unknown) => err);
    assert.equal(queuedReason, queuedAbort.signal.reason);
    assert.ok(queuedReason instanceof DOMException && queuedReason.name === 'AbortError');
    await rejects(queuedTimedOut, RequestTimeoutError);
    link.resume();
    await states.waitFor('SyncConnected');
    assert.equal((await queued).version, 1, 'the request still queued went out on the new connection');
    assert.equal(zk.sessionId, sessionId);
    assert.equal((await zk.getData(root, ok)).data?.toString(), 'queued');
  });

  test(`${name}: close() answers the requests in flight first, then Closed; later calls are refused`, async () => {
    const root = '/faults-close';
    const zk = await open(server().connectString);
    const observer = await open(server().connectString);
    await zk.create(root);
    await zk.create(`${root}/e`, null, { mode: 'ephemeral' });
    const log: string[] = [];
    zk.on('state', (s) => log.push(`state ${s}`));
    const requests = [
      zk.create(`${root}/a`).then(() => log.push('create a')),
      zk.setData(root, 'x').then(() => log.push('setData')),
      zk.getChildren(root).then((c) => log.push(`children ${c.sort().join(',')}`)),
      zk.create(`${root}/b`, null, { mode: 'ephemeral' }).then(() => log.push('create b')),
    ];
    const closing = zk.close().then(() => log.push('closed'));
    // Issued after close(): refused at once, as ZooKeeper's Java client does after close.
    await rejects(zk.getData(root), SessionExpiredError);
    await Promise.all([...requests, closing]);
    await eventually(() => log.includes('state Closed'), 'the Closed state');
    // Every request first, in order; then the Closed state; then close() resolves.
    assert.deepEqual(log, ['create a', 'setData', 'children a,e', 'create b', 'state Closed', 'closed']);
    assert.equal(zk.state, 'Closed');
    await rejects(zk.exists(root), SessionExpiredError);
    await rejects(zk.create(`${root}/c`), SessionExpiredError);
    await zk.close();
    // The session is gone with its ephemerals; the rest stays.
    assert.deepEqual((await observer.getChildren(root)).sort(), ['a']);
    assert.equal((await observer.getData(root)).data?.toString(), 'x');
  });

  test(`${name}: close() during a reconnection closes the session there, so its ephemerals go at once`, async () => {
    const root = '/faults-close-reconnecting';
    const link = await proxy();
    // The longest session the server allows (20 ticks): the ephemeral must go in well under it.
    const sessionTimeoutMs = 20_000;
    const zk = await open(link.connectString, { sessionTimeoutMs });
    const observer = await open(server().connectString);
    const states = new StateLog(zk);
    await zk.create(root);
    await zk.create(`${root}/e`, null, { mode: 'ephemeral' });
    link.pause();
    link.cut();
    await states.waitFor('Disconnected');
    await eventually(() => link.openConnections > 0, 'a reconnection attempt held by the paused proxy');
    const closing = zk.close();
    link.resume();
    await closing;
    assert.equal(zk.state, 'Closed');
    // Well within the session timeout: the session was closed, not left to expire.
    await eventually(async () => (await observer.getChildren(root)).length === 0, 'the ephemeral to go', sessionTimeoutMs / 2);
  });

  // Last: it restarts the server under the other tests' feet.
  test(`${name}: a server restart`, async () => {
    const root = '/faults-restart';
    const zk = await open(server().connectString);
    const states = new StateLog(zk);
    await zk.create(root, 'kept');
    await zk.create(`${root}/e`, null, { mode: 'ephemeral' });
    const sessionId = zk.sessionId;
    await server().restart();
    const down = await states.waitFor('Disconnected');
    // Both servers log every transaction, session creation included, and recover them: the session
    // outlives the restart (with a fresh timeout), and so do its data and ephemerals.
    await states.waitFor('SyncConnected', down + 1);
    assert.deepEqual(states.seen, ['Disconnected', 'SyncConnected']);
    assert.equal(zk.sessionId, sessionId);
    assert.equal((await zk.getData(root)).data?.toString(), 'kept');
    assert.equal((await zk.exists(`${root}/e`))?.ephemeralOwner, sessionId);
    await zk.delete(`${root}/e`);
    await zk.delete(root);
  });
});
