/**
 * Leader election and LeaderLatch, run unchanged against Apache ZooKeeper and against Ensemble:
 * who leads, the herd effect measured in watch notifications, stepping down, a node deleted under
 * its leader, suspension and reconnection, expiry, close without orphans, and the latch.
 *
 * Every candidate has its own client session; an observer client checks the znodes on the server.
 */
import assert from 'node:assert/strict';
import { afterEach, test } from 'node:test';
import type { ZooKeeperClient } from '../../src/client/index.ts';
import { LeaderElection, type RevokeReason } from '../../src/recipes/leader-election.ts';
import { LeaderLatch } from '../../src/recipes/leader-latch.ts';
import { sortBySequence } from '../../src/recipes/sequential.ts';
import type { Proxy } from '../support/proxy.ts';
import { WAIT_MS, caughtUp, childrenOf, eventually, freshNode, sessions } from '../support/recipes.ts';
import { forEachServer } from '../support/servers.ts';

/** A candidate with the log of its events ('elected', 'revoked:<reason>'), each with isLeader as it was then. */
interface Candidate {
  election: LeaderElection;
  client: ZooKeeperClient;
  log: string[];
}

const unhandled: unknown[] = [];
process.on('unhandledRejection', (reason) => unhandled.push(reason));

forEachServer({ tickTimeMs: 1000 }, (server, name) => {
  const { open, proxy, closeAfter, cutOff, expire } = sessions(server);

  afterEach(() => {
    assert.deepEqual(unhandled.splice(0), [], 'no unhandled rejection');
  });

  /** A started candidate on its own session (through `link` when given). */
  const candidate = async (path: string, id: string, link?: Proxy): Promise<Candidate> => {
    const client = await open(link?.connectString);
    const election = closeAfter(new LeaderElection(client, path, { id }));
    const log: string[] = [];
    election.on('elected', () => log.push(`elected${election.isLeader ? '' : ' (but isLeader false)'}`));
    election.on('revoked', (reason: RevokeReason) => log.push(`revoked:${reason}${election.isLeader ? ' (but isLeader true)' : ''}`));
    election.on('error', (err) => log.push(`error:${String(err)}`));
    await election.start();
    return { election, client, log };
  };

  /** Starts candidates one after another, so that their queue order is their index. */
  const candidates = async (path: string, count: number): Promise<Candidate[]> => {
    const all: Candidate[] = [];
    for (let i = 0; i < count; i++) all.push(await candidate(path, `c${i}`));
    return all;
  };

  /** The candidate nodes under path, in queue order, as the server has them. */
  const queueOnServer = async (observer: ZooKeeperClient, path: string): Promise<string[]> =>
    sortBySequence(await childrenOf(observer, path)).map((n) => `${path}/${n}`);

  /** Once every live candidate's session has caught up with the server, the notification counts are final. */
  const settle = (all: Candidate[]): Promise<void> => caughtUp(...all.map((c) => c.client));

  const notifications = (all: Candidate[]): number[] => all.map((c) => c.election.watchNotifications);

  /**
   * What each candidate heard since `before`, the departed one shown as null: a session closing
   * hears the deletion of its own watched node on its way out, which is no part of the herd.
   */
  const heardSince = (all: Candidate[], before: number[], departed: number): (number | null)[] =>
    notifications(all).map((n, i) => (i === departed ? null : n - before[i]));

  const root = async (observer: ZooKeeperClient, label: string): Promise<string> => {
    const path = `/le-${label}`;
    await freshNode(observer, path);
    return path;
  };

  test(`${name}: of five candidates exactly one leads, the lowest node, and all can see it`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'five')}/election`;
    const all = await candidates(path, 5);
    assert.equal(await all[0].election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    await settle(all);

    assert.deepEqual(all.map((c) => c.election.isLeader), [true, false, false, false, false]);
    const queue = await queueOnServer(observer, path);
    assert.equal(queue.length, 5);
    assert.equal(all[0].election.ourPath, queue[0], 'the leader holds the lowest node');
    assert.deepEqual(all.map((c) => c.election.ourPath), queue);

    assert.deepEqual(await all[3].election.getLeader(), { id: 'c0', path: queue[0], isLeader: true });
    assert.deepEqual(
      await all[2].election.getParticipants(),
      all.map((c, i) => ({ id: `c${i}`, path: c.election.ourPath, isLeader: i === 0 })),
    );
    assert.equal(await all[4].election.waitForLeadership({ timeoutMs: 50 }), false, 'a follower times out');
    assert.deepEqual(all.map((c) => c.log), [['elected'], [], [], [], []]);
  });

  test(`${name}: a departure wakes exactly one candidate (no herd), and gaps are closed`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'herd')}/election`;
    const all = await candidates(path, 10);
    assert.equal(await all[0].election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    await settle(all);
    let before = notifications(all);

    // The leader's session ends: only its successor hears of it, and leads.
    await all[0].client.close();
    assert.equal(await all[1].election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    await settle(all);
    assert.deepEqual(heardSince(all, before, 0), [null, 1, 0, 0, 0, 0, 0, 0, 0, 0], 'one notification, to the successor');
    assert.deepEqual(all[0].log, ['elected', 'revoked:lost']);
    assert.deepEqual(all[1].log, ['elected']);

    // A middle candidate goes: its successor alone hears it and watches the node before the gap.
    before = notifications(all);
    await all[5].client.close();
    await eventually(() => all[6].election.watchNotifications > before[6], 'c6 to be notified');
    await settle(all);
    assert.deepEqual(heardSince(all, before, 5), [0, 0, 0, 0, 0, null, 1, 0, 0, 0]);
    assert.equal(all[1].election.isLeader, true, 'the leader is unchanged');
    assert.equal((await all[9].election.getLeader())?.id, 'c1');
    assert.deepEqual((await all[9].election.getParticipants()).map((p) => p.id), ['c1', 'c2', 'c3', 'c4', 'c6', 'c7', 'c8', 'c9']);

    // c6 now watches c4 (across the gap): c4 going wakes c6 again, and nobody else.
    before = notifications(all);
    await all[4].client.close();
    await eventually(() => all[6].election.watchNotifications > before[6], 'c6 to be notified again');
    await settle(all);
    assert.deepEqual(heardSince(all, before, 4), [0, 0, 0, 0, null, 0, 1, 0, 0, 0]);
    assert.deepEqual(all.slice(1).map((c) => c.election.isLeader), [true, false, false, false, false, false, false, false, false]);
    assert.deepEqual(all.slice(2).map((c) => c.log), [[], [], [], [], [], [], [], []]);
  });

  test(`${name}: stepDown hands leadership to the next candidate and queues at the back`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'step-down')}/election`;
    const [a, b, c] = await candidates(path, 3);
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    const oldPath = a.election.ourPath;

    await c.election.stepDown();
    assert.deepEqual(await queueOnServer(observer, path), [a, b, c].map((x) => x.election.ourPath), 'a follower keeps its place');

    await a.election.stepDown();
    assert.equal(a.election.isLeader, false);
    assert.deepEqual(a.log, ['elected', 'revoked:stepped_down']);
    assert.notEqual(a.election.ourPath, oldPath);
    assert.equal(await observer.exists(oldPath!), null, 'the old node is gone');
    assert.equal(await b.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    assert.deepEqual((await observer.getChildren(path)).length, 3);
    assert.deepEqual((await c.election.getParticipants()).map((p) => p.id), ['c1', 'c2', 'c0']);
    assert.deepEqual(await queueOnServer(observer, path), [b, c, a].map((x) => x.election.ourPath));
    assert.deepEqual([a.log, b.log, c.log], [['elected', 'revoked:stepped_down'], ['elected'], []]);
  });

  test(`${name}: a leader whose node is deleted by someone else is revoked and queues again`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'deleted')}/election`;
    const [a, b] = await candidates(path, 2);
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    const oldPath = a.election.ourPath!;

    await observer.delete(oldPath);
    assert.equal(await b.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    await eventually(() => a.election.ourPath !== null && a.election.ourPath !== oldPath, 'a new node for c0');
    assert.deepEqual(a.log, ['elected', 'revoked:deleted']);
    assert.deepEqual(await queueOnServer(observer, path), [b.election.ourPath, a.election.ourPath]);
  });

  test(`${name}: a suspended leader stops leading at once and leads again on reconnection`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'suspend')}/election`;
    const link = await proxy();
    const a = await candidate(path, 'c0', link);
    const b = await candidate(path, 'c1');
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);

    await cutOff(a.client, link);
    assert.deepEqual(a.log, ['elected', 'revoked:suspended'], 'revoked first, with isLeader already false');
    assert.equal(a.election.isLeader, false);
    // Its session lives: its node still heads the queue, so nobody else leads.
    assert.deepEqual(await queueOnServer(observer, path), [a.election.ourPath, b.election.ourPath]);
    assert.equal(b.election.isLeader, false);

    link.refuse(false);
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    assert.deepEqual(a.log, ['elected', 'revoked:suspended', 'elected']);
    assert.deepEqual(b.log, []);
    assert.deepEqual(await queueOnServer(observer, path), [a.election.ourPath, b.election.ourPath], 'the same node');
  });

  test(`${name}: a leader whose session expires hears 'lost', and the next candidate leads`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'expiry')}/election`;
    const link = await proxy();
    const a = await candidate(path, 'c0', link);
    const b = await candidate(path, 'c1');
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);

    await expire(a.client, link);
    assert.deepEqual(a.log, ['elected', 'revoked:suspended']);
    assert.equal(await b.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);
    assert.deepEqual(await queueOnServer(observer, path), [b.election.ourPath]);

    link.refuse(false);
    await eventually(() => a.log.length > 2, 'the loss');
    assert.deepEqual(a.log, ['elected', 'revoked:suspended', 'revoked:lost']);
    assert.equal(a.election.ourPath, null);
    assert.equal(await a.election.waitForLeadership(), false, 'an ended election never leads');
    await a.election.close();
    assert.deepEqual(b.log, ['elected']);
  });

  test(`${name}: close() leaves no znode, also when it races start()`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'close')}/election`;
    const [a, b] = await candidates(path, 2);
    assert.equal(await a.election.waitForLeadership({ timeoutMs: WAIT_MS }), true);

    // A follower closing while it waits on its predecessor.
    await b.election.close();
    assert.deepEqual(await queueOnServer(observer, path), [a.election.ourPath]);
    assert.equal(b.election.ourPath, null);

    // The leader closing: revoked at once, node deleted by the time close() resolves.
    const closing = a.election.close();
    assert.equal(a.election.isLeader, false);
    await closing;
    assert.deepEqual(a.log, ['elected', 'revoked:closed']);
    assert.deepEqual(await queueOnServer(observer, path), []);

    // close() in the same tick as start(), after a turn, and while the create is on the wire.
    const zk = await open();
    for (const delay of [-1, 0, 1, 5]) {
      const racer = new LeaderElection(zk, path, { id: `racer-${delay}` });
      const started = racer.start();
      if (delay === 0) await Promise.resolve();
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const closed = racer.close();
      await Promise.all([started, closed]);
      assert.equal(racer.ourPath, null);
      assert.equal(racer.isLeader, false);
      assert.deepEqual(await queueOnServer(observer, path), [], `no node left (delay ${delay})`);
    }

    // Over a slow link the create is certainly in flight when close() is called.
    const slow = await proxy();
    const slowClient = await open(slow.connectString);
    slow.setDelayMs(40);
    const racer = new LeaderElection(slowClient, path, { id: 'slow' });
    const started = racer.start();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(racer.ourPath, null, 'the create has not been answered yet');
    await Promise.all([started, racer.close()]);
    assert.deepEqual(await queueOnServer(observer, path), [], 'no node left by the create in flight');

    const after = new LeaderElection(zk, path);
    await after.close();
    await assert.rejects(after.start(), /closed/, 'start() after close() is refused');
    assert.deepEqual(await queueOnServer(observer, path), []);
  });

  test(`${name}: LeaderLatch.await times out while another holds the latch, and succeeds once it is let go`, async () => {
    const observer = await open();
    const path = `${await root(observer, 'latch')}/latch`;
    const first = closeAfter(new LeaderLatch(await open(), path, { id: 'first' }));
    const second = closeAfter(new LeaderLatch(await open(), path, { id: 'second' }));
    const events: string[] = [];
    first.on('isLeader', () => events.push('first:isLeader'));
    first.on('notLeader', () => events.push('first:notLeader'));
    second.on('isLeader', () => events.push('second:isLeader'));

    await first.start();
    assert.equal(await first.await({ timeoutMs: WAIT_MS }), true);
    await second.start();
    const startedMs = Date.now();
    assert.equal(await second.await({ timeoutMs: 300 }), false);
    assert.ok(Date.now() - startedMs >= 290, 'it waited for the timeout');
    assert.equal(second.hasLeadership, false);
    assert.equal((await second.getLeader())?.id, 'first');

    const waiting = second.await({ timeoutMs: WAIT_MS });
    await first.close();
    assert.equal(await waiting, true);
    assert.equal(second.hasLeadership, true);
    assert.deepEqual(events, ['first:isLeader', 'first:notLeader', 'second:isLeader']);

    const aborted = new AbortController();
    const third = closeAfter(new LeaderLatch(await open(), path, { id: 'third' }));
    await third.start();
    const pending = third.await({ signal: aborted.signal });
    aborted.abort(new Error('gave up'));
    await assert.rejects(pending, /gave up/);
    await second.close();
    await third.close();
    assert.deepEqual(await queueOnServer(observer, path), []);
  });
});
