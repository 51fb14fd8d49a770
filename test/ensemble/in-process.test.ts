/**
 * Three members in one process over an in-memory network, each with a real client port, and our
 * client library with a multi-host connect string: writes through any member, reads and sync on
 * any member, the leader's loss, sessions that live on across members, expiry run by the leader.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { resolveConfig } from '../../src/server/config.ts';
import { realEnvironment } from '../../src/server/env/real.ts';
import { Member } from '../../src/server/quorum/member.ts';
import { MemoryNetwork } from '../../src/server/quorum/memory-transport.ts';
import { createRetried } from '../support/process-ensemble.ts';
import { RawClient } from '../support/raw-client.ts';
import { fourLetterWord } from '../support/zookeeper.ts';

const IDS = [1, 2, 3];

class Cluster {
  readonly network = new MemoryNetwork(realEnvironment.scheduler);
  readonly members = new Map<number, Member>();
  readonly ports = new Map<number, number>();
  /** How long each snapshot a member took of its own tree took (ms), by member. */
  readonly snapshotsTaken = new Map<number, number[]>();

  async start(): Promise<void> {
    for (const id of IDS) {
      const config = resolveConfig({ clientPort: 0, clientPortAddress: '127.0.0.1', tickTimeMs: 200, fourLetterWhitelist: ['*'] });
      // Snapshots often, so that a member left behind is caught up by one, sent in pieces.
      const m = new Member({ id, voters: IDS, config, transport: this.network.join(id), log: pino({ level: 'silent' }), onSnapshot: (ms) => this.snapshotsTaken.set(id, [...this.snapshotsTaken.get(id) ?? [], ms]), snapshotEvery: 20, snapshotChunkBytes: 512, serverLines: IDS.map((i) => `server.${i}=127.0.0.1:${2887 + i}:${3887 + i}:participant;0.0.0.0:0`) });
      this.members.set(id, m);
      this.ports.set(id, (await m.listen()).port);
    }
    await this.leader();
  }

  connectString(ids = IDS): string {
    return ids.map((id) => `127.0.0.1:${this.ports.get(id)}`).join(',');
  }

  /** The member leading (and prepping), once there is one. */
  async leader(): Promise<Member> {
    for (let i = 0; i < 500; i++) {
      const l = [...this.members.values()].find((m) => m.isLeader);
      if (l !== undefined) return l;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('no leader within 5 s');
  }

  async stop(id: number): Promise<void> {
    this.network.isolate(id, IDS);
    await this.members.get(id)!.close();
    this.members.delete(id);
  }

  async close(): Promise<void> {
    for (const m of this.members.values()) await m.close();
  }
}

