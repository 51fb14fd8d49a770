/**
 * Every recipe, used and then closed (or released, or left) on a healthy session, leaves nothing of
 * its own behind: the session holds no ephemeral node (getEphemerals lists the caller's own), and
 * under the recipes' root only the shared state that outlives any one user remains (the counter's
 * value, the registry root, the queue's directory, the barrier's and the group's parents).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Barrier, DistributedQueue, DoubleBarrier, GroupMembership, LeaderElection, LeaderLatch, Mutex, NodeCache, PriorityQueue,
  ReadWriteLock, Semaphore, ServiceDiscovery, ServiceRegistry, SharedCounter, TreeCache,
} from '../../src/recipes/index.ts';
import { forEachServer } from '../support/servers.ts';
import { WAIT_MS, deleteTree, sessions } from '../support/recipes.ts';

/** Every path below root, depth first. */
async function tree(zk: Awaited<ReturnType<ReturnType<typeof sessions>['open']>>, root: string): Promise<string[]> {
  const out: string[] = [];
  for (const child of (await zk.getChildren(root)).sort()) {
    const path = `${root}/${child}`;
    out.push(path, ...(await tree(zk, path)));
  }
  return out;
}

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open } = sessions(server);

  test(`${name}: every recipe, closed on a healthy session, leaves no node of its own`, async () => {
    const root = '/left-behind';
    const observer = await open();
    await deleteTree(observer, root);
    await observer.create(root);
    const zk = await open();
    const other = await open();

    const election = new LeaderElection(zk, `${root}/election`, { id: 'a' });
    const rival = new LeaderElection(other, `${root}/election`, { id: 'b' });
    await election.start();
    await rival.start();
    assert.equal(await election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    const latch = new LeaderLatch(zk, `${root}/latch`);
    await latch.start();
    assert.equal(await latch.await({ timeoutMs: WAIT_MS }), true);

    const mutex = new Mutex(zk, `${root}/mutex`);
    assert.equal(await mutex.acquire(), true);
    assert.equal(await mutex.acquire(), true, 're-entrant');
    const contender = new Mutex(other, `${root}/mutex`);
    assert.equal(await contender.acquire({ timeoutMs: 200 }), false, 'a contender that times out');
    const rw = new ReadWriteLock(zk, `${root}/rw`);
    assert.equal(await rw.writeLock.acquire(), true);
    assert.equal(await rw.readLock.acquire(), true, 'the writer may read');
    const semaphore = new Semaphore(zk, `${root}/semaphore`, { maxLeases: 2 });
    const leases = await semaphore.acquire({ qty: 2 });
    assert.equal(leases?.length, 2);
    assert.equal(await new Semaphore(other, `${root}/semaphore`, { maxLeases: 2 }).acquire({ timeoutMs: 200 }), null, 'no room');

    const barrier = new Barrier(zk, `${root}/barrier/gate`);
    await barrier.set();
    assert.equal(await barrier.wait({ timeoutMs: 100 }), false);
    const doubles = [new DoubleBarrier(zk, `${root}/double`, 2), new DoubleBarrier(other, `${root}/double`, 2)];
    assert.deepEqual(await Promise.all(doubles.map((d) => d.enter({ timeoutMs: WAIT_MS }))), [true, true]);
    const fifo = new DistributedQueue(zk, `${root}/fifo`);
    await fifo.put('x');
    const priority = new PriorityQueue(zk, `${root}/priority`);
    await priority.put('y', 3);
    const counter = new SharedCounter(zk, `${root}/counter`, 0);
    await counter.start();
    await counter.increment(5);
    const group = new GroupMembership(zk, `${root}/group`, 'member-a', { data: 'a' });
    await group.join();
    const registry = new ServiceRegistry(zk, { root: `${root}/services` });
    const registration = await registry.register({ host: '127.0.0.1', port: 1, metadata: { n: 1 } });
    const discovery = new ServiceDiscovery(zk, { root: `${root}/services` });
    assert.equal((await discovery.start()).length, 1);
    const nodeCache = new NodeCache(zk, `${root}/counter`);
    await nodeCache.start();
    const treeCache = new TreeCache(zk, root);
    await treeCache.start();

    assert.ok((await zk.getEphemerals(root)).length >= 9, 'in use, the recipes hold ephemeral nodes');

    await Promise.all(doubles.map((d) => d.leave({ timeoutMs: WAIT_MS })));
    await barrier.remove();
    assert.equal((await fifo.take({ timeoutMs: WAIT_MS }))?.toString(), 'x');
    assert.equal((await priority.take({ timeoutMs: WAIT_MS }))?.toString(), 'y');
    for (const lease of leases!) await lease.release();
    await rw.readLock.release();
    await rw.writeLock.release();
    await mutex.release();
    await mutex.release();
    await Promise.all([election.close(), rival.close(), latch.close(), counter.close(), group.close(), registration.unregister(), discovery.close(), nodeCache.close(), treeCache.close()]);

    assert.deepEqual(await zk.getEphemerals('/'), [], 'no ephemeral node of the session is left');
    assert.deepEqual(await other.getEphemerals('/'), [], "nor of the other session's");
    const left = await tree(observer, root);
    // What may stay: the recipes' directories (containers, reaped by the server later; a registry
    // root is persistent) and the counter's value, which is shared state.
    const kept = new Set(['election', 'latch', 'mutex', 'rw', 'semaphore', 'semaphore/locks', 'semaphore/leases', 'barrier', 'double', 'fifo', 'priority', 'counter', 'group', 'services'].map((p) => `${root}/${p}`));
    assert.deepEqual(left.filter((p) => !kept.has(p)), [], 'only directories and shared state');
    assert.equal(counter.count, 5);
    await deleteTree(observer, root);
  });
});
