/**
 * `ensemble cluster`: members started as child processes, the connect string printed, one leader,
 * all of them stopped by SIGTERM (exit 0); a member killed restarted on its data, one that dies at
 * once stopping them all (exit 1, naming it); even sizes refused.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect as connectSocket, createServer } from 'node:net';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { connect } from '../../src/client/index.ts';
import { fourLetterWord } from '../support/zookeeper.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const TEST_TIMEOUT_MS = 120_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((done) => {
    const srv = createServer();
    srv.once('error', () => done(false));
    srv.listen({ port, host: '127.0.0.1', exclusive: true }, () => srv.close(() => done(true)));
  });
}

/** A base port whose client, quorum and election ports (base+k, base+10+k, base+20+k) are all free. */
async function freeBase(size: number): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    const ports = [0, 10, 20].flatMap((offset) => Array.from({ length: size }, (_, k) => base + offset + k));
    let free = true;
    for (const p of ports) if (!(free = await canListen(p))) break;
    if (free) return base;
  }
  throw new Error('no block of free ports found');
}

function refused(port: number): Promise<boolean> {
  return new Promise((done) => {
    const s = connectSocket(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      done(false);
    });
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED'));
  });
}

class Cluster {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'cluster', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (d) => (this.stdout += d));
    this.child.stderr!.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((done) => this.child.once('close', (code) => done(code)));
  }

  async waitFor(pattern: RegExp, timeoutMs = 60_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = pattern.exec(this.stdout);
      if (m !== null) return m;
      if (this.child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${pattern} in:\n${this.stdout}\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The PID of each member, from the lines the command starts with. */
  pids(): Map<number, number> {
    return new Map([...this.stdout.matchAll(/^ {2}member (\d+): pid (\d+),/gm)].map((m) => [Number(m[1]), Number(m[2])]));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function modes(ports: number[]): Promise<string[]> {
  return Promise.all(ports.map(async (p) => {
    try {
      return /Mode: (\w+)/.exec(await fourLetterWord('127.0.0.1', p, 'srvr', 2000))?.[1] ?? '?';
    } catch {
      return '?';
    }
  }));
}

describe('ensemble cluster', () => {
  test('three members: the connect string works, one leads, SIGTERM stops them all and exits 0', { timeout: TEST_TIMEOUT_MS }, async () => {
    const base = await freeBase(3);
    const cluster = new Cluster(['--size', '3', '--base-port', String(base), '--tick-time', '200']);
    try {
      const connectString = (await cluster.waitFor(/^connect string: (\S+)$/m))[1];
      const ports = [base, base + 1, base + 2];
      assert.equal(connectString, ports.map((p) => `127.0.0.1:${p}`).join(','));
      const dir = /in (\S+) \(removed at exit\)$/m.exec(cluster.stdout)![1];
      for (const id of [1, 2, 3]) assert.ok(existsSync(`${dir}/${id}/zoo.cfg`) && existsSync(`${dir}/${id}/myid`), `member ${id}'s zoo.cfg and myid`);

      const zk = await connect(connectString, { sessionTimeoutMs: 6000, connectTimeoutMs: 30_000 });
      try {
        await zk.create('/from-cluster', Buffer.from('hi'));
        assert.equal((await zk.getData('/from-cluster')).data?.toString(), 'hi');
      } finally {
        await zk.close();
      }
      let seen: string[] = [];
      for (let i = 0; i < 100; i++) {
        seen = (await modes(ports)).sort();
        if (seen.join() === 'follower,follower,leader') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(seen, ['follower', 'follower', 'leader']);
      assert.match(cluster.stdout, /^\[\d\] .* INFO leading term=\d+$/m, 'members\' log lines carry their id');

      const pids = [...cluster.pids().values()];
      assert.equal(pids.length, 3);
      cluster.child.kill('SIGTERM');
      assert.equal(await cluster.exited, 0, cluster.stderr);
      for (const pid of pids) assert.equal(alive(pid), false, `member pid ${pid} is gone`);
      for (const p of ports) assert.equal(await refused(p), true, `port ${p} refuses connections`);
      assert.equal(existsSync(dir), false, 'the temporary data dir is removed');
    } finally {
      for (const pid of cluster.pids().values()) if (alive(pid)) process.kill(pid, 'SIGKILL');
      cluster.child.kill('SIGKILL');
    }
  });

  test('a member killed is named and restarted on its data while the others serve; one that dies again at once stops them all, exit 1', { timeout: TEST_TIMEOUT_MS }, async () => {
    const base = await freeBase(3);
    const ports = [base, base + 1, base + 2];
    const cluster = new Cluster(['--size', '3', '--base-port', String(base), '--tick-time', '200']);
    try {
      await cluster.waitFor(/^connect string: (\S+)/m);
      let leader = -1;
      for (let i = 0; i < 200 && leader < 0; i++) {
        leader = (await modes(ports)).indexOf('leader');
        if (leader < 0) await new Promise((r) => setTimeout(r, 100));
      }
      const id = leader + 1;
      const c = await connect(ports.map((p) => `127.0.0.1:${p}`).join(','), { sessionTimeoutMs: 10_000 });
      await c.create('/kept', Buffer.from('before'));
      await c.close();
      // Killed once it has run long enough to be worth restarting.
      await new Promise((r) => setTimeout(r, 2_500));
      const pid = cluster.pids().get(id)!;
      process.kill(pid, 'SIGKILL');
      await cluster.waitFor(new RegExp(`^ {2}member ${id}: pid (\\d+), restarted on its data$`, 'm'));
      assert.match(cluster.stderr, new RegExp(`^ensemble cluster: member ${id} \\(pid ${pid}\\) was killed by SIGKILL; its last lines:\\n\\[${id}\\] `, 'm'));
      assert.equal(cluster.child.exitCode, null, 'the command goes on');
      // The others elected a leader meanwhile; the restarted member serves the data again.
      const back = await connect(`127.0.0.1:${ports[leader]}`, { sessionTimeoutMs: 10_000, connectTimeoutMs: 30_000 });
      assert.equal((await back.getData('/kept')).data?.toString(), 'before');
      await back.close();
      // Killed again, it is restarted again; killed at once after that, it is taken for a member
      // that cannot run, and the command stops everything.
      const again = cluster.pids().get(id)!;
      assert.notEqual(again, pid);
      await new Promise((r) => setTimeout(r, 2_500));
      process.kill(again, 'SIGKILL');
      await cluster.waitFor(new RegExp(`^ {2}member ${id}: pid (?!${again},)(\\d+), restarted on its data$`, 'm'));
      process.kill(cluster.pids().get(id)!, 'SIGKILL');
      assert.equal(await cluster.exited, 1);
      assert.match(cluster.stderr, new RegExp(`member ${id} died within 2 s of starting: stopping the others`));
      for (const p of cluster.pids().values()) assert.equal(alive(p), false, `member pid ${p} is gone`);
    } finally {
      for (const pid of cluster.pids().values()) if (alive(pid)) process.kill(pid, 'SIGKILL');
      cluster.child.kill('SIGKILL');
    }
  });

  for (const [size, why] of [['4', /--size must be odd, got 4: a quorum is a majority, so 4 members tolerate 1 failure, no more than 3 do/], ['11', /--size must be from 1 to 9, got 11/]] as const) {
    test(`--size ${size} is refused with the reason, exit 2`, { timeout: TEST_TIMEOUT_MS }, async () => {
      const cluster = new Cluster(['--size', size]);
      assert.equal(await cluster.exited, 2);
      assert.match(cluster.stderr, why);
      assert.equal(cluster.stdout, '');
    });
  }
});