describe('an ensemble of three in one process', () => {
  const cluster = new Cluster();
  const clients: ZooKeeperClient[] = [];
  const client = async (ids?: number[]): Promise<ZooKeeperClient> => {
    const c = await connect(cluster.connectString(ids), { sessionTimeoutMs: 4000 });
    clients.push(c);
    return c;
  };

  before(() => cluster.start());
  after(async () => {
    for (const c of clients) await c.close().catch(() => {});
    await cluster.close();
  });

  it('a write through a follower is applied on every member, with zxids of the leader\'s term', async () => {
    const leader = await cluster.leader();
    const follower = IDS.find((id) => id !== leader.id)!;
    const c = await client([follower]);
    await c.create('/a', Buffer.from('1'));
    await c.sync('/a');
    const { stat } = await c.getData('/a');
    assert.ok(stat.czxid >= 2 ** 32, `czxid ${stat.czxid} has the term in its high half`);
    for (const id of IDS) {
      const other = await client([id]);
      await other.sync('/');
      assert.equal((await other.getData('/a')).data?.toString(), '1', `member ${id}`);
    }
  });

  it('srvr and mntr say which member leads, and the leader counts its followers', async () => {
    const leader = await cluster.leader();
    for (const id of IDS) {
      const srvr = await fourLetterWord('127.0.0.1', cluster.ports.get(id)!, 'srvr');
      assert.match(srvr, new RegExp(`Mode: ${id === leader.id ? 'leader' : 'follower'}\n`), `member ${id}`);
    }
    const mntr = await fourLetterWord('127.0.0.1', cluster.ports.get(leader.id)!, 'mntr');
    assert.match(mntr, /zk_server_state\tleader\n/);
    assert.match(mntr, /zk_learners\t2\n/);
    assert.match(mntr, /zk_synced_followers\t2\n/);
  });

  it('/zookeeper/config lists the members, as ZooKeeper\'s members show them', async () => {
    const c = await client([2]);
    const { data } = await c.getData('/zookeeper/config');
    assert.equal(data?.toString(), [1, 2, 3].map((i) => `server.${i}=127.0.0.1:${2887 + i}:${3887 + i}:participant;0.0.0.0:0`).join('\n') + '\nversion=0');
  });

  it('sync then read sees a write made through another member', async () => {
    const [a, b] = [await client([1]), await client([2])];
    for (let i = 0; i < 20; i++) {
      await a.setData('/a', Buffer.from(`v${i}`));
      await b.sync('/a');
      assert.equal((await b.getData('/a')).data?.toString(), `v${i}`);
    }
  });

  it('errors come back from the leader\'s prep through the member that forwarded them', async () => {
    const leader = await cluster.leader();
    const c = await client([IDS.find((id) => id !== leader.id)!]);
    await assert.rejects(c.create('/a'), /NodeExists|NODEEXISTS/i);
    await assert.rejects(c.delete('/missing'), /NoNode|NONODE/i);
  });

  it('an ephemeral goes everywhere when its session closes', async () => {
    const c = await connect(cluster.connectString([3]), { sessionTimeoutMs: 4000 });
    await c.create('/eph', null, { mode: "ephemeral" });
    await c.close();
    const d = await client([1]);
    await d.sync('/');
    assert.equal(await d.exists('/eph'), null);
  });

  it('a member cut off while the others write and compact their logs is caught up by a snapshot', async () => {
    const leader = await cluster.leader();
    const behind = IDS.find((id) => id !== leader.id)!;
    cluster.network.isolate(behind, IDS);
    const c = await client(IDS.filter((id) => id !== behind));
    await c.create('/many');
    for (let i = 0; i < 60; i++) await c.create(`/many/n${i}`, Buffer.from(String(i)));
    assert.ok(leader.raft.log.snapshotIndex > 0, 'the leader compacted its log');
    const took = cluster.snapshotsTaken.get(leader.id) ?? [];
    assert.ok(took.length > 0 && took.every((ms) => ms >= 0), `the leader told of its snapshots with their durations: ${took}`);
    cluster.network.heal();
    const d = await client([behind]);
    await d.sync('/many');
    assert.equal((await d.getChildren('/many')).length, 60);
    assert.equal((await d.getData('/many/n59')).data?.toString(), '59');
    assert.ok(cluster.members.get(behind)!.raft.log.snapshotIndex > 0, 'it installed a snapshot');
  });

  it('a write held behind a sync is dropped with its connection, even if the sync completes later', async () => {
    const leader = await cluster.leader();
    const follower = IDS.find((id) => id !== leader.id)!;
    const raw = await RawClient.connect('127.0.0.1', cluster.ports.get(follower)!, { timeoutMs: 10_000 });
    // The follower's read index request goes nowhere: the sync is held, and the create behind it.
    cluster.network.cutLink(follower, leader.id, true);
    void raw.trySync('/').catch(() => {});
    void raw.tryCreate('/held').catch(() => {});
    await new Promise((r) => setTimeout(r, 100));
    raw.destroy();
    // Cut off and back, the follower asks its read index again once it follows a leader: the sync
    // completes on a connection that is gone, and the write behind it must not go.
    cluster.network.isolate(follower, IDS);
    await new Promise((r) => setTimeout(r, 600));
    cluster.network.heal();
    const c = await client([follower]);
    await c.sync('/');
    await new Promise((r) => setTimeout(r, 300));
    await c.sync('/');
    assert.equal(await c.exists('/held'), null, 'the held create never took effect');
  });

  it('the leader lost: another is elected, and a client moves to a surviving member with its session', async () => {
    const leader = await cluster.leader();
    const survivors = IDS.filter((id) => id !== leader.id);
    const c = await client(IDS);
    await c.create('/before', Buffer.from('x'));
    const session = c.sessionId;
    await cluster.stop(leader.id);
    const next = await cluster.leader();
    assert.ok(survivors.includes(next.id));
    // A request sent while the client is still on the member that went is lost with it (CONNECTIONLOSS), as with ZooKeeper.
    await createRetried(c, '/after');
    assert.equal(c.sessionId, session, 'the same session');
    const d = await client(survivors);
    await d.sync('/');
    assert.ok(await d.exists('/before'));
    assert.ok(await d.exists('/after'));
  });

  it('a member gone is no longer counted among the leader\'s followers', async () => {
    const leader = await cluster.leader();
    const port = cluster.ports.get(leader.id)!;
    let mntr = '';
    for (let i = 0; i < 100 && !/zk_learners\t1\n/.test(mntr); i++) {
      await new Promise((r) => setTimeout(r, 50));
      mntr = await fourLetterWord('127.0.0.1', port, 'mntr');
    }
    assert.match(mntr, /zk_learners\t1\n/);
    assert.match(mntr, /zk_synced_followers\t1\n/);
  });
});
