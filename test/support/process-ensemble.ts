/**
 * An ensemble of real `ensemble server` processes on loopback, each started from its own zoo.cfg
 * (server lines, myid in its data dir) as Apache ZooKeeper's members would be; or, with
 * `server: 'zookeeper'`, of Apache ZooKeeper 3.8 members (QuorumPeerMain) from the same zoo.cfg.
 * Members are started, killed and restarted by id; their output is kept for failure messages.
 *
 *   const e = new ProcessEnsemble({ size: 3 });
 *   await e.configure();
 *   for (const id of e.ids) e.start(id);
 *   const leader = await e.leader();
 *   ...
 *   await e.close();
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect as netConnect, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, ConnectionLossError, NodeExistsError, SessionMovedError, type ZooKeeperClient } from '../../src/client/index.ts';
import { CreateFlag, Err, KeeperError } from '../../src/protocol/constants.ts';
import { freePorts } from './ports.ts';
import { RawClient } from './raw-client.ts';
import { eventually } from './recipes.ts';
import type { RunningServer, ServerName, ServerOptions } from './servers.ts';
import { JAVA, fourLetterWord, killOnExit, zooKeeperArgs } from './zookeeper.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const OUTPUT_LIMIT = 1024 * 1024;

export interface ProcessEnsembleOptions extends Pick<ServerOptions, 'extendedTypesEnabled' | 'superDigest' | 'containerCheckIntervalMs'> {
  /** Whose members: Ensemble's (the default) or Apache ZooKeeper's. */
  server?: ServerName;
  /** How many members (default 3). */
  size?: 3 | 5;
  /** zoo.cfg's tickTime (default 200 ms, for quick tests: a member without a leader stands after one or two ticks). */
  tickTimeMs?: number;
  initLimit?: number;
  syncLimit?: number;
  /** zoo.cfg's maxSessionTimeout (default, as ZooKeeper's, 20 tickTimes). */
  maxSessionTimeoutMs?: number;
  /**
   * Each member on its own loopback address, 127.0.0.(10 + id), for its quorum and client ports
   * (its links to the others leave from it too), rather than all on 127.0.0.1: what partitions by
   * address need.
   */
  ownAddresses?: boolean;
  /** Each member's admin HTTP server (ZooKeeper's AdminServer) on a free loopback port. */
  admin?: boolean;
}

export interface ProcessMember {
  id: number;
  /** The address of its quorum and client ports. */
  host: string;
  clientPort: number;
  quorumPort: number;
  electionPort: number;
  /** Its admin HTTP server's port, with the `admin` option. */
  adminPort?: number;
  /** Its dataDir (myid, and its log and snapshots under member/). */
  dataDir: string;
  /** The path of its zoo.cfg. */
  config: string;
  /** The running process, if it has been started. */
  child: ChildProcess | null;
  /** What it has printed (stdout and stderr) since it was last started. */
  output: string;
}

export class ProcessEnsemble {
  readonly dir = mkdtempSync(join(tmpdir(), 'ensemble-procs-'));
  readonly ids: readonly number[];
  readonly procs = new Map<number, ProcessMember>();
  private readonly options: ProcessEnsembleOptions;

  constructor(options: ProcessEnsembleOptions = {}) {
    this.ids = Array.from({ length: options.size ?? 3 }, (_, i) => i + 1);
    this.options = options;
  }

