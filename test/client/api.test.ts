/**
 * The client library's API, run unchanged against Apache ZooKeeper and against Ensemble: every
 * method, its typed results and errors, watches, multi, chroot, auth.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  BadArgumentsError, BadVersionError, ConnectionLossError, Ids, InvalidPathError, NoAuthError, NoChildrenForEphemeralsError,
  NoNodeError, NoWatcherError, NodeExistsError, NotEmptyError, Perms, SessionExpiredError, ZooKeeperError,
  AuthFailedError, connect, digestId, watchOnce,
  type ConnectOptions, type MultiFailure, type State, type WatchedEvent, type ZooKeeperClient,
} from '../../src/index.ts';
import { freePort } from '../support/ports.ts';
import { rejects } from '../support/rejects.ts';
import { forEachServer, SUPER_AUTH, SUPER_DIGEST, type RunningServer } from '../support/servers.ts';

/** How long a wait for events may take before the test fails: far beyond what it needs. */
const WAIT_MS = 30_000;

/** Collects watch events; `next(n)` waits until n have arrived. */
class Recorder {
  readonly events: string[] = [];
  private wake: (() => void) | null = null;
  readonly watcher = (e: WatchedEvent): void => {
    this.events.push(`${e.type} ${e.path}`);
    this.wake?.();
  };
  async next(n: number): Promise<string[]> {
    const deadline = Date.now() + WAIT_MS;
    while (this.events.length < n) {
      if (Date.now() > deadline) throw new Error(`waited for ${n} events, have ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.events.slice(0, n);
  }
}


forEachServer({ extendedTypesEnabled: true, superDigest: SUPER_DIGEST }, (server: () => RunningServer, name) => {
  const clients: ZooKeeperClient[] = [];
  let zk: ZooKeeperClient;
  const open = async (suffix = '', options: ConnectOptions = {}): Promise<ZooKeeperClient> => {
    const c = await connect(server().connectString + suffix, { sessionTimeoutMs: 10_000, ...options });
    clients.push(c);
    return c;
  };
  before(async () => {
    zk = await open();
  });
  after(async () => {
    await Promise.all(clients.map((c) => c.close()));
  });

  test(`${name}: create in every mode, with the path and Stat ZooKeeper gives`, async () => {
    const root = await zk.create('/modes', 'root');
    assert.equal(root, '/modes');
    const { path, stat } = await zk.createWithStat('/modes/p', Buffer.from('abc'));
    assert.equal(path, '/modes/p');
    assert.equal(stat.version, 0);
    assert.equal(stat.dataLength, 3);
    assert.equal(stat.ephemeralOwner, 0n);
    assert.equal(stat.czxid, stat.mzxid);
    const seq1 = await zk.create('/modes/s-', null, { mode: 'persistent_sequential' });
    const seq2 = await zk.create('/modes/s-', null, { mode: 'persistent_sequential' });
    assert.match(seq1, /^\/modes\/s-\d{10}$/);
    assert.equal(Number(seq2.slice(-10)), Number(seq1.slice(-10)) + 1);
    const eph = await zk.createWithStat('/modes/e', null, { mode: 'ephemeral' });
    assert.equal(eph.stat.ephemeralOwner, zk.sessionId);
    assert.match(await zk.create('/modes/es-', null, { mode: 'ephemeral_sequential' }), /^\/modes\/es-\d{10}$/);
    assert.equal(await zk.create('/modes/c', null, { mode: 'container' }), '/modes/c');
    const ttl = await zk.createWithStat('/modes/t', null, { mode: 'persistent_with_ttl', ttl: 60_000 });
    assert.equal(ttl.path, '/modes/t');
    assert.match(await zk.create('/modes/ts-', null, { mode: 'persistent_sequential_with_ttl', ttl: 60_000 }), /^\/modes\/ts-\d{10}$/);
    await rejects(zk.create('/modes/t2', null, { mode: 'persistent_with_ttl' }), BadArgumentsError);
    await rejects(zk.create('/modes/e/child'), NoChildrenForEphemeralsError);
    const exists = await rejects(zk.create('/modes/p'), NodeExistsError);
    assert.equal(exists.path, '/modes/p');
    assert.equal(exists.code, -110);
    assert.ok(exists instanceof ZooKeeperError);
    const noParent = await rejects(zk.create('/modes/none/x'), NoNodeError);
    assert.equal(noParent.codeName, 'NONODE');
  });

  test(`${name}: data, versions, children, exists`, async () => {
    await zk.create('/data');
    assert.deepEqual((await zk.getData('/data')).data, null, 'no data given: null, as ZooKeeper stores it');
    await zk.create('/data/empty', '');
    assert.deepEqual((await zk.getData('/data/empty')).data, Buffer.alloc(0));
    const stat = await zk.setData('/data', 'one');
    assert.equal(stat.version, 1);
    await rejects(zk.setData('/data', 'two', { version: 0 }), BadVersionError);
    assert.equal((await zk.setData('/data', 'two', { version: 1 })).version, 2);
    const got = await zk.getData('/data');
    assert.equal(got.data?.toString(), 'two');
    assert.equal(got.stat.numChildren, 1);
    assert.deepEqual(await zk.getChildren('/data'), ['empty']);
    const withStat = await zk.getChildren('/data', { stat: true });
    assert.deepEqual(withStat.children, ['empty']);
    assert.equal(withStat.stat.cversion, 1);
    assert.equal(await zk.exists('/data/none'), null);
    assert.equal((await zk.exists('/data'))?.version, 2);
    await rejects(zk.delete('/data'), NotEmptyError);
    await rejects(zk.delete('/data/empty', { version: 3 }), BadVersionError);
    await zk.delete('/data/empty', { version: 0 });
    await zk.delete('/data');
    await rejects(zk.getData('/data'), NoNodeError);
    assert.equal(await zk.getAllChildrenNumber('/'), (await zk.getAllChildrenNumber('/')));
  });

  test(`${name}: paths are checked before anything is sent`, async () => {
    for (const bad of ['', 'a', '/a/', '//a', '/a/./b', '/a/../b', '/a\u0000b']) {
      await rejects(zk.exists(bad), InvalidPathError);
    }
    // A sequential create may end with '/': the server appends the counter.
    await zk.create('/seqslash');
    assert.match(await zk.create('/seqslash/', null, { mode: 'persistent_sequential' }), /^\/seqslash\/\d{10}$/);
  });

  test(`${name}: getEphemerals, getAllChildrenNumber, whoAmI, sync`, async () => {
    const other = await open();
    await other.create('/eph');
    await other.create('/eph/a', null, { mode: 'ephemeral' });
    await other.create('/eph/b', null, { mode: 'ephemeral' });
    assert.deepEqual((await other.getEphemerals('/eph')).sort(), ['/eph/a', '/eph/b']);
    assert.deepEqual(await zk.getEphemerals('/eph'), []);
    assert.equal(await zk.getAllChildrenNumber('/eph'), 2);
    assert.deepEqual(await zk.whoAmI(), [{ authScheme: 'ip', user: '127.0.0.1' }]);
    await zk.sync('/eph');
    await other.close();
    assert.equal(other.state, 'Closed');
    assert.deepEqual(await zk.getChildren('/eph'), [], 'closing the session removed its ephemerals');
    await rejects(other.exists('/'), SessionExpiredError);
  });

  test(`${name}: multi commits all or nothing, with typed results and the failing op's error`, async () => {
    await zk.create('/multi', 'x');
    const results = await zk.transaction()
      .create('/multi/a', 'a')
      .create('/multi/s-', null, { mode: 'persistent_sequential' })
      .setData('/multi', 'y', 0)
      .check('/multi', 1)
      .delete('/multi/a')
      .commit();
    assert.equal(results.length, 5);
    assert.deepEqual(results[0], { type: 'create', path: '/multi/a' });
    assert.equal(results[1].type, 'create');
    assert.match((results[1] as { path: string }).path, /^\/multi\/s-\d{10}$/);
    assert.equal(results[2].type === 'setData' && results[2].stat.version, 1);
    assert.deepEqual(results.slice(3), [{ type: 'check' }, { type: 'delete' }]);

    const failure = await rejects(zk.multi([
      { type: 'create', path: '/multi/b' },
      { type: 'check', path: '/multi', version: 7 },
      { type: 'delete', path: '/multi/none' },
    ]), BadVersionError) as MultiFailure;
    assert.equal(failure.opIndex, 1);
    assert.equal(failure.path, '/multi');
    assert.deepEqual(failure.results.map((r) => r?.codeName ?? 'OK'), ['OK', 'BADVERSION', 'RUNTIMEINCONSISTENCY']);
    assert.equal(await zk.exists('/multi/b'), null, 'nothing of a failed multi stays');
    assert.deepEqual(await zk.multi([]), []);

    const reads = await zk.multiRead([
      { type: 'getData', path: '/multi' },
      { type: 'getChildren', path: '/multi' },
      { type: 'getData', path: '/multi/none' },
    ]);
    assert.equal(reads[0].type === 'getData' && reads[0].data?.toString(), 'y');
    assert.equal(reads[1].type === 'getChildren' && reads[1].children.length, 1);
    assert.ok(reads[2].type === 'error' && reads[2].error instanceof NoNodeError);
  });

  test(`${name}: one-shot watches fire once, with ZooKeeper's event types`, async () => {
    const other = await open();
    await zk.create('/w');
    const rec = new Recorder();
    await zk.getData('/w', { watch: rec.watcher });
    await zk.exists('/w', { watch: rec.watcher }); // same watcher, same path: fires once
    await zk.getChildren('/w', { watch: rec.watcher });
    assert.equal(await zk.exists('/w/new', { watch: rec.watcher }), null);
    await other.setData('/w', 'changed');
    await other.create('/w/new');
    assert.deepEqual(await rec.next(3), ['NodeDataChanged /w', 'NodeCreated /w/new', 'NodeChildrenChanged /w']);
    await other.setData('/w', 'again');
    await other.delete('/w/new');
    await zk.sync('/w');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(rec.events.length, 3, 'one-shot watches do not fire twice');

    const w = watchOnce();
    await zk.getData('/w', { watch: w.watcher });
    await other.delete('/w');
    assert.deepEqual(await w.event, { type: 'NodeDeleted', state: 'SyncConnected', path: '/w' });
  });

  test(`${name}: a client sees the watch event before the data that triggered it`, async () => {
    const other = await open();
    await zk.create('/order', '0');
    const log: string[] = [];
    await zk.getData('/order', { watch: (e) => log.push(`event ${e.type}`) });
    const write = other.setData('/order', '1');
    for (let seen = '0'; seen === '0';) {
      seen = (await zk.getData('/order')).data!.toString();
      log.push(`read ${seen}`);
    }
    await write;
    const firstNew = log.indexOf('read 1');
    const event = log.indexOf('event NodeDataChanged');
    assert.ok(event >= 0 && event < firstNew, log.join(', '));
  });

  test(`${name}: results settle in the order the requests were issued, whatever their kind`, async () => {
    const order: string[] = [];
    const track = (what: string, p: Promise<unknown>): Promise<number> => p.then(() => order.push(what), () => order.push(`${what}!`));
    const w = (): void => {};
    await Promise.all([
      track('create', zk.create('/order2', 'x')),
      track('createWithStat', zk.createWithStat('/order2/c', 'x')),
      track('setData', zk.setData('/order2', 'y')),
      track('exists', zk.exists('/order2', { watch: w })),
      track('getData', zk.getData('/order2')),
      track('getChildren', zk.getChildren('/order2', { stat: true })),
      track('addWatch', zk.addWatch('/order2', 'persistent', w)),
      track('multi', zk.transaction().check('/order2', 1).commit()),
      track('bad path', zk.exists('no-slash')),
      track('delete', zk.delete('/order2/c')),
      track('sync', zk.sync('/order2')),
      track('getACL', zk.getACL('/order2')),
    ]);
    // A request refused before it is sent (the bad path) settles at once, ahead of those on the wire.
    assert.deepEqual(order, ['bad path!', 'create', 'createWithStat', 'setData', 'exists', 'getData', 'getChildren',
      'addWatch', 'multi', 'delete', 'sync', 'getACL']);
  });

  test(`${name}: a listener that blocks the process for most of the session timeout does not cost the connection`, async () => {
    // Blocked for 70% of the session timeout: past the client's read timeout (2/3 of it), and with
    // 3 s to spare before the server would expire the session, for a busy machine's delays.
    const c = await open('', { sessionTimeoutMs: 10_000 });
    const states: State[] = [];
    c.on('state', (s) => states.push(s));
    await c.create('/stall');
    const w = watchOnce();
    await c.getData('/stall', {
      watch: (e) => {
        const until = Date.now() + c.sessionTimeoutMs * 0.7;
        while (Date.now() < until); // a listener that hogs the event loop
        w.watcher(e);
      },
    });
    await zk.setData('/stall', 'go');
    await w.event;
    assert.equal((await c.getData('/stall')).data?.toString(), 'go');
    assert.deepEqual(states.filter((s) => s !== 'SyncConnected'), [], 'no Disconnected while the process was busy');
  });

  test(`${name}: persistent and recursive watches, and removing watches`, async () => {
    const other = await open();
    // One session each: a server keeps one watch mode per path and session, the last one set.
    const third = await open();
    await zk.create('/pw');
    const flat = new Recorder();
    const deep = new Recorder();
    await zk.addWatch('/pw', 'persistent', flat.watcher);
    await third.addWatch('/pw', 'persistent_recursive', deep.watcher);
    await other.create('/pw/a');
    await other.setData('/pw/a', 'x');
    await other.setData('/pw', 'y');
    await other.delete('/pw/a');
    assert.deepEqual(await flat.next(3), ['NodeChildrenChanged /pw', 'NodeDataChanged /pw', 'NodeChildrenChanged /pw']);
    assert.deepEqual(await deep.next(4), ['NodeCreated /pw/a', 'NodeDataChanged /pw/a', 'NodeDataChanged /pw', 'NodeDeleted /pw/a']);

    await zk.removeWatches('/pw', 'Persistent', { watcher: flat.watcher });
    assert.deepEqual(await flat.next(4), [...flat.events.slice(0, 3), 'PersistentWatchRemoved /pw']);
    await third.removeWatches('/pw', 'PersistentRecursive');
    assert.equal((await deep.next(5))[4], 'PersistentWatchRemoved /pw');
    await other.setData('/pw', 'z');
    await zk.sync('/pw');
    await third.sync('/pw');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(flat.events.length, 4);
    assert.equal(deep.events.length, 5);

    const data = new Recorder();
    await zk.getData('/pw', { watch: data.watcher });
    await rejects(zk.removeWatches('/pw', 'Children', { watcher: data.watcher }), NoWatcherError);
    await zk.removeWatches('/pw', 'Data', { watcher: data.watcher });
    assert.deepEqual(await data.next(1), ['DataWatchRemoved /pw']);
    await rejects(zk.removeWatches('/pw', 'Any'), NoWatcherError);
  });

  test(`${name}: a chroot is applied to requests and stripped from results and events`, async () => {
    await zk.create('/app');
    const rooted = await open('/app');
    assert.equal(await rooted.create('/x', 'in chroot'), '/x');
    assert.equal((await zk.getData('/app/x')).data?.toString(), 'in chroot');
    assert.deepEqual(await rooted.getChildren('/'), ['x']);
    const seq = await rooted.create('/x/s-', null, { mode: 'ephemeral_sequential' });
    assert.match(seq, /^\/x\/s-\d{10}$/);
    assert.deepEqual(await rooted.getEphemerals('/'), [seq]);
    const w = watchOnce();
    await rooted.exists('/x', { watch: w.watcher });
    await zk.setData('/app/x', 'changed');
    assert.deepEqual(await w.event, { type: 'NodeDataChanged', state: 'SyncConnected', path: '/x' });
    const multi = await rooted.transaction().create('/y').commit();
    assert.deepEqual(multi, [{ type: 'create', path: '/y' }]);
  });

  test(`${name}: ACLs and digest auth`, async () => {
    const alice = await open('', { auth: [{ scheme: 'digest', auth: 'alice:secret' }] });
    await alice.create('/acl', 'private', { acl: Ids.CREATOR_ALL_ACL });
    await rejects(zk.getData('/acl'), NoAuthError);
    await rejects(zk.getACL('/acl'), NoAuthError);
    await zk.addAuthInfo('digest', 'alice:secret');
    const { acl } = await zk.getACL('/acl');
    assert.deepEqual(acl, [{ perms: Perms.ALL, id: { scheme: 'digest', id: digestId('alice:secret') } }]);
    assert.equal((await zk.getData('/acl')).data?.toString(), 'private');
    const stat = await alice.setACL('/acl', [...Ids.READ_ACL_UNSAFE, { perms: Perms.ALL, id: { scheme: 'digest', id: digestId('alice:secret') } }], { version: 0 });
    assert.equal(stat.aversion, 1);
    await rejects(alice.setACL('/acl', Ids.OPEN_ACL_UNSAFE, { version: 0 }), BadVersionError);
    const anyone = await open();
    assert.equal((await anyone.getData('/acl')).data?.toString(), 'private');
    await rejects(anyone.setData('/acl', 'x'), NoAuthError);
    const admin = await open('', { auth: [{ scheme: 'digest', auth: SUPER_AUTH }] });
    await admin.setData('/acl', 'by super');
    const me = await alice.whoAmI();
    assert.ok(me.some((i) => i.authScheme === 'digest' && i.user === 'alice'));
  });

  test(`${name}: credentials the server refuses end the session with AuthFailed`, async () => {
    const c = await open();
    const states: State[] = [];
    c.on('state', (s) => states.push(s));
    await rejects(c.addAuthInfo('no-such-scheme', 'x'), AuthFailedError);
    await rejects(c.exists('/'), AuthFailedError);
    await new Promise((r) => setImmediate(r));
    assert.equal(states.at(-1), 'AuthFailed');
    assert.equal(c.state, 'AuthFailed');
  });

  test(`${name}: a client with bad credentials in connect() is refused`, async () => {
    await rejects(connect(server().connectString, { auth: [{ scheme: 'no-such-scheme', auth: 'x' }] }), AuthFailedError);
  });
});

test('connect() gives up with ConnectionLoss when no server answers', async () => {
  const port = await freePort();
  await rejects(connect(`127.0.0.1:${port}`, { connectTimeoutMs: 500 }), ConnectionLossError);
});

test('a malformed connection string is refused', async () => {
  for (const bad of ['', 'host:notaport', 'host:99999', '127.0.0.1:2181/bad/']) {
    await rejects(connect(bad, { connectTimeoutMs: 100 }), BadArgumentsError);
  }
});
