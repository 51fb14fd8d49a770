/**
 * The lock recipes (Mutex, ReadWriteLock, Semaphore) against Apache ZooKeeper and Ensemble:
 * exclusion under contention, one waiter woken per release, timeouts and aborts that leave nothing
 * behind, re-entrancy, fair read-write queues, bounded leases, and the connection-state contract
 * (suspended, reconnected, lost) through a proxy and a session expired on purpose.
 *
 * Each test has its own root znode /locks-<name>; an observer client checks the real znodes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ZooKeeperClient } from '../../src/client/index.ts';
import { LockLostError, LockNotHeldError, Mutex } from '../../src/recipes/lock.ts';
import { nameOf } from '../../src/recipes/paths.ts';
import { ReadWriteLock } from '../../src/recipes/read-write-lock.ts';
import { Semaphore, type Lease } from '../../src/recipes/semaphore.ts';
import { rejects } from '../support/rejects.ts';
import { WAIT_MS, caughtUp, childrenOf, eventually, recordEvents, recordWatchedReads, sessions, settled, within, type Recorder } from '../support/recipes.ts';
import { forEachServer } from '../support/servers.ts';

/** What a lock or a semaphore tells its holder. */
const HOLDER_EVENTS = ['suspended', 'reconnected', 'lost'];

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open, proxy, cutOff, expire } = sessions(server);

  test(`${name}: mutex: 5 clients x 10 read-modify-write increments end at 50, never two holders`, async () => {
    const root = '/locks-exclusion';
    const observer = await open();
    await observer.create(root, '0');
    let holders = 0;
    let maxHolders = 0;
    const worker = async (): Promise<void> => {
      const zk = await open();
      const lock = new Mutex(zk, `${root}/lock`);
      for (let i = 0; i < 10; i++) {
        assert.equal(await lock.acquire(), true);
        holders++;
        maxHolders = Math.max(maxHolders, holders);
        try {
          const { data } = await zk.getData(root);
          await new Promise((r) => setImmediate(r));
          await zk.setData(root, String(Number(data!.toString()) + 1));
        } finally {
          holders--;
          await lock.release();
        }
      }
    };
    await within(Promise.all(Array.from({ length: 5 }, worker)), 'the workers');
    assert.equal((await observer.getData(root)).data!.toString(), '50');
    assert.equal(maxHolders, 1, 'never two holders at once');
    assert.deepEqual(await childrenOf(observer, `${root}/lock`), [], 'no node left behind');
  });

  test(`${name}: mutex: with 10 waiters, a release wakes exactly one, in queue order`, async () => {
    const root = '/locks-herd';
    const observer = await open();
    const holderClient = await open();
    const holder = new Mutex(holderClient, root);
    assert.equal(await holder.acquire(), true);
    const waiters: { client: ZooKeeperClient; lock: Mutex; acquired: Promise<boolean>; watched: Recorder<string> }[] = [];
    for (let i = 0; i < 10; i++) {
      const client = await open();
      const watched = recordWatchedReads(client);
      const lock = new Mutex(client, root);
      waiters.push({ client, lock, acquired: lock.acquire(), watched });
      await eventually(async () => (await childrenOf(observer, root)).length === i + 2, `waiter ${i} queued`);
    }
    // Every waiter watches its predecessor, and only that.
    await eventually(() => waiters.every((w) => w.watched.entries.length === 1), 'every waiter watching');
    await caughtUp(...waiters.map((w) => w.client));
    const queue = await holder.getParticipantNodes();
    assert.deepEqual(waiters.map((w) => w.watched.entries), queue.slice(0, 10).map((p) => [p]), 'each watches its predecessor');
    assert.deepEqual(waiters.map((w) => w.lock.watchNotifications), Array(10).fill(0));

    await holder.release();
    assert.equal(await within(waiters[0].acquired, 'the first waiter'), true);
    await caughtUp(...waiters.map((w) => w.client));
    assert.deepEqual(waiters.map((w) => w.lock.watchNotifications), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'only the next waiter woke');
    for (const w of waiters.slice(1)) assert.equal(await settled(w.acquired), false);

    for (let i = 0; i < waiters.length; i++) {
      assert.equal(await within(waiters[i].acquired, `waiter ${i}`), true);
      assert.ok(waiters[i].lock.isHeld);
      await waiters[i].lock.release();
    }
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: mutex: a timeout resolves false and an abort rejects, both leaving no node`, async () => {
    const root = '/locks-timeout';
    const observer = await open();
    const holder = new Mutex(await open(), root);
    assert.equal(await holder.acquire({ timeoutMs: 0 }), true, 'a free lock is taken at the first look');
    const [held] = await childrenOf(observer, root);
    const contender = new Mutex(await open(), root);

    const started = Date.now();
    assert.equal(await contender.acquire({ timeoutMs: 300 }), false);
    assert.ok(Date.now() - started >= 290, 'waited for the timeout');
    assert.equal(contender.isHeld, false);
    assert.deepEqual(await childrenOf(observer, root), [held], 'the contender left nothing');
    assert.equal(await contender.acquire({ timeoutMs: 0 }), false);
    assert.deepEqual(await childrenOf(observer, root), [held]);

    const abort = new AbortController();
    const attempt = contender.acquire({ signal: abort.signal });
    await eventually(async () => (await childrenOf(observer, root)).length === 2, 'the contender queued');
    const reason = new Error('no longer needed');
    abort.abort(reason);
    await assert.rejects(attempt, (err) => err === reason);
    assert.deepEqual(await childrenOf(observer, root), [held], 'the aborted contender left nothing');
    await assert.rejects(contender.acquire({ signal: abort.signal }), (err) => err === reason, 'an aborted signal rejects at once');

    await holder.release();
    assert.equal(await contender.acquire({ timeoutMs: WAIT_MS }), true, 'the lock is free again');
    await contender.release();
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: mutex: re-entrant per instance; releasing what is not held throws`, async () => {
    const root = '/locks-reentrant';
    const observer = await open();
    const zk = await open();
    const lock = new Mutex(zk, root);
    await rejects(lock.release(), LockNotHeldError);

    assert.equal(await lock.acquire(), true);
    assert.equal(await lock.acquire({ timeoutMs: 0 }), true);
    const nodes = await childrenOf(observer, root);
    assert.equal(nodes.length, 1, 'one node for both acquisitions');
    assert.equal(lock.nodePath, `${root}/${nodes[0]}`);
    await lock.release();
    assert.ok(lock.isHeld, 'still held after the first release');
    assert.deepEqual(await childrenOf(observer, root), nodes);
    await lock.release();
    assert.equal(lock.isHeld, false);
    assert.deepEqual(await childrenOf(observer, root), []);
    await rejects(lock.release(), LockNotHeldError);
    assert.equal(lock.nodePath, null);

    // Two acquisitions at once on one instance: the second waits for the first, no second node.
    assert.deepEqual(await Promise.all([lock.acquire(), lock.acquire()]), [true, true]);
    assert.equal((await childrenOf(observer, root)).length, 1);
    await lock.release();
    await lock.release();
    assert.deepEqual(await childrenOf(observer, root), []);

    // Not re-entrant: a second acquire queues behind the instance's own node.
    const plain = new Mutex(zk, root, { reentrant: false });
    assert.equal(await plain.acquire(), true);
    assert.equal(await plain.acquire({ timeoutMs: 200 }), false);
    const second = plain.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 2, 'the second acquire queued');
    assert.equal(await settled(second), false);
    await plain.release();
    assert.equal(await within(second, 'the second acquire'), true);
    await plain.release();
    await rejects(plain.release(), LockNotHeldError);
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: read-write: readers share, a writer waits for them, a later reader waits for that writer only`, async () => {
    const root = '/locks-rw';
    const observer = await open();
    const zk = await open();
    const r1 = new ReadWriteLock(zk, root).readLock;
    const r2 = new ReadWriteLock(zk, root).readLock;
    assert.equal(await r1.acquire({ timeoutMs: 0 }), true);
    assert.equal(await r2.acquire({ timeoutMs: 0 }), true, 'readers hold together');

    const writer = new ReadWriteLock(await open(), root).writeLock;
    const written = writer.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 3, 'the writer queued');
    const writerNode = (await writer.getParticipantNodes())[2];
    assert.match(nameOf(writerNode), /__WRIT__\d{10}$/);

    const first = new ReadWriteLock(zk, root).readLock;
    assert.equal(await first.acquire({ timeoutMs: 200 }), false, 'a reader behind a waiting writer waits');
    const firstRead = first.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 4, 'a late reader queued');
    // A second late reader: its predecessor is a reader, yet it watches the writer.
    const lateClient = await open();
    const watched = recordWatchedReads(lateClient);
    const late = new ReadWriteLock(lateClient, root).readLock;
    const lateRead = late.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 5, 'a second late reader queued');
    assert.equal(await settled(written), false, 'the writer waits for the readers');

    await r1.release();
    await r2.release();
    assert.equal(await within(written, 'the writer'), true);
    assert.ok(writer.isHeld);
    assert.equal(await settled(firstRead), false, 'the late readers wait for the writer');
    assert.equal(await settled(lateRead), false);
    assert.ok(watched.entries.length > 0 && watched.entries.every((p) => p === writerNode), `the reader watched only the writer: ${watched.entries}`);

    await writer.release();
    assert.deepEqual(await within(Promise.all([firstRead, lateRead]), 'the late readers'), [true, true], 'they read together');
    await first.release();
    await late.release();
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: read-write: a writer may take the read lock (downgrade); a reader may not upgrade`, async () => {
    const root = '/locks-rw-reentry';
    const observer = await open();
    const rw = new ReadWriteLock(await open(), root);
    assert.equal(await rw.writeLock.acquire(), true);
    assert.equal(await rw.readLock.acquire({ timeoutMs: 0 }), true, 'the writer reads at once');
    const nodes = await childrenOf(observer, root);
    assert.equal(nodes.length, 1, 'on the writer node');

    const other = new ReadWriteLock(await open(), root).readLock;
    await rw.writeLock.release();
    assert.ok(rw.readLock.isHeld);
    assert.equal(await other.acquire({ timeoutMs: 200 }), false, 'the downgraded lock still excludes');
    await assert.rejects(rw.writeLock.acquire(), /cannot be acquired while this instance holds the read lock/);
    await rw.readLock.release();
    assert.deepEqual(await childrenOf(observer, root), []);

    assert.equal(await other.acquire(), true);
    await other.release();
    await rejects(rw.readLock.release(), LockNotHeldError);
  });

  test(`${name}: semaphore: 3 leases among 5 acquirers; a release lets the next in; a timeout leaves nothing`, async () => {
    const root = '/locks-semaphore';
    const observer = await open();
    const sems = await Promise.all(Array.from({ length: 5 }, async () => new Semaphore(await open(), root, { maxLeases: 3 })));
    const held: Lease[] = [];
    for (const s of sems.slice(0, 3)) {
      const leases = await s.acquire({ timeoutMs: WAIT_MS });
      assert.ok(leases !== null && leases.length === 1);
      held.push(leases[0]);
    }
    const fourth = sems[3].acquire();
    await eventually(async () => (await childrenOf(observer, `${root}/leases`)).length === 4, 'the fourth\'s waiting lease');
    const fifth = sems[4].acquire();
    await eventually(async () => (await childrenOf(observer, `${root}/locks`)).length === 2, 'the fifth queued for the inner lock');
    assert.equal((await childrenOf(observer, `${root}/leases`)).length, 4, 'three leases and the lock holder\'s waiting one');
    assert.equal(await settled(fourth), false);

    await held.shift()!.release();
    const [fourthLease] = (await within(fourth, 'the fourth'))!;
    held.push(fourthLease);
    await eventually(async () => (await sems[0].getParticipantNodes()).length === 4, 'the fifth\'s waiting lease');
    assert.equal(await settled(fifth), false, 'still three leases');

    await held.shift()!.release();
    held.push(...(await within(fifth, 'the fifth'))!);
    assert.equal((await childrenOf(observer, `${root}/leases`)).length, 3);

    assert.equal(await sems[0].acquire({ timeoutMs: 300 }), null);
    assert.equal(await sems[1].acquire({ qty: 2, timeoutMs: 0 }), null);
    assert.equal((await childrenOf(observer, `${root}/leases`)).length, 3, 'the timed-out acquirers left no lease');
    assert.deepEqual(await childrenOf(observer, `${root}/locks`), [], 'nor a lock node');

    await Promise.all(held.map((l) => l.release()));
    const two = await sems[2].acquire({ qty: 2 });
    assert.equal(two!.length, 2);
    await Promise.all(two!.map((l) => l.release()));
    await rejects(two![0].release(), LockNotHeldError);
    assert.deepEqual(await childrenOf(observer, `${root}/leases`), []);
    await assert.rejects(sems[0].acquire({ qty: 4 }), RangeError);
  });

  test(`${name}: semaphore: never more than 3 leases held while 5 acquirers loop`, async () => {
    const root = '/locks-semaphore-load';
    const observer = await open();
    let holding = 0;
    let maxHolding = 0;
    const worker = async (): Promise<void> => {
      const s = new Semaphore(await open(), root, { maxLeases: 3 });
      for (let i = 0; i < 4; i++) {
        const leases = (await s.acquire())!;
        holding++;
        maxHolding = Math.max(maxHolding, holding);
        // Three must be able to hold at once: wait for that rather than hope that a short hold
        // overlaps two others on a busy machine.
        await eventually(() => maxHolding >= 3, 'three leases held at once');
        await new Promise((r) => setTimeout(r, 40));
        holding--;
        await leases[0].release();
      }
    };
    await within(Promise.all(Array.from({ length: 5 }, worker)), 'the workers');
    assert.equal(maxHolding, 3, 'three at most, and three reached');
    assert.deepEqual(await childrenOf(observer, `${root}/leases`), []);
    assert.deepEqual(await childrenOf(observer, `${root}/locks`), []);
  });

  test(`${name}: mutex: suspended on a cut, reconnected still held; lost when the session expires, and the next waiter gets it`, async () => {
    const root = '/locks-lost';
    const observer = await open();
    const link = await proxy();
    const zk = await open(link.connectString);
    const lock = new Mutex(zk, root);
    const events = recordEvents(lock, HOLDER_EVENTS);
    assert.equal(await lock.acquire(), true);
    const [node] = await childrenOf(observer, root);

    link.cut();
    await events.waitForCount(2);
    assert.deepEqual(events.entries, ['suspended', 'reconnected']);
    assert.ok(lock.isHeld, 'still held after a reconnection');
    assert.deepEqual(await childrenOf(observer, root), [node], 'the node survived');

    const waiter = new Mutex(await open(), root);
    const next = waiter.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 2, 'the waiter queued');

    await expire(zk, link);
    assert.equal(events.entries[2], 'suspended');
    assert.equal(await within(next, 'the next waiter'), true, 'the next waiter holds once the session is gone');
    link.refuse(false);
    await events.waitForCount(4);
    assert.deepEqual(events.entries, ['suspended', 'reconnected', 'suspended', 'lost']);
    assert.equal(lock.isHeld, false);
    await lock.release(); // owed by the application; resolves without effect after the loss
    await rejects(lock.release(), LockNotHeldError);
    await waiter.release();
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: mutex: an acquire in progress when the session ends rejects and leaves nothing`, async () => {
    const root = '/locks-lost-waiter';
    const observer = await open();
    const holder = new Mutex(await open(), root);
    assert.equal(await holder.acquire(), true);
    const link = await proxy();
    const zk = await open(link.connectString);
    const waiter = new Mutex(zk, root);
    const attempt = waiter.acquire();
    await eventually(async () => (await childrenOf(observer, root)).length === 2, 'the waiter queued');
    await expire(zk, link);
    link.refuse(false);
    await rejects(within(attempt, 'the rejection'), LockLostError);
    assert.equal(waiter.isHeld, false);
    assert.equal((await childrenOf(observer, root)).length, 1, 'only the holder is left');
    await holder.release();
    assert.deepEqual(await childrenOf(observer, root), []);
  });

  test(`${name}: mutex: lost after lostAfterMs of suspension; the node goes when the same session comes back`, async () => {
    const root = '/locks-lost-by-time';
    const observer = await open();
    const link = await proxy();
    const zk = await open(link.connectString);
    const lock = new Mutex(zk, root, { lostAfterMs: 300 });
    const events = recordEvents(lock, HOLDER_EVENTS);
    assert.equal(await lock.acquire(), true);
    const sessionId = zk.sessionId;

    await cutOff(zk, link);
    await events.waitForCount(2);
    assert.deepEqual(events.entries, ['suspended', 'lost']);
    assert.equal(lock.isHeld, false);
    assert.equal((await childrenOf(observer, root)).length, 1, 'the session, and so the node, still exists on the server');

    link.refuse(false);
    await eventually(async () => (await childrenOf(observer, root)).length === 0, 'the node deleted once the session is back');
    assert.equal(zk.sessionId, sessionId, 'the same session');
    assert.equal(zk.state, 'SyncConnected');
    assert.deepEqual(events.entries, ['suspended', 'lost'], 'no reconnected for a lock given up');
    assert.equal(await lock.acquire({ timeoutMs: WAIT_MS }), true, 'the instance can take the lock again');
    await lock.release();
    await lock.release(); // the release owed from before the loss
    await rejects(lock.release(), LockNotHeldError);
  });

  test(`${name}: semaphore: leases are lost with the session; the waiting acquirer gets in`, async () => {
    const root = '/locks-semaphore-lost';
    const observer = await open();
    const link = await proxy();
    const zk = await open(link.connectString);
    const sem = new Semaphore(zk, root, { maxLeases: 1 });
    const events = recordEvents(sem, HOLDER_EVENTS);
    const [lease] = (await sem.acquire())!;
    const other = new Semaphore(await open(), root, { maxLeases: 1 });
    const next = other.acquire();
    await eventually(async () => (await childrenOf(observer, `${root}/leases`)).length === 2, 'the other acquirer waits');

    await expire(zk, link);
    const [otherLease] = (await within(next, 'the other acquirer'))!;
    link.refuse(false);
    await events.waitForCount(2);
    assert.deepEqual(events.entries, ['suspended', 'lost']);
    assert.equal(lease.isHeld, false);
    await lease.release(); // resolves without effect after the loss
    await otherLease.release();
    assert.deepEqual(await childrenOf(observer, `${root}/leases`), []);
    assert.deepEqual(await childrenOf(observer, `${root}/locks`), []);
  });
});
