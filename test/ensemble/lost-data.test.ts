/**
 * Members that lost their data, each a real member (files in a data dir, TCP between members) in
 * this process: a new ensemble elects only once every member has been found empty (with
 * --new-ensemble, a majority after initLimit ticks, unless a member holds data); a wiped member
 * and one whose log or snapshot is damaged rejoin recovering (no vote, no campaign) and are brought
 * up to date by the leader; damaged files are set aside, never deleted, and never spread.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { connect, type ZooKeeperClient } from '../../src/client/index.ts';
import { parseZooCfg } from '../../src/server/config.ts';
import { startMember } from '../../src/server/quorum/start-member.ts';
import { freePorts } from '../support/ports.ts';

const IDS = [1, 2, 3];
type Started = Awaited<ReturnType<typeof startMember>>;

class FileEnsemble {
  readonly root = mkdtempSync(join(tmpdir(), 'ensemble-lost-data-'));
  readonly running = new Map<number, Started>();
  private cfg = '';
  readonly clientPorts = new Map<number, number>();

  async prepare(): Promise<void> {
    const lines: string[] = [];
    const ports = await freePorts(3 * IDS.length);
    for (const id of IDS) {
      const [quorum, election, client] = ports.slice(3 * (id - 1), 3 * id);
      this.clientPorts.set(id, client);
      lines.push(`server.${id}=127.0.0.1:${quorum}:${election};127.0.0.1:${client}`);
      mkdirSync(this.dataDir(id), { recursive: true });
      writeFileSync(join(this.dataDir(id), 'myid'), `${id}\n`);
    }
    this.cfg = ['tickTime=200', 'initLimit=10', 'syncLimit=5', 'snapCount=40', '4lw.commands.whitelist=*', ...lines].join('\n');
  }

  dataDir(id: number): string {
    return join(this.root, `m${id}`);
  }

  memberDir(id: number): string {
    return join(this.dataDir(id), 'member');
  }

  async start(id: number, newEnsemble = false): Promise<Started> {
    const { config } = parseZooCfg(`${this.cfg}\ndataDir=${this.dataDir(id)}\n`);
    const m = await startMember(config, { log: pino({ level: process.env.LOST_LOG ?? 'silent', base: { id } }), newEnsemble });
    this.running.set(id, m);
    return m;
  }

  async stop(id: number): Promise<void> {
    await this.running.get(id)?.close();
    this.running.delete(id);
  }

  leader(): Started | undefined {
    return [...this.running.values()].find((m) => m.member.isLeader);
  }

  connectString(ids = IDS): string {
    return ids.map((id) => `127.0.0.1:${this.clientPorts.get(id)}`).join(',');
  }

  async close(): Promise<void> {
    for (const id of [...this.running.keys()]) await this.stop(id);
    rmSync(this.root, { recursive: true, force: true });
  }
}

async function until(what: string, ok: () => boolean | Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('members that lost their data', () => {
  const e = new FileEnsemble();
  let client: ZooKeeperClient;
  const written: string[] = [];

  const write = async (n: number): Promise<void> => {
    for (let i = 0; i < n; i++) written.push(await client.create('/w/n-', Buffer.alloc(100, 1), { mode: 'persistent_sequential' }));
  };

  /** Every member applied the same writes: the leader's tree, read on each member after a sync. */
  const sameEverywhere = async (): Promise<void> => {
    for (const id of e.running.keys()) {
      const c = await connect(e.connectString([id]), { sessionTimeoutMs: 4000 });
      try {
        await c.sync('/w');
        const children = (await c.getChildren('/w')).map((n) => `/w/${n}`).sort();
        assert.deepEqual(children, [...written].sort(), `member ${id} holds every acknowledged write`);
      } finally {
        await c.close();
      }
    }
  };

  before(async () => {
    await e.prepare();
  });
  after(async () => {
    await client?.close().catch(() => {});
    await e.close();
  });

  it('a new ensemble elects its first leader only once every member is found to have no data', async () => {
    await e.start(1);
    await e.start(2);
    // Two of three make a quorum, but either could be a member wiped after voting: they wait.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(e.leader(), undefined, 'no leader while member 3 has not answered');
    for (const id of [1, 2]) assert.equal(e.running.get(id)!.member.raft.recovering, true);
    await e.start(3);
    await until('a leader is elected', () => e.leader() !== undefined);
    client = await connect(e.connectString(), { sessionTimeoutMs: 4000 });
    await client.create('/w', null);
    await write(30);
    await until('every member is out of recovery', () => IDS.every((id) => !e.running.get(id)!.member.raft.recovering && !existsSync(join(e.memberDir(id), 'recovering'))));
  });

  it('a member whose data dir was wiped rejoins without a vote until the leader has brought it up to date', async () => {
    const follower = IDS.find((id) => !e.running.get(id)!.member.isLeader)!;
    await e.stop(follower);
    await write(60);
    for (const f of readdirSync(e.memberDir(follower))) rmSync(join(e.memberDir(follower), f), { recursive: true });
    const m = await e.start(follower);
    assert.equal(m.member.raft.recovering, true, 'it starts recovering');
    await until('it is brought up to date', () => !m.member.raft.recovering && !existsSync(join(e.memberDir(follower), 'recovering')));
    await write(10);
    await sameEverywhere();
  });

  /** Flips a byte a third of the way into what a file holds (past that, a preallocated log is zeros), as a failing disk would. */
  const damage = (path: string): void => {
    const buf = readFileSync(path);
    let end = buf.length;
    while (end > 0 && buf[end - 1] === 0) end--;
    buf[Math.floor(end / 3)] ^= 0xff;
    writeFileSync(path, buf);
  };

  for (const what of ['log', 'snapshot'] as const) {
    it(`a member whose ${what} is damaged sets its data aside and is repaired from the leader`, async () => {
      const follower = IDS.find((id) => !e.running.get(id)!.member.isLeader)!;
      await write(50);
      await e.stop(follower);
      const dir = e.memberDir(follower);
      // Its newest log segment or snapshot: the one a restart reads.
      const files = readdirSync(dir).filter((f) => /^(raft-log|snapshot)\.[0-9a-f]+$/.test(f) && f.startsWith(what === 'log' ? 'raft-log.' : 'snapshot.'));
      const newest = files.sort((a, b) => parseInt(a.split('.')[1], 16) - parseInt(b.split('.')[1], 16)).at(-1);
      assert.ok(newest !== undefined, `member ${follower} has a ${what} file (${readdirSync(dir).join(', ')})`);
      damage(join(dir, newest));
      const m = await e.start(follower);
      assert.equal(m.member.raft.recovering, true, 'it starts recovering');
      const aside = readdirSync(dir).filter((f) => f.startsWith('damaged-'));
      assert.ok(aside.length > 0, 'the damaged data is kept, aside');
      await until('it is brought up to date', () => !m.member.raft.recovering);
      await write(10);
      await sameEverywhere();
      // Nothing of the damage spread: the others' files load as they were.
      for (const id of IDS.filter((i) => i !== follower)) assert.deepEqual(readdirSync(e.memberDir(id)).filter((f) => f.startsWith('damaged-')), []);
    });
  }

  it('a member whose newest records are damaged (cut as a torn write) but known committed recovers', async () => {
    const follower = IDS.find((id) => !e.running.get(id)!.member.isLeader)!;
    await write(30);
    // The commit index is saved once a second: long enough that the follower's covers these writes.
    await new Promise((r) => setTimeout(r, 1_500));
    await e.stop(follower);
    const dir = e.memberDir(follower);
    const newest = readdirSync(dir).filter((f) => /^raft-log\.[0-9a-f]+$/.test(f)).sort((a, b) => parseInt(a.split('.')[1], 16) - parseInt(b.split('.')[1], 16)).at(-1)!;
    // A byte near the end of what the newest segment holds: nothing intact after it, so it reads as a torn write.
    const buf = readFileSync(join(dir, newest));
    let end = buf.length;
    while (end > 0 && buf[end - 1] === 0) end--;
    buf[end - 8] ^= 0xff;
    writeFileSync(join(dir, newest), buf);
    const m = await e.start(follower);
    assert.equal(m.member.raft.recovering, true, 'entries it knew committed are gone: it recovers');
    await until('it is brought up to date', () => !m.member.raft.recovering);
    await write(10);
    await sameEverywhere();
  });
});

