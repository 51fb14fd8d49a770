/**
 * Barrier, DoubleBarrier, the FIFO and priority queues and SharedCounter, run unchanged against
 * Apache ZooKeeper and against Ensemble. Each test has its own root znode /bq-<name>, and every
 * assertion about what is left behind is made on the server through a separate observer client.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import { SessionExpiredError, connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { Barrier } from '../../src/recipes/barrier.ts';
import { DoubleBarrier } from '../../src/recipes/double-barrier.ts';
import { DistributedQueue, PriorityQueue, sortablePriority } from '../../src/recipes/queue.ts';
import { SharedCounter } from '../../src/recipes/shared-counter.ts';
import { rejects } from '../support/rejects.ts';
import { WAIT_MS, childrenOf, deleteTree, eventually, freshNode, recordStates, recordWatchedReads, sessions, settled } from '../support/recipes.ts';
import { forEachServer } from '../support/servers.ts';

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open, proxy, cutOff, expire } = sessions(server);
  const roots: string[] = [];

  /** An observer client and a fresh root znode for one test, deleted after it. */
  const setUp = async (root: string): Promise<ZooKeeperClient> => {
    const observer = await open();
    await freshNode(observer, root);
    roots.push(root);
    return observer;
  };

  afterEach(async () => {
    const cleaner = await connect(server().connectString);
    for (const root of roots.splice(0)) await deleteTree(cleaner, root);
    await cleaner.close();
  });

  test(`${name}: a barrier holds its waiters until removed, and a wait times out with false`, async () => {
    const observer = await setUp('/bq-barrier');
    const path = '/bq-barrier/gates/g1';
    const [a, b] = [await open(), await open()];
    const barrier = new Barrier(a, path);
    assert.equal(await barrier.wait({ timeoutMs: WAIT_MS }), true, 'a barrier that is not set lets through');
    assert.equal(await barrier.wait({ timeoutMs: 0 }), true, 'timeoutMs 0 looks once');
    await barrier.set();
    await barrier.set();
    assert.notEqual(await observer.exists(path), null, 'set() created the node (and its parent)');
    assert.equal(await barrier.wait({ timeoutMs: 0 }), false);

    const watched = recordWatchedReads(b);
    const waiters = [new Barrier(b, path).wait(), new Barrier(b, path).wait()];
    await watched.waitForCount(2);
    const started = Date.now();
    assert.equal(await new Barrier(a, path).wait({ timeoutMs: 300 }), false, 'a wait times out while the barrier is set');
    assert.ok(Date.now() - started >= 290, 'it waited for its timeout');
    assert.equal(await settled(Promise.race(waiters)), false, 'the waiters are still held');

    await new Barrier(observer, path).remove();
    assert.deepEqual(await Promise.all(waiters), [true, true]);
    await barrier.remove();
    assert.equal(await observer.exists(path), null);
  });

  test(`${name}: a double barrier lets 3 members in together and out together, leaving nothing`, async () => {
    const observer = await setUp('/bq-double');
    const path = '/bq-double/b';
    const zks = [await open(), await open(), await open()];
    const barriers = zks.map((zk, i) => new DoubleBarrier(zk, path, 3, { id: `member-${i}` }));

    const first = [barriers[0].enter(), barriers[1].enter()];
    await eventually(async () => (await childrenOf(observer, path)).length === 2, 'two members to enter');
    assert.deepEqual((await observer.getChildren(path)).sort(), ['member-0', 'member-1']);
    assert.equal(await settled(Promise.race(first)), false, 'two of three members wait to enter');

    assert.equal(await barriers[2].enter(), true, 'the third completes the count');
    assert.deepEqual(await Promise.all(first), [true, true]);
    assert.deepEqual((await observer.getChildren(path)).sort(), ['member-0', 'member-1', 'member-2', 'ready']);

    const leaving = [barriers[0].leave(), barriers[2].leave()];
    // member-0 (lowest) waits for member-2 (highest), which deletes itself and waits for member-0.
    await eventually(async () => (await observer.getChildren(path)).sort().join() === 'member-0,member-1,ready', 'member-2 to go');
    assert.equal(await settled(Promise.race(leaving)), false, 'two of three members wait to leave');

    assert.equal(await barriers[1].leave(), true);
    assert.deepEqual(await Promise.all(leaving), [true, true]);
    assert.deepEqual(await observer.getChildren(path), [], 'no member node and no ready node left');
  });

  test(`${name}: a double barrier entry that times out returns false and removes its node`, async () => {
    const observer = await setUp('/bq-double-timeout');
    const path = '/bq-double-timeout/b';
    const zk = await open();
    const started = Date.now();
    assert.equal(await new DoubleBarrier(zk, path, 2).enter({ timeoutMs: 300 }), false);
    assert.ok(Date.now() - started >= 290);
    assert.deepEqual(await observer.getChildren(path), []);

    const controller = new AbortController();
    const entering = new DoubleBarrier(zk, path, 2).enter({ signal: controller.signal });
    await eventually(async () => (await observer.getChildren(path)).length === 1, 'the member to enter');
    assert.equal(await settled(entering), false);
    controller.abort(new Error('stop'));
    await assert.rejects(entering, /stop/);
    assert.deepEqual(await observer.getChildren(path), [], 'an aborted entry removes its node too');
  });

  test(`${name}: a FIFO queue gives items in order; take waits for the next put and times out with null`, async () => {
    const observer = await setUp('/bq-fifo');
    const path = '/bq-fifo/q';
    const [producer, consumer] = [await open(), await open()];
    const out = new DistributedQueue(producer, path);
    const into = new DistributedQueue(consumer, path);
    assert.equal(await into.peek(), null);
    assert.equal(await into.size(), 0);
    for (let i = 0; i < 10; i++) assert.match(await out.put(`item-${i}`), /^\/bq-fifo\/q\/qn-\d{10}$/);
    await out.put(Buffer.from([0, 255]));
    assert.equal(await into.size(), 11);
    assert.equal((await into.peek())?.toString(), 'item-0', 'peek leaves the head in place');
    const got: string[] = [];
    for (let i = 0; i < 10; i++) got.push((await into.take())!.toString());
    assert.deepEqual(got, Array.from({ length: 10 }, (_, i) => `item-${i}`));
    assert.deepEqual(await into.take(), Buffer.from([0, 255]));

    const started = Date.now();
    assert.equal(await into.take({ timeoutMs: 300 }), null);
    assert.ok(Date.now() - started >= 290);
    assert.equal(await into.take({ timeoutMs: 0 }), null);

    const watched = recordWatchedReads(consumer);
    const taking = into.take();
    await watched.waitForCount(1);
    assert.equal(await settled(taking), false, 'take waits on an empty queue');
    await out.put('late');
    assert.equal((await taking)?.toString(), 'late');
    assert.deepEqual(await observer.getChildren(path), []);
  });

  test(`${name}: 3 producers x 30 items and 3 racing consumers deliver every item exactly once`, async () => {
    const observer = await setUp('/bq-race');
    const path = '/bq-race/q';
    const producers = [await open(), await open(), await open()];
    const consumers = [await open(), await open(), await open()];
    const total = 90;
    const received: string[][] = [[], [], []];
    const done = new AbortController();
    const count = (): number => received.reduce((n, r) => n + r.length, 0);

    const consuming = consumers.map(async (zk, c) => {
      const queue = new DistributedQueue(zk, path);
      try {
        while (count() < total) {
          const item = await queue.take({ signal: done.signal });
          if (item) received[c].push(item.toString());
          if (count() >= total) done.abort();
        }
      } catch (err) {
        if (!done.signal.aborted) throw err;
      }
    });
    const sent = producers.map((_, p) => Array.from({ length: 30 }, (_, i) => `p${p}-${i}`));
    await Promise.all(producers.map(async (zk, p) => {
      const queue = new DistributedQueue(zk, path);
      for (const item of sent[p]) await queue.put(item);
    }));
    await Promise.all(consuming);

    const all = received.flat();
    assert.equal(all.length, total, 'no item delivered twice');
    assert.deepEqual([...all].sort(), sent.flat().sort(), 'every item delivered');
    for (const r of received) {
      for (let p = 0; p < 3; p++) {
        const mine = r.filter((item) => item.startsWith(`p${p}-`)).map((item) => Number(item.split('-')[1]));
        assert.deepEqual(mine, [...mine].sort((x, y) => x - y), 'each consumer sees a producer\'s items in order');
      }
    }
    assert.deepEqual(await observer.getChildren(path), []);
  });

  test(`${name}: a priority queue gives items by priority, then in order of arrival`, async () => {
    await setUp('/bq-priority');
    const zk = await open();
    const queue = new PriorityQueue(zk, '/bq-priority/q');
    const puts: [string, number][] = [
      ['a', 5], ['b', 1], ['c', 5], ['d', -3], ['e', 1], ['f', 0], ['g', 2 ** 31 - 1], ['h', -(2 ** 31)], ['i', -3], ['j', 10],
    ];
    for (const [item, priority] of puts) await queue.put(item, priority);
    const expected = puts
      .map(([item, priority], arrival) => ({ item, priority, arrival }))
      .sort((x, y) => x.priority - y.priority || x.arrival - y.arrival)
      .map((x) => x.item);
    const got: string[] = [];
    for (let item = await queue.take({ timeoutMs: 0 }); item; item = await queue.take({ timeoutMs: 0 })) got.push(item.toString());
    assert.deepEqual(got, expected);
    assert.throws(() => sortablePriority(2 ** 31), RangeError);
    assert.throws(() => sortablePriority(1.5), RangeError);
    assert.equal(sortablePriority(-1), '0FFFFFFFF');
    assert.equal(sortablePriority(16), '100000010');
  });

  test(`${name}: a shared counter: 4 clients x 25 concurrent increments end at 100; CAS and change events`, async () => {
    const observer = await setUp('/bq-counter');
    const path = '/bq-counter/c';
    const zks = [await open(), await open(), await open(), await open()];
    const counters = zks.map((zk) => new SharedCounter(zk, path, 0));
    await Promise.all(counters.map((c) => c.start()));
    assert.deepEqual((await observer.getData(path)).data, Buffer.from([0, 0, 0, 0]), 'Curator\'s encoding: 4 bytes, big-endian');

    const results = await Promise.all(counters.flatMap((c) => Array.from({ length: 25 }, () => c.increment())));
    assert.deepEqual([...results].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i + 1), 'each increment got its own value');
    assert.equal((await observer.getData(path)).data!.readInt32BE(0), 100);
    await eventually(() => counters.every((c) => c.count === 100), 'every instance to see 100');

    const [first, second] = counters;
    const changes: number[] = [];
    second.on('change', (value) => changes.push(value));
    const stale = first.version;
    await second.setCount(7);
    assert.equal(await first.trySetCount(9, stale), false, 'a stale version is refused');
    assert.equal(first.count, 7, 'a refused CAS reads the value again');
    assert.equal(await first.trySetCount(9, first.version), true);
    // One-shot watches may fold changes close together into one: await each before the next.
    await eventually(() => second.count === 9, 'the second instance to see 9');
    await first.setCount(-42);
    await eventually(() => second.count === -42, 'the second instance to follow');
    assert.deepEqual(changes, [7, 9, -42]);
    assert.deepEqual((await observer.getData(path)).data, Buffer.from([0xff, 0xff, 0xff, 0xd6]));
    await assert.rejects(first.increment(2 ** 32), RangeError);

    await Promise.all(counters.map((c) => c.close()));
    assert.notEqual(await observer.exists(path), null, 'the counter node is shared state and stays');
    await observer.setData(path, Buffer.from([0, 0, 0, 1]));
    await observer.sync(path);
    assert.deepEqual(changes, [7, 9, -42], 'a closed counter emits nothing');
    assert.equal(await new SharedCounter(observer, path, 5).start().then(() => 'started'), 'started');
  });

  test(`${name}: a take waiting behind a cut link still receives the item put during the gap`, async () => {
    const observer = await setUp('/bq-reconnect');
    const path = '/bq-reconnect/q';
    const link = await proxy();
    const consumer = await open(link.connectString);
    const states = recordStates(consumer);
    const sessionId = consumer.sessionId;
    const queue = new DistributedQueue(consumer, path);
    await new DistributedQueue(observer, path).put('before');
    assert.equal((await queue.take())?.toString(), 'before');

    const watched = recordWatchedReads(consumer);
    const taking = queue.take();
    await watched.waitForCount(1);
    await cutOff(consumer, link);
    await new DistributedQueue(observer, path).put('during the gap');
    assert.equal(await settled(taking), false);
    link.refuse(false);
    assert.equal((await taking)?.toString(), 'during the gap');
    assert.deepEqual(states.entries, ['Disconnected', 'SyncConnected']);
    assert.equal(consumer.sessionId, sessionId, 'the same session');
    assert.deepEqual(await observer.getChildren(path), []);
  });

  test(`${name}: waits in take and Barrier.wait reject with SessionExpiredError when the session ends`, async () => {
    const observer = await setUp('/bq-expiry');
    const link = await proxy();
    const zk = await open(link.connectString);
    await new Barrier(observer, '/bq-expiry/gate').set();

    const watched = recordWatchedReads(zk);
    const taking = new DistributedQueue(zk, '/bq-expiry/q').take();
    const waiting = new Barrier(zk, '/bq-expiry/gate').wait();
    await watched.waitForCount(2);
    await expire(zk, link);
    link.refuse(false);
    await rejects(taking, SessionExpiredError);
    await rejects(waiting, SessionExpiredError);
  });
});