  /** Picks free ports and writes every member's zoo.cfg and myid. */
  async configure(): Promise<void> {
    const ports = new Map<number, number[]>();
    const perMember = this.options.admin === true ? 4 : 3;
    const all = await freePorts(perMember * this.ids.length);
    for (const [k, id] of this.ids.entries()) ports.set(id, all.slice(perMember * k, perMember * (k + 1)));
    const host = (id: number): string => (this.options.ownAddresses === true ? `127.0.0.${10 + id}` : '127.0.0.1');
    const servers = this.ids.map((id) => {
      const [quorum, election, client] = ports.get(id)!;
      return `server.${id}=${host(id)}:${quorum}:${election};${host(id)}:${client}`;
    }).join('\n');
    const { tickTimeMs = 200, initLimit = 10, syncLimit = 5, maxSessionTimeoutMs, extendedTypesEnabled, superDigest, containerCheckIntervalMs } = this.options;
    const max = maxSessionTimeoutMs === undefined ? '' : `maxSessionTimeout=${maxSessionTimeoutMs}\n`;
    // For ZooKeeper these are system properties, on its command line (zooKeeperArgs).
    const ensembleOnly = this.options.server === 'zookeeper' ? '' : [
      extendedTypesEnabled === true ? 'extendedTypesEnabled=true\n' : '',
      superDigest === undefined ? '' : `DigestAuthenticationProvider.superDigest=${superDigest}\n`,
      containerCheckIntervalMs === undefined ? '' : `znode.container.checkIntervalMs=${containerCheckIntervalMs}\n`,
    ].join('');
    for (const id of this.ids) {
      const dataDir = join(this.dir, `m${id}`);
      mkdirSync(dataDir);
      writeFileSync(join(dataDir, 'myid'), `${id}\n`);
      const config = join(this.dir, `zoo${id}.cfg`);
      // (maxClientCnxns: all test clients come from one address; ZooKeeper allows 60 by default)
      const [quorumPort, electionPort, clientPort, adminPort] = ports.get(id)!;
      const admin = adminPort === undefined ? '' : `admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=${adminPort}\n`;
      writeFileSync(config, `tickTime=${tickTimeMs}\ninitLimit=${initLimit}\nsyncLimit=${syncLimit}\n${max}dataDir=${dataDir}\n`
        + `4lw.commands.whitelist=*\nmaxClientCnxns=0\n${admin}${ensembleOnly}${servers}\n`);
      this.procs.set(id, { id, host: host(id), clientPort, quorumPort, electionPort, adminPort, dataDir, config, child: null, output: '' });
    }
  }

