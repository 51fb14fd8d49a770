/**
 * ServiceRegistry, ServiceDiscovery and GroupMembership against Apache ZooKeeper and Ensemble:
 * instances from several sessions, a session that ends, updates, unregistering, an empty or
 * missing root, the cluster demo's leader pattern, a node an operator deletes, a re-sync after a
 * cut; members that see each other come and go.
 *
 * Each test has its own root znode /registry-<name>; every test checks the znodes left behind
 * with a separate observer client.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZooKeeperClient } from '../../src/client/index.ts';
import { GroupMembership } from '../../src/recipes/group-membership.ts';
import { nameOf } from '../../src/recipes/paths.ts';
import { ServiceDiscovery } from '../../src/recipes/service-discovery.ts';
import { ServiceRegistry, type RegisteredInstance, type Registration } from '../../src/recipes/service-registry.ts';
import { Recorder, deleteTree, eventually, recordStates, sessions } from '../support/recipes.ts';
import { forEachServer } from '../support/servers.ts';

/** Instances as "host:port name". */
const names = (instances: RegisteredInstance[]): string[] => instances.map((i) => `${i.host}:${i.port} ${String(i.metadata?.name)}`);

/** Every 'change' of a discovery, as names. */
function changeLog(discovery: ServiceDiscovery): Recorder<string[]> {
  const log = new Recorder<string[]>();
  discovery.on('change', (instances: RegisteredInstance[]) => log.record(names(instances)));
  return log;
}

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open, proxy, cutOff, expire } = sessions(server);

  const register = async (zk: ZooKeeperClient, root: string, n: number): Promise<Registration> =>
    new ServiceRegistry(zk, { root }).register({ host: '10.0.0.1', port: 8000 + n, metadata: { name: `w${n}` } });

  test(`${name}: three sessions register; discovery follows a session that ends, an update and an unregister`, async () => {
    const root = '/registry-basic';
    const observer = await open();
    const [a, b, c] = [await open(), await open(), await open()];
    const regA = await register(a, root, 1);
    const regB = await register(b, root, 2);
    const regC = await register(c, root, 3);
    assert.match(regA.id, /^instance-\d{10}$/, 'the id has no protection marker');
    assert.match(regA.path, new RegExp(`^${root}/_c_[0-9a-f-]{36}-instance-\\d{10}$`), 'the node is a protected create');
    const rootStat = await observer.exists(root);
    assert.equal(rootStat?.ephemeralOwner, 0n, 'the root is a plain persistent node');
    assert.deepEqual(JSON.parse(String((await observer.getData(regB.path)).data)), { host: '10.0.0.1', port: 8002, metadata: { name: 'w2' } });

    const discovery = new ServiceDiscovery(observer, { root });
    const log = changeLog(discovery);
    const first = await discovery.start();
    assert.deepEqual(names(first), ['10.0.0.1:8001 w1', '10.0.0.1:8002 w2', '10.0.0.1:8003 w3'], 'in registration order');
    assert.deepEqual(first.map((i) => i.id), [regA.id, regB.id, regC.id]);
    assert.deepEqual(first.map((i) => i.path), [regA.path, regB.path, regC.path]);
    assert.deepEqual(await new ServiceRegistry(observer, { root }).list(), first, 'list() reads what discovery follows');

    await b.close();
    await log.waitFor(['10.0.0.1:8001 w1', '10.0.0.1:8003 w3']);
    assert.equal(log.entries.length, 1, 'one change for one departure');

    await regC.update({ host: '10.0.0.9', port: 9003, metadata: { name: 'w3', load: 0.5 } });
    await log.waitFor(['10.0.0.1:8001 w1', '10.0.0.9:9003 w3']);
    assert.deepEqual(discovery.instances[1].metadata, { name: 'w3', load: 0.5 });
    assert.equal(discovery.instances[1].id, regC.id, 'an update keeps the node');

    await regA.unregister();
    await regA.unregister();
    await log.waitFor(['10.0.0.9:9003 w3']);
    assert.equal(await observer.exists(regA.path), null, 'unregister leaves no node');
    await regC.unregister();
    await log.waitFor([]);
    assert.deepEqual(await observer.getChildren(root), [], 'nothing left under the root');
    assert.deepEqual(discovery.instances, []);
    assert.equal(log.entries.length, 4, 'no change without a difference');
    await discovery.close();
    await observer.delete(root);
  });

  test(`${name}: named services: registry → service → instances, each discovery sees its own service`, async () => {
    const root = '/registry-named';
    const [a, b, observer] = [await open(), await open(), await open()];
    const search = new ServiceRegistry(a, { root, service: 'search' });
    assert.deepEqual(await search.services(), [], 'no services under a missing root');
    const regSearch = await search.register({ host: '10.0.0.1', port: 8001, metadata: { name: 's1' } });
    const regBilling = await new ServiceRegistry(b, { root, service: 'billing' }).register({ host: '10.0.0.2', port: 8002, metadata: { name: 'b1' } });
    assert.equal(search.path, `${root}/search`);
    assert.equal(regSearch.root, `${root}/search`);
    assert.match(regSearch.path, new RegExp(`^${root}/search/_c_[0-9a-f-]{36}-instance-\\d{10}$`));
    assert.equal((await observer.exists(`${root}/search`))?.ephemeralOwner, 0n, 'the service node is persistent');
    assert.deepEqual(await new ServiceRegistry(observer, { root }).services(), ['billing', 'search']);
    assert.deepEqual(names(await new ServiceRegistry(observer, { root, service: 'billing' }).list()), ['10.0.0.2:8002 b1']);

    const discovery = new ServiceDiscovery(observer, { root, service: 'search' });
    const log = changeLog(discovery);
    assert.deepEqual(names(await discovery.start()), ['10.0.0.1:8001 s1'], 'only its own service');
    const regBilling2 = await new ServiceRegistry(b, { root, service: 'billing' }).register({ host: '10.0.0.2', port: 8003, metadata: { name: 'b2' } });
    const second = await new ServiceRegistry(b, { root, service: 'search' }).register({ host: '10.0.0.2', port: 8004, metadata: { name: 's2' } });
    await log.waitFor(['10.0.0.1:8001 s1', '10.0.0.2:8004 s2']);
    assert.equal(log.entries.length, 1, 'another service\'s registration is not a change');
    await regSearch.unregister();
    await log.waitFor(['10.0.0.2:8004 s2']);
    await discovery.close();
    assert.throws(() => new ServiceRegistry(a, { root, service: 'a/b' }), RangeError);
    assert.throws(() => new ServiceDiscovery(a, { root, service: '' }), RangeError);
    await second.unregister();
    await regBilling.unregister();
    await regBilling2.unregister();
    await deleteTree(observer, root);
  });

  test(`${name}: list() of a missing or empty root is []; nodes that hold no instance are skipped`, async () => {
    const root = '/registry-empty';
    const zk = await open();
    const registry = new ServiceRegistry(zk, { root });
    assert.deepEqual(await registry.list(), [], 'missing root');
    await zk.create(root);
    assert.deepEqual(await registry.list(), [], 'empty root');
    await zk.create(`${root}/instance-`, 'not json', { mode: 'ephemeral_sequential' });
    await zk.create(`${root}/instance-`, '{"host":1}', { mode: 'ephemeral_sequential' });
    await zk.create(`${root}/instance-`, null, { mode: 'ephemeral_sequential' });
    await zk.create(`${root}/unsequenced`, '{"host":"h","port":1}', { mode: 'ephemeral' });
    const reg = await registry.register({ host: 'h', port: 2 });
    const listed = await registry.list();
    assert.deepEqual(listed, [{ id: reg.id, path: reg.path, host: 'h', port: 2 }]);
    const discovery = new ServiceDiscovery(zk, { root });
    assert.deepEqual(await discovery.start(), listed, 'discovery skips them too');
    await discovery.close();
    await reg.unregister();
    await deleteTree(zk, root);
  });

  test(`${name}: discovery started before the root exists sees the first registration`, async () => {
    const root = '/registry-late-root';
    const watcher = await open();
    const worker = await open();
    const discovery = new ServiceDiscovery(watcher, { root });
    const log = changeLog(discovery);
    assert.deepEqual(await discovery.start(), []);
    const reg = await register(worker, root, 1);
    await log.waitFor(['10.0.0.1:8001 w1']);
    await reg.unregister();
    await log.waitFor([]);
    await discovery.close();
    assert.deepEqual(await worker.getChildren(root), []);
    await worker.delete(root);
  });

  test(`${name}: the elected leader unregisters itself and discovers the workers`, async () => {
    const root = '/registry-leader';
    const sessions = [await open(), await open(), await open()];
    const regs: Registration[] = [];
    for (const [i, zk] of sessions.entries()) regs.push(await register(zk, root, i + 1));
    // Session 0 is elected (by whatever election): it leaves the registry, then watches it.
    const leader = sessions[0];
    await regs[0].unregister();
    const discovery = new ServiceDiscovery(leader, { root });
    const log = changeLog(discovery);
    const workers = await discovery.start();
    assert.deepEqual(names(workers), ['10.0.0.1:8002 w2', '10.0.0.1:8003 w3'], 'the workers, without the leader');
    await sessions[2].close();
    await log.waitFor(['10.0.0.1:8002 w2']);
    assert.deepEqual(names(discovery.instances), ['10.0.0.1:8002 w2']);
    // A new worker joins while the leader leads.
    const late = await open();
    const regLate = await register(late, root, 4);
    await log.waitFor(['10.0.0.1:8002 w2', '10.0.0.1:8004 w4']);
    await discovery.close();
    await regs[1].unregister();
    await regLate.unregister();
    assert.deepEqual(await leader.getChildren(root), []);
    await leader.delete(root);
  });

  test(`${name}: a registration deleted by an operator registers again with the same data`, async () => {
    const root = '/registry-operator';
    const operator = await open();
    const zk = await open();
    const reg = await register(zk, root, 7);
    await reg.update({ host: '10.0.0.7', port: 7007, metadata: { name: 'w7', v: 2 } });
    const discovery = new ServiceDiscovery(operator, { root });
    const log = changeLog(discovery);
    await discovery.start();
    const oldPath = reg.path;
    const again = new Promise<string>((resolve) => reg.once('reregistered', resolve));
    await operator.delete(oldPath);
    const newPath = await again;
    assert.notEqual(newPath, oldPath);
    assert.equal(reg.path, newPath);
    assert.deepEqual(JSON.parse(String((await operator.getData(newPath)).data)), { host: '10.0.0.7', port: 7007, metadata: { name: 'w7', v: 2 } });
    await eventually(() => discovery.instances.length === 1 && discovery.instances[0].path === newPath, () => `discovery to see ${newPath}`);
    assert.equal(discovery.instances[0].id, reg.id);
    assert.deepEqual(await operator.getChildren(root), [nameOf(newPath)], 'one node, the new one');
    await reg.unregister();
    await log.waitFor([]);
    assert.deepEqual(await operator.getChildren(root), [], 'unregister stops re-registering');
    await discovery.close();
    await operator.delete(root);
  });

  test(`${name}: discovery re-syncs after a cut during which instances came and went`, async () => {
    const root = '/registry-resync';
    const link = await proxy();
    const watcher = await open(link.connectString);
    const states = recordStates(watcher);
    const [a, b] = [await open(), await open()];
    const regA = await register(a, root, 1);
    await register(b, root, 2);
    const discovery = new ServiceDiscovery(watcher, { root });
    const log = changeLog(discovery);
    await discovery.start();

    await cutOff(watcher, link);
    await regA.unregister();
    await b.close();
    const c = await open();
    const regC = await register(c, root, 3);
    link.refuse(false);
    await log.waitFor(['10.0.0.1:8003 w3']);
    assert.deepEqual(states.entries, ['Disconnected', 'SyncConnected']);
    assert.deepEqual(discovery.instances.map((i) => i.path), [regC.path]);
    await discovery.close();
    await regC.unregister();
    await deleteTree(c, root);
  });

  // ---- group membership ----

  test(`${name}: three members see each other; a member whose session closes is seen to leave`, async () => {
    const group = '/registry-group/members';
    const observer = await open();
    const sessions = [await open(), await open(), await open()];
    const members = sessions.map((zk, i) => new GroupMembership(zk, group, `m${i}`, { data: `data-${i}` }));
    const left: string[][] = members.map(() => []);
    members.forEach((m, i) => m.on('left', (id: string) => left[i].push(id)));
    for (const m of members) await m.join();
    const all = ['m0', 'm1', 'm2'];
    for (const m of members) {
      await eventually(() => JSON.stringify([...m.members().keys()]) === JSON.stringify(all), () => `${m.memberId} to see ${all} (sees ${[...m.members().keys()]})`);
      assert.equal(m.members().get('m1')?.toString(), 'data-1');
    }
    assert.equal((await observer.exists(`${group}/m0`))?.ephemeralOwner, sessions[0].sessionId, 'each member is an ephemeral of its session');

    await sessions[1].close();
    for (const i of [0, 2]) {
      await eventually(() => left[i].includes('m1'), () => `m${i} to see m1 leave`);
      assert.deepEqual([...members[i].members().keys()], ['m0', 'm2']);
    }
    await members[0].close();
    await eventually(() => left[2].includes('m0'), () => 'm2 to see m0 leave');
    await members[2].close();
    assert.deepEqual(await observer.getChildren(group), [], 'no member left behind');
    await deleteTree(observer, '/registry-group');
  });

  test(`${name}: a member deleted by an operator, during a cut or not, joins again; a taken id waits`, async () => {
    const group = '/registry-rejoin';
    const operator = await open();
    const link = await proxy();
    const zk = await open(link.connectString);
    const states = recordStates(zk);
    const member = new GroupMembership(zk, group, 'me', { data: 'mine' });
    const joined: string[] = [];
    member.on('joined', (id: string) => joined.push(id));
    await member.join();
    assert.deepEqual(joined, ['me'], 'a member sees its own arrival');
    assert.deepEqual([...member.members()], [['me', Buffer.from('mine')]], 'and is a member once join() resolves');
    const firstOwner = (await operator.exists(`${group}/me`))?.czxid;

    await operator.delete(`${group}/me`);
    await eventually(() => joined.length === 2, () => 'a join again');
    assert.equal((await operator.exists(`${group}/me`))?.ephemeralOwner, zk.sessionId);
    assert.notEqual((await operator.exists(`${group}/me`))?.czxid, firstOwner);

    await cutOff(zk, link);
    await operator.delete(`${group}/me`);
    link.refuse(false);
    await eventually(() => joined.length === 3, () => 'a join again after the reconnection');
    assert.deepEqual(states.entries, ['Disconnected', 'SyncConnected'], 'the same session came back');
    assert.equal(String((await operator.getData(`${group}/me`)).data), 'mine');

    // Another session wants the same id: it waits until this one leaves.
    const other = new GroupMembership(await open(), group, 'me', { data: 'theirs' });
    let otherJoined = false;
    const otherJoin = other.join().then(() => (otherJoined = true));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(otherJoined, false, 'the id is taken');
    await member.close();
    await otherJoin;
    assert.equal(String((await operator.getData(`${group}/me`)).data), 'theirs');
    await other.close();
    assert.deepEqual(await operator.getChildren(group), []);
    await operator.delete(group);
  });

  test(`${name}: after a session expires, its recipes close cleanly and a new session registers and joins again`, async () => {
    const root = '/registry-expiry';
    const group = `${root}-group`;
    const operator = await open();
    const link = await proxy();
    const zk = await open(link.connectString);
    const states = recordStates(zk);
    const reg = await register(zk, root, 1);
    const member = new GroupMembership(zk, group, 'me');
    await member.join();
    const discovery = new ServiceDiscovery(zk, { root });
    await discovery.start();

    await expire(zk, link);
    link.refuse(false);
    await states.waitFor('Expired');
    assert.deepEqual(await operator.getChildren(root), [], 'the registration went with the session');
    assert.equal(await operator.exists(`${group}/me`), null, 'so did the membership');

    await reg.unregister();
    await member.close();
    await discovery.close();

    const fresh = await open();
    const again = await register(fresh, root, 1);
    const member2 = new GroupMembership(fresh, group, 'me');
    await member2.join();
    assert.deepEqual([...member2.members().keys()], ['me']);
    assert.deepEqual((await new ServiceRegistry(operator, { root }).list()).map((i) => i.path), [again.path]);
    await member2.close();
    await again.unregister();
    await operator.delete(root);
    await deleteTree(operator, group);
  });
});
