/**
 * What a new user of the client meets first: why a connection failed, errors under a chroot, Stats
 * that JSON.stringify can write, a client that console.log shows without its password, and
 * creating with parents / deleting a tree.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { inspect } from 'node:util';
import {
  AddWatchMode, BadArgumentsError, ConnectionLossError, NoNodeError, NoWatcherError, NodeExistsError, WatcherType, ZooKeeperClient,
  connect, watchOnce, type WatchedEvent, type ZooKeeperError,
} from '../../src/index.ts';
import { Mutex, TreeCache } from '../../src/recipes/index.ts';
import { startEnsemble } from '../support/ensemble.ts';
import { freePort } from '../support/ports.ts';
import { eventually } from '../support/recipes.ts';
import { rejects } from '../support/rejects.ts';
import type { RunningServer } from '../support/servers.ts';

const causeOf = (err: Error): NodeJS.ErrnoException => {
  assert.ok(err.cause instanceof Error, `${err.message} has no cause`);
  return err.cause as NodeJS.ErrnoException;
};

describe('a connection that cannot be established says why', () => {
  test('refused: connect() names host:port, its cause is ECONNREFUSED', async () => {
    const port = await freePort();
    const err = await rejects(connect(`127.0.0.1:${port}`, { connectTimeoutMs: 1_500, retry: { baseDelayMs: 50, maxDelayMs: 100 } }), ConnectionLossError);
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.equal(causeOf(err).code, 'ECONNREFUSED');
  });

  test('a request made while connecting fails with the attempt\'s reason', async () => {
    const port = await freePort();
    const zk = new ZooKeeperClient(`127.0.0.1:${port}`, { connectTimeoutMs: 60_000 });
    try {
      const err = await rejects(zk.exists('/x'), ConnectionLossError);
      assert.match(err.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port}`));
      assert.equal(causeOf(err).code, 'ECONNREFUSED');
    } finally {
      await zk.close();
    }
  });

  test('an unknown host: the cause is the lookup failure', async () => {
    const err = await rejects(connect('no-such-host.invalid:2181', { connectTimeoutMs: 3_000 }), ConnectionLossError);
    assert.match(err.message, /no-such-host\.invalid:2181/);
    assert.match(String(causeOf(err).code), /^(ENOTFOUND|EAI_AGAIN|EAI_FAIL)$/);
  });

  describe('a server that accepts and never answers', () => {
    let silent: Server;
    const sockets: Socket[] = [];
    before(async () => {
      silent = createServer((s) => sockets.push(s));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    });
    after(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });

    test('the cause is a handshake timeout (ETIMEDOUT) naming host:port', async () => {
      const { port } = silent.address() as { port: number };
      const err = await rejects(connect(`127.0.0.1:${port}`, { sessionTimeoutMs: 500, connectTimeoutMs: 5_000 }), ConnectionLossError);
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      const cause = causeOf(err);
      assert.equal(cause.code, 'ETIMEDOUT');
      assert.match(cause.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    });
  });
});

describe('against a server', () => {
  let server: RunningServer;
  let zk: ZooKeeperClient;
  before(async () => {
    server = await startEnsemble({ containerCheckIntervalMs: 50 });
    zk = await connect(server.connectString);
  });
  after(async () => {
    await zk.close();
    await server.stop();
  });

  test('an error under a chroot keeps the path as given and names the server path', async () => {
    await zk.create('/app');
    const app = await connect(`${server.connectString}/app`);
    try {
      const err: ZooKeeperError = await rejects(app.getData('/x'), NoNodeError);
      assert.equal(err.path, '/x');
      assert.equal(err.serverPath, '/app/x');
      assert.match(err.message, /\/app\/x/);
      const failed = await rejects(app.multi([{ type: 'setData', path: '/x', data: 'v' }]), NoNodeError);
      assert.deepEqual([failed.path, failed.serverPath], ['/x', '/app/x']);
      const [read] = await app.multiRead([{ type: 'getData', path: '/x' }]);
      assert.ok(read.type === 'error');
      assert.deepEqual([read.error.path, read.error.serverPath], ['/x', '/app/x']);
      const plain = await rejects(zk.getData('/x'), NoNodeError);
      assert.equal(plain.serverPath, '/x');
    } finally {
      await app.close();
    }
  });

  test('Stats go through JSON.stringify: ephemeralOwner as a decimal string', async () => {
    await zk.create('/json', 'v', { mode: 'ephemeral' });
    const stat = await zk.exists('/json');
    assert.ok(stat !== null);
    const parsed = JSON.parse(JSON.stringify(stat)) as Record<string, unknown>;
    assert.equal(parsed.ephemeralOwner, zk.sessionId.toString());
    assert.equal(BigInt(parsed.ephemeralOwner as string), stat.ephemeralOwner);
    assert.equal(parsed.mzxid, stat.mzxid);
    assert.deepEqual(Object.keys(stat), Object.keys(parsed), 'toJSON is not one of its fields');
    const results = [
      await zk.getData('/json'),
      await zk.getChildren('/json', { stat: true }),
      await zk.getACL('/json'),
      await zk.createWithStat('/json2', null),
      await zk.setData('/json', 'w'),
      await zk.multi([{ type: 'setData', path: '/json', data: 'x' }]),
      await zk.multiRead([{ type: 'getData', path: '/json' }]),
    ];
    for (const r of results) assert.doesNotThrow(() => JSON.stringify(r));
  });

  test('util.inspect of a client (and of a recipe holding it) shows no session password', async () => {
    const password = zk.sessionPassword;
    assert.ok(password.some((b) => b !== 0));
    const mutex = new Mutex(zk, '/locks/inspected');
    for (const shown of [inspect(zk, { depth: Infinity, showHidden: true }), inspect(mutex, { depth: Infinity }), inspect({ zk })]) {
      assert.ok(!shown.includes(password.toString('hex')), shown);
      assert.ok(!shown.includes(password.toString('base64')), shown);
      assert.ok(!shown.includes(inspect(password).slice('<Buffer '.length, -1)), shown);
      assert.match(shown, /ZooKeeperClient/);
    }
    assert.match(inspect(zk), new RegExp(`0x${zk.sessionId.toString(16)}`));
  });

  test('create with createParents makes the missing ancestors', async () => {
    assert.equal(await zk.create('/p/q/r', 'leaf', { createParents: true }), '/p/q/r');
    assert.equal((await zk.getData('/p/q')).data, null);
    assert.equal((await zk.exists('/p/q'))?.ephemeralOwner, 0n);
    const seq = await zk.create('/p/jobs/job-', null, { mode: 'persistent_sequential', createParents: true });
    assert.match(seq, /^\/p\/jobs\/job-\d{10}$/);
    await rejects(zk.create('/p/q/r', null, { createParents: true }), NodeExistsError);
    await rejects(zk.create('/nope/child'), NoNodeError);
    // Container parents go once emptied; persistent ones stay.
    await zk.create('/c1/c2/node', null, { createParents: 'container' });
    await zk.delete('/c1/c2/node');
    await zk.delete('/p/q/r');
    await eventually(async () => (await zk.exists('/c1')) === null, '/c1 and /c1/c2 are reaped');
    assert.notEqual(await zk.exists('/p/q'), null);
  });

  test('deleteRecursive deletes a tree, children first, and tolerates concurrent deletes', async () => {
    for (const p of ['/t/a/x', '/t/a/y', '/t/b', '/t/c/d/e']) await zk.create(p, null, { createParents: true });
    const other = await connect(server.connectString);
    try {
      await Promise.all([zk.deleteRecursive('/t'), other.deleteRecursive('/t'), other.deleteRecursive('/t/a')]);
    } finally {
      await other.close();
    }
    assert.equal(await zk.exists('/t'), null);
    await zk.deleteRecursive('/never-existed');
  });

  test('watcher types in lower snake_case; the earlier spellings still work', async () => {
    await zk.create('/names', null);
    const removed: string[] = [];
    const record = (e: WatchedEvent): void => {
      removed.push(e.type);
    };
    for (const type of [WatcherType.CHILDREN, 'Children'] as const) {
      await zk.getChildren('/names', { watch: record });
      await zk.removeWatches('/names', type);
    }
    const data = watchOnce();
    await zk.getData('/names', { watch: data.watcher });
    await zk.removeWatches('/names', 'Data');
    assert.equal((await data.event).type, 'DataWatchRemoved');
    await zk.addWatch('/names', AddWatchMode.PERSISTENT_RECURSIVE, record);
    await zk.removeWatches('/names', 'persistent_recursive');
    assert.deepEqual(removed, ['ChildWatchRemoved', 'ChildWatchRemoved', 'PersistentWatchRemoved']);
    await rejects(zk.removeWatches('/names', 'any'), NoWatcherError);
    await rejects(zk.removeWatches('/names', 'children_and_data' as WatcherType), BadArgumentsError);
  });

  test("a tree cache's deprecated mode 'one-shot' is 'one_shot'", async () => {
    const cache = new TreeCache(zk, '/names', { mode: 'one-shot' });
    await cache.start();
    await rejects(zk.removeWatches('/names', 'persistent_recursive'), NoWatcherError);
    await cache.close();
  });
});