  /** Starts a member (again, from its data dir, if it ran before). */
  start(id: number): void {
    const p = this.member(id);
    const child = this.options.server === 'zookeeper'
      ? spawn(JAVA, zooKeeperArgs({ ...this.options, adminServerPort: p.adminPort }, p.dataDir, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', p.config), { cwd: p.dataDir, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--config', p.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(child);
    p.output = '';
    const collect = (d: Buffer): void => {
      p.output = (p.output + d.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    p.child = child;
  }

  /** Signals a member by its PID and waits for it to exit (a stopped member is continued first). */
  kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.member(id).child;
    if (child === null || !this.isRunning(id)) return Promise.resolve();
    return new Promise((done) => {
      // A member that does not stop within 20 s of a gentler signal is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      child.once('exit', () => {
        clearTimeout(timer);
        done();
      });
      child.kill(signal);
      if (signal !== 'SIGKILL') child.kill('SIGCONT');
    });
  }

  /** SIGSTOP: the member's process is frozen (its sockets stay open) until resume(). */
  pause(id: number): void {
    this.member(id).child?.kill('SIGSTOP');
  }

  resume(id: number): void {
    this.member(id).child?.kill('SIGCONT');
  }

  /** Whether its process has been started and has not exited. */
  isRunning(id: number): boolean {
    const child = this.member(id).child;
    return child !== null && child.exitCode === null && child.signalCode === null;
  }

  /** The members whose processes are running (stopped ones included). */
  running(): number[] {
    return this.ids.filter((id) => this.isRunning(id));
  }

  /** Empties a stopped member's data dir but for its myid, as a replaced disk would leave it. */
  wipe(id: number): void {
    const { dataDir } = this.member(id);
    for (const name of readdirSync(dataDir)) if (name !== 'myid') rmSync(join(dataDir, name), { recursive: true, force: true });
  }

  /** `host:port` of the given members (all by default), comma-separated. */
  connectString(ids = this.ids): string {
    return ids.map((id) => `${this.member(id).host}:${this.member(id).clientPort}`).join(',');
  }

  /** The Mode its srvr reports, or null when it does not answer. */
  async mode(id: number): Promise<string | null> {
    return /Mode: (\w+)/.exec(await this.srvr(id))?.[1] ?? null;
  }

  /** The Zxid its srvr reports, or null when it does not answer. */
  async zxid(id: number): Promise<string | null> {
    return /Zxid: (0x[0-9a-f]+)/.exec(await this.srvr(id))?.[1] ?? null;
  }

  /** The member that says it leads, once the given ones all answer and one of them leads. */
  async leader(among = this.ids): Promise<number> {
    for (let i = 0; i < 600; i++) {
      const modes = await Promise.all(among.map((id) => this.mode(id)));
      const l = among.find((_, k) => modes[k] === 'leader');
      if (l !== undefined && modes.every((m) => m !== null)) return l;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no leader among ${among.join(',')}:\n${among.map((id) => `--- ${id}\n${this.member(id).output.slice(-2000)}`).join('\n')}`);
  }

  /**
   * The zxid the given members (the running ones by default) all report, once they agree; a
   * session expiring meanwhile moves it on, so they are asked again until they do.
   */
  async converged(among = this.running(), timeoutMs = 60_000): Promise<string> {
    let zxids: Array<string | null> = [];
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
      zxids = await Promise.all(among.map((id) => this.zxid(id)));
      if (zxids[0] !== null && zxids.every((z) => z === zxids[0])) return zxids[0];
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`members ${among.join(',')} never agreed on a zxid: ${JSON.stringify(zxids)}`);
  }

  /** Stops every member with SIGTERM, waiting for each, and removes the data dirs. */
  async close(): Promise<void> {
    for (const id of this.ids) await this.kill(id, 'SIGTERM');
    rmSync(this.dir, { recursive: true, force: true });
  }

  member(id: number): ProcessMember {
    const p = this.procs.get(id);
    if (p === undefined) throw new Error(`no member ${id} (configure() first?)`);
    return p;
  }

  private async srvr(id: number): Promise<string> {
    try {
      return await fourLetterWord(this.member(id).host, this.member(id).clientPort, 'srvr', 2000);
    } catch {
      return '';
    }
  }
}

/**
 * Starts three members of the named server (tickTime 2000 unless given) and waits for a leader. As
 * a RunningServer, its connect string names every member, host and port are the first member's, and
 * `members` lists them all; it is not restarted as a whole.
 */
export async function startProcessEnsemble(name: ServerName, opts: ServerOptions = {}): Promise<RunningServer> {
  const e = new ProcessEnsemble({ server: name, tickTimeMs: opts.tickTimeMs ?? 2000, extendedTypesEnabled: opts.extendedTypesEnabled, superDigest: opts.superDigest, containerCheckIntervalMs: opts.containerCheckIntervalMs });
  await e.configure();
  for (const id of e.ids) e.start(id);
  try {
    await e.leader();
    // Every member serving: one that does not know the leader yet closes new connections.
    for (const id of e.ids) while ((await e.mode(id)) === null) await new Promise((r) => setTimeout(r, 50));
  } catch (err) {
    await e.close();
    throw err;
  }
  const first = e.member(e.ids[0]);
  return {
    name,
    host: first.host,
    port: first.clientPort,
    connectString: e.connectString(),
    members: e.ids.map((id) => {
      const { clientPort, quorumPort, electionPort } = e.member(id);
      return { id, clientPort, quorumPort, electionPort };
    }),
    stop: () => e.close(),
    restart: () => Promise.reject(new Error('an ensemble is not restarted as a whole: restart its members')),
  };
}

/** Test clients stay quiet: reconnecting under faults is what they are there for. */
export const quietLogger = { debug() {}, info() {}, warn() {}, error() {} };

export interface LoadSession {
  client: ZooKeeperClient;
  /** Its session id when it started: the same session must live through every fault. */
  sessionId: bigint;
  /** The ephemeral znode it owns. */
  ephemeral: string;
  /** The parent its writes go under. */
  parent: string;
  /** Writes it has made (each ordinary znode's name is its number). */
  writes: number;
}

/**
 * Sessions writing through a multi-host connect string: each owns an ephemeral and creates, in turn,
 * sequential and ordinary znodes under its own parent, recording every write acknowledged. A write
 * that fails with a lost connection may or may not have happened, and is not counted; any other
 * failure is kept in `unexpected` (or `sessionMoved`).
 *
 *   const load = await WriteLoad.start(e.connectString());
 *   ...a fault...
 *   await load.waitForMore(20);
 *   await load.pause();
 *   await assertMembersHold(e, load);
 *   load.resume();
 */
export class WriteLoad {
  readonly acked: string[] = [];
  readonly unexpected: string[] = [];
  /**
   * Writes answered SESSIONMOVED, kept apart: a member should close the connection rather than
   * answer so (ZooKeeper's FinalRequestProcessor does), and the client would then find its session
   * on another member.
   */
  readonly sessionMoved: string[] = [];
  readonly sessions: LoadSession[] = [];
  private loops: Array<Promise<void>> = [];
  private running = false;

  private constructor(readonly root: string) {}

  static async start(connectString: string, options: { sessions?: number; sessionTimeoutMs?: number; root?: string } = {}): Promise<WriteLoad> {
    const load = new WriteLoad(options.root ?? '/load');
    const first = await loadClient(connectString, options.sessionTimeoutMs);
    await createRetried(first, load.root);
    for (let i = 0; i < (options.sessions ?? 3); i++) {
      const client = i === 0 ? first : await loadClient(connectString, options.sessionTimeoutMs);
      const parent = await createRetried(client, `${load.root}/w-${client.sessionId.toString(16)}`);
      const ephemeral = await createRetried(client, `${load.root}/owner-${client.sessionId.toString(16)}`, 'ephemeral');
      load.sessions.push({ client, sessionId: client.sessionId, ephemeral, parent, writes: 0 });
    }
    load.resume();
    return load;
  }

  resume(): void {
    if (this.running) return;
    this.running = true;
    this.loops = this.sessions.map((s) => this.write(s));
  }

  /** Stops writing once the writes in flight are answered. */
  async pause(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  /** Resolves once `count` more writes have been acknowledged (the load must be running). */
  async waitForMore(count: number, timeoutMs = 60_000): Promise<void> {
    const target = this.acked.length + count;
    await eventually(() => this.acked.length >= target, () => `${count} more acknowledged writes (${this.acked.length} of ${target}; unexpected failures: ${this.unexpected.join('; ')})`, timeoutMs);
  }

  async close(): Promise<void> {
    await this.pause();
    for (const s of this.sessions) await s.client.close();
  }

  private async write(s: LoadSession): Promise<void> {
    while (this.running) {
      const k = s.writes++;
      try {
        const path = k % 2 === 0
          ? await s.client.create(`${s.parent}/s-`, null, { mode: 'persistent_sequential' })
          : await s.client.create(`${s.parent}/n-${k}`);
        this.acked.push(path);
        await sleep(5);
      } catch (err) {
        if (err instanceof SessionMovedError) this.sessionMoved.push(`${err.message} (0x${s.sessionId.toString(16)}, ${new Date().toISOString()})`);
        else if (!(err instanceof ConnectionLossError)) this.unexpected.push(`${(err as Error).message} (0x${s.sessionId.toString(16)}, ${new Date().toISOString()})`);
        await sleep(50);
      }
    }
  }
}

/**
 * Creates an ephemeral through a new session on one member, then drops the connection without
 * closing the session, as a killed client's would be: the ephemeral must go once it expires.
 */
export async function droppedSessionEphemeral(e: ProcessEnsemble, id: number, path: string, sessionTimeoutMs = 2000): Promise<string> {
  const { host, clientPort } = e.member(id);
  // A leader change meanwhile closes the connection: tried again, on a new session.
  for (const deadline = Date.now() + 60_000; ;) {
    let raw: RawClient | null = null;
    try {
      raw = await RawClient.connect(host, clientPort, { timeoutMs: sessionTimeoutMs, handshakeTimeoutMs: 10_000 });
      const r = await raw.tryCreate(path, null, { flags: CreateFlag.ephemeral });
      // NODEEXISTS: an earlier try made it, on a session dropped as well.
      if (r.err === 0 || r.err === Err.NODEEXISTS) return path;
      throw new KeeperError(r.err, path);
    } catch (err) {
      if (err instanceof KeeperError || Date.now() > deadline) throw err;
      await sleep(200);
    } finally {
      raw?.destroy();
    }
  }
}

/**
 * Creates a znode, again after a lost connection (a leader change, on a slow machine); NODEEXISTS
 * counts as done, the znode being made by an earlier try (or, for a shared parent, by another).
 */
export function createRetried(client: ZooKeeperClient, path: string, mode: 'persistent' | 'ephemeral' = 'persistent'): Promise<string> {
  return retriedOnLoss(() => client.create(path, null, { mode }).catch((err) => {
    if (err instanceof NodeExistsError) return path;
    throw err;
  }));
}

/** fn, again while it fails with a lost connection (a leader change, on a slow machine). */
async function retriedOnLoss<T>(fn: () => Promise<T>): Promise<T> {
  for (const deadline = Date.now() + 60_000; ;) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof ConnectionLossError) || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

function loadClient(connectString: string, sessionTimeoutMs = 10_000): Promise<ZooKeeperClient> {
  return connect(connectString, { sessionTimeoutMs, connectTimeoutMs: 60_000, logger: quietLogger });
}

/**
 * Reads each given member (the running ones by default) directly, with a client on it alone after
 * a sync, once their zxids agree, and asserts: every write the load had acknowledged is there, and
 * every member holds the same znodes under the load's parents; each load session is the one it
 * started with and owns its ephemeral on every member; the `gone` paths (ephemerals of sessions
 * closed or dropped) are absent everywhere, waiting while a dropped session still has to expire.
 */
export async function assertMembersHold(e: ProcessEnsemble, load: WriteLoad, options: { ids?: number[]; gone?: string[] } = {}): Promise<void> {
  const ids = options.ids ?? e.running();
  assert.deepEqual(load.unexpected, [], 'the load saw no failure other than lost connections (and SESSIONMOVED)');
  for (const s of load.sessions) {
    // One that was on a member just continued may still be moving to another.
    await eventually(() => s.client.state === 'SyncConnected' || s.client.state === 'Expired' || s.client.state === 'Closed', 'load sessions reconnected');
    assert.equal(s.client.state, 'SyncConnected', `load session 0x${s.sessionId.toString(16)} is connected`);
    assert.equal(s.client.sessionId, s.sessionId, 'the load session is the one it started with');
  }
  await e.converged(ids);
  const acked = [...load.acked].sort();
  let first: string[] | null = null;
  for (const id of ids) {
    const c = await loadClient(e.connectString([id]));
    try {
      const held = await retriedOnLoss(async () => {
        await c.sync(load.root);
        const paths: string[] = [];
        for (const s of load.sessions) for (const name of await c.getChildren(s.parent) as string[]) paths.push(`${s.parent}/${name}`);
        return paths.sort();
      });
      const have = new Set(held);
      const missing = acked.filter((p) => !have.has(p));
      assert.deepEqual(missing, [], `member ${id} holds every acknowledged write (${acked.length})`);
      if (first === null) first = held;
      else assert.deepEqual(held, first, `member ${id} holds the same znodes as member ${ids[0]}`);
      for (const s of load.sessions) {
        const stat = await retriedOnLoss(() => c.exists(s.ephemeral));
        assert.equal(stat?.ephemeralOwner, s.sessionId, `member ${id} holds ${s.ephemeral}, owned by its session`);
      }
      for (const path of options.gone ?? []) {
        await eventually(async () => {
          try {
            await c.sync(path);
            return (await c.exists(path)) === null;
          } catch (err) {
            if (err instanceof ConnectionLossError) return false;
            throw err;
          }
        }, `${path} gone from member ${id}`, 60_000);
      }
    } finally {
      await c.close();
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Partitions between members on their own loopback addresses (`ownAddresses`), made with iptables:
 * a chain of its own, jumped to from INPUT, drops every packet of the connections between members
 * of different groups. Rules match the connection's tracked original addresses in both directions,
 * since a plain source/destination rule would let through replies on a connection the other side
 * opened; dropping on input rather than output makes the cut silent (no error to the sender). Needs
 * root and a working iptables: `LoopbackFirewall.unavailable()` says why not, for a test to skip.
 *
 *   const fw = new LoopbackFirewall();
 *   fw.install();
 *   try { fw.cut(e, [[1], [2, 3]]); ... fw.heal(); } finally { fw.remove(); }
 */
export class LoopbackFirewall {
  readonly chain = `ens-${process.pid}-${randomBytes(3).toString('hex')}`;
  private installed = false;

  /** Why partitions cannot be made here (not root, no iptables, rules without effect), or null. */
  static async unavailable(): Promise<string | null> {
    if (process.getuid?.() !== 0) return 'partitions need root (iptables)';
    const r = spawnSync('iptables', ['-w', '-L', 'INPUT', '-n'], { encoding: 'utf8' });
    if (r.status !== 0) return `iptables does not work here: ${r.error?.message ?? r.stderr.trim()}`;
    // A connection between two loopback addresses, dropped and let through again.
    const fw = new LoopbackFirewall();
    const server = createServer((s) => s.destroy());
    await new Promise<void>((done) => server.listen({ host: '127.0.0.31', port: 0 }, () => done()));
    const { port } = server.address() as AddressInfo;
    try {
      fw.install();
      fw.drop('127.0.0.32', '127.0.0.31');
      if (await reaches(port)) return 'iptables rules on loopback addresses do not take effect here (no connection tracking?)';
      fw.heal();
      if (!(await reaches(port))) return 'loopback connections fail even without iptables rules';
      return null;
    } catch (err) {
      return `iptables cannot make a partition here: ${(err as Error).message}`;
    } finally {
      fw.remove();
      server.close();
    }
  }

  /** Creates the chain and jumps to it from INPUT (first removing the chains of test processes that died without removing theirs). */
  install(): void {
    const listed = execFileSync('iptables', ['-w', '-S'], { encoding: 'utf8' });
    for (const [, name, pid] of listed.matchAll(/^-N (ens-(\d+)-[0-9a-f]+)$/gm)) {
      if (!isAlive(Number(pid))) removeChain(name);
    }
    iptables('-N', this.chain);
    this.installed = true;
    // Also if the test process ends without running its after hooks (a timeout, say).
    process.once('exit', () => this.remove());
    iptables('-I', 'INPUT', '-j', this.chain);
  }

  /** Cuts every member of a group off from the members of every other group (members not listed are left alone). */
  cut(e: ProcessEnsemble, groups: number[][]): void {
    for (const [i, a] of groups.entries()) {
      for (const b of groups.slice(i + 1)) for (const x of a) for (const y of b) this.drop(e.member(x).host, e.member(y).host);
    }
  }

  drop(a: string, b: string): void {
    for (const [src, dst] of [[a, b], [b, a]]) iptables('-A', this.chain, '-m', 'conntrack', '--ctorigsrc', src, '--ctorigdst', dst, '-j', 'DROP');
  }

  /** Removes every cut. */
  heal(): void {
    iptables('-F', this.chain);
  }

  /** Removes the chain and the jump to it, whatever state they are in. */
  remove(): void {
    if (!this.installed) return;
    removeChain(this.chain);
    this.installed = false;
  }
}

function removeChain(chain: string): void {
  for (const args of [['-D', 'INPUT', '-j', chain], ['-F', chain], ['-X', chain]]) {
    try {
      iptables(...args);
    } catch {
      // Already gone.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function iptables(...args: string[]): void {
  execFileSync('iptables', ['-w', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Whether a connection from 127.0.0.32 to 127.0.0.31:port opens within a second. */
function reaches(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = netConnect({ host: '127.0.0.31', port, localAddress: '127.0.0.32' });
    const timer = setTimeout(() => finish(false), 1000);
    const finish = (ok: boolean): void => {
      clearTimeout(timer);
      socket.destroy();
      done(ok);
    };
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
