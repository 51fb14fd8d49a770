/** `ensemble/testing`: the in-process server users test their applications against. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect, CreateMode, type State, type ZooKeeperClient } from '../../src/index.ts';
import { TestingServer } from '../../src/testing/index.ts';

const WAIT_MS = 30_000;

/** Resolves when the client reaches `state` (generous limit: the machine may be busy). */
function reach(zk: ZooKeeperClient, state: State): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`state ${state} not reached in ${WAIT_MS} ms (now ${zk.state})`)), WAIT_MS);
    const listener = (s: State): void => {
      if (s !== state) return;
      clearTimeout(timer);
      zk.off('state', listener);
      resolve();
    };
    zk.on('state', listener);
  });
}

describe('TestingServer', () => {
  let server: TestingServer;
  before(async () => {
    server = await TestingServer.start({ config: { tickTimeMs: 200 } });
  });
  after(() => server.stop());

  test('listens on a free loopback port', async () => {
    assert.match(server.connectString, /^127\.0\.0\.1:\d+$/);
    assert.notEqual(server.port, 0);
    const zk = await connect(server.connectString);
    await zk.create('/hello', 'world');
    assert.equal((await zk.getData('/hello')).data?.toString(), 'world');
    await zk.close();
  });

  test('dropConnections: clients reconnect to the same session, ephemerals and watches kept', async () => {
    const zk = await connect(server.connectString, { sessionTimeoutMs: 10_000 });
    const states: State[] = [];
    zk.on('state', (s) => states.push(s));
    const id = zk.sessionId;
    await zk.create('/blip', 'up', { mode: CreateMode.EPHEMERAL });
    const events: string[] = [];
    await zk.getData('/blip', { watch: (e) => events.push(e.type) });
    const back = reach(zk, 'SyncConnected');
    assert.ok(server.dropConnections() >= 1);
    await back;
    assert.deepEqual(states, ['Disconnected', 'SyncConnected']);
    assert.equal(zk.sessionId, id);
    const other = await connect(server.connectString);
    await other.setData('/blip', 'changed');
    await other.close();
    assert.equal((await zk.getData('/blip')).data?.toString(), 'changed');
    assert.deepEqual(events, ['NodeDataChanged'], 'the watch was re-armed on the new connection');
    await zk.close();
  });

  test('expireSession: ephemerals go, watchers are told, the client learns it expired', async () => {
    const zk = await connect(server.connectString, { sessionTimeoutMs: 10_000 });
    const watcher = await connect(server.connectString);
    await zk.create('/lease', 'held', { mode: CreateMode.EPHEMERAL });
    const deleted = new Promise<string>((resolve) => void watcher.exists('/lease', { watch: (e) => resolve(e.type) }));
    const expired = reach(zk, 'Expired');
    assert.equal(await server.expireSession(zk.sessionId), true);
    assert.equal(await watcher.exists('/lease'), null, 'gone once expireSession resolves');
    await expired;
    assert.equal(await deleted, 'NodeDeleted');
    assert.equal(await server.expireSession(zk.sessionId), false, 'no longer live');
    assert.equal(await server.expireSession(0x1234n), false, 'never existed');
    await watcher.close();
    await zk.close();
  });

  test('restart keeps the data and the sessions', async () => {
    const zk = await connect(server.connectString, { sessionTimeoutMs: 10_000 });
    await zk.create('/kept', 'yes');
    await zk.create('/mine', '', { mode: CreateMode.EPHEMERAL });
    const port = server.port;
    const back = reach(zk, 'SyncConnected');
    await server.restart();
    await back;
    assert.equal(server.port, port);
    assert.equal((await zk.getData('/kept')).data?.toString(), 'yes');
    assert.notEqual(await zk.exists('/mine'), null, 'the session and its ephemeral came back');
    await zk.close();
  });
});

test('stop removes the data dir it made, and keeps one it was given', async () => {
  const own = await TestingServer.start();
  assert.ok(existsSync(own.dataDir));
  await own.stop();
  assert.ok(!existsSync(own.dataDir));
  await own.stop(); // twice is fine
  await assert.rejects(own.restart(), /restart after stop/);

  const dataDir = await mkdtemp(join(tmpdir(), 'testing-server-test-'));
  try {
    const given = await TestingServer.start({ dataDir });
    assert.equal(given.dataDir, dataDir);
    await given.stop();
    assert.ok(existsSync(dataDir));
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