describe('a new ensemble started with --new-ensemble', () => {
  const e = new FileEnsemble();

  before(async () => {
    await e.prepare();
  });
  after(async () => {
    await e.close();
  });

  it('begins with a majority once initLimit ticks have passed, and the last member joins it when it starts', async () => {
    await e.start(1, true);
    await e.start(2, true);
    // initLimit=10 ticks of 200 ms: no leader before 2 s of ticks (a slow machine only slows the ticks).
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(e.leader(), undefined, 'no leader while the others may still answer');
    await until('a leader is elected without member 3', () => e.leader() !== undefined);
    const client = await connect(e.connectString([1, 2]), { sessionTimeoutMs: 4000 });
    try {
      await client.create('/w', null);
      for (let i = 0; i < 20; i++) await client.create('/w/n-', Buffer.alloc(10, i), { mode: 'persistent_sequential' });
      const written = (await client.getChildren('/w')).sort();
      const late = await e.start(3, true);
      // It finds members with data: it recovers from them, as any member with no data does.
      assert.equal(late.member.raft.recovering, true);
      await until('member 3 is brought up to date', () => !late.member.raft.recovering);
      const c3 = await connect(e.connectString([3]), { sessionTimeoutMs: 4000 });
      try {
        await c3.sync('/w');
        assert.deepEqual((await c3.getChildren('/w')).sort(), written);
      } finally {
        await c3.close();
      }
    } finally {
      await client.close();
    }
  });

  it('does not begin without a member that answers it holds data', async () => {
    // Members 1 and 2 lose their data while 3 keeps it: with the flag still given, they must not
    // begin anew. Member 3's answer says it holds data, and gives its term, which they take: they
    // are not new, and wait for a leader to bring them up to date (two of three wiped at once).
    for (const id of [1, 2]) {
      await e.stop(id);
      rmSync(e.memberDir(id), { recursive: true, force: true });
    }
    await e.start(1, true);
    await e.start(2, true);
    // Past initLimit (2 s of ticks) with room to spare.
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(e.leader(), undefined, 'no leader: two members without data cannot vouch for what member 3 holds');
    for (const id of [1, 2]) assert.equal(e.running.get(id)!.member.raft.recovering, true, `member ${id} is still recovering`);
  });
});
