/**
 * A replicated ensemble for the benchmarks (`--ensemble N`): N members of Apache ZooKeeper 3.8
 * (QuorumPeerMain, one JVM each, flags as the standalone bench's) or of Ensemble
 * (`node bin/ensemble.js server --config`), on loopback with distinct ports, each with its own data
 * dir and myid, all from the same zoo.cfg lines, as an operator would start them. Members can be
 * killed, stopped, continued and restarted on their data; dispose() stops them all and deletes the
 * directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../test/support/ports.ts';
import { fourLetterWord } from '../test/support/zookeeper.ts';
import { loadOurClient } from './client-sessions.ts';
import { REPO_ROOT, zooKeeperCommand, type ServerKind } from './servers.ts';

const HOST = '127.0.0.1';
const OUTPUT_LIMIT = 16 * 1024;
const QUORUM_PEER_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';
const LOG4J_BINDING = '/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar';
const CLIENT_MODULE = join(REPO_ROOT, 'dist/index.js');
/** The znode waitCaughtUp sets. */
const MARKER_PATH = '/bench-caught-up';

/** Extra flags for Ensemble's member processes, e.g. ENSEMBLE_BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=/tmp/prof' (Node refuses --cpu-prof in NODE_OPTIONS). */
function memberNodeFlags(): string[] {
  return (process.env.ENSEMBLE_BENCH_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
}

/**
 * Where each member's output also goes, as <id>-<pid>.log (useful with, e.g.,
 * ENSEMBLE_BENCH_NODE_FLAGS=--trace-gc-nvp): ENSEMBLE_BENCH_MEMBER_LOGS=DIR.
 */
const MEMBER_LOGS = process.env.ENSEMBLE_BENCH_MEMBER_LOGS;

/** What both systems get: the same ticks and limits, fsync on (forceSync's default). */
export interface EnsembleTiming {
  tickTimeMs: number;
  initLimit: number;
  syncLimit: number;
}

export const DEFAULT_TIMING: EnsembleTiming = { tickTimeMs: 2000, initLimit: 10, syncLimit: 5 };

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const deadline = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

class MemberProcess {
  child: ChildProcess | null = null;
  exited: Promise<void> = Promise.resolve();
  output = '';
  stopped = false;

  constructor(
    readonly id: number,
    readonly clientPort: number,
    readonly command: readonly string[],
    readonly cwd: string,
  ) {}

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  spawn(): void {
    const [exe, ...args] = this.command;
    const child = spawn(exe, args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    this.output = '';
    const collect = (d: Buffer): void => {
      if (MEMBER_LOGS !== undefined) appendFileSync(join(MEMBER_LOGS, `${this.id}-${child.pid}.log`), d);
      this.output = (this.output + d.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise<void>((r) => {
      child.once('exit', () => r());
      child.once('error', () => r());
    });
    this.child = child;
    this.stopped = false;
  }
}

export class BenchEnsemble {
  private constructor(
    readonly kind: ServerKind,
    readonly timing: EnsembleTiming,
    /** zoo<id>.cfg and m<id>/ (dataDir, myid) of every member. */
    readonly dir: string,
    private readonly members: readonly MemberProcess[],
  ) {}

  /**
   * Writes every member's zoo.cfg and myid; starts nothing. With `zooKeeperLog`, ZooKeeper's members
   * log at INFO on their standard output, as Ensemble's always do (otherwise they log nothing).
   * Ensemble's members run from the checkout at `root` (the baseline's worktree for `--baseline`).
   */
  static async create(kind: 'zookeeper' | 'ensemble' | 'ensemble-baseline', size: number, timing: EnsembleTiming, { zooKeeperLog = false, root = REPO_ROOT } = {}): Promise<BenchEnsemble> {
    if (kind !== 'zookeeper' && !existsSync(join(root, 'dist/cli/main.js'))) throw new Error(`${root}/dist/ is missing: npm run build first`);
    const dir = await mkdtemp(join(tmpdir(), `bench-${kind}-ensemble-`));
    const ids = Array.from({ length: size }, (_, i) => i + 1);
    const ports = new Map<number, [number, number, number]>();
    const all = await freePorts(3 * ids.length);
    for (const [k, id] of ids.entries()) ports.set(id, [all[3 * k], all[3 * k + 1], all[3 * k + 2]]);
    const serverLines = ids.map((id) => {
      const [quorum, election, client] = ports.get(id)!;
      return `server.${id}=${HOST}:${quorum}:${election};${HOST}:${client}`;
    });
    const members: MemberProcess[] = [];
    for (const id of ids) {
      const dataDir = join(dir, `m${id}`);
      await mkdir(dataDir);
      await writeFile(join(dataDir, 'myid'), `${id}\n`);
      const cfg = join(dir, `zoo${id}.cfg`);
      const lines = [
        `tickTime=${timing.tickTimeMs}`, `initLimit=${timing.initLimit}`, `syncLimit=${timing.syncLimit}`,
        `dataDir=${dataDir}`,
        // Every load session comes from 127.0.0.1; ZooKeeper's default allows 60 per address.
        'maxClientCnxns=0',
        '4lw.commands.whitelist=srvr,ruok',
        // Otherwise every ZooKeeper wants port 8080.
        'admin.enableServer=false',
        ...serverLines,
      ];
      await writeFile(cfg, lines.join('\n') + '\n');
      const zooKeeper = (): string[] => {
        const [java, ...args] = zooKeeperCommand(dataDir, cfg, QUORUM_PEER_MAIN);
        if (!zooKeeperLog) return [java, ...args];
        // The package's classpath has no SLF4J binding (so no logging at all): log4j's, with its console.
        const withBinding = args.map((a, i) => (args[i - 1] === '-cp' ? `${a}:${LOG4J_BINDING}` : a));
        return [java, '-Dzookeeper.root.logger=INFO,CONSOLE', ...withBinding];
      };
      const command = kind === 'zookeeper'
        ? zooKeeper()
        : [process.execPath, ...memberNodeFlags(), join(root, 'bin/ensemble.js'), 'server', '--config', cfg];
      members.push(new MemberProcess(id, ports.get(id)![2], command, kind === 'zookeeper' ? dataDir : root));
    }
    return new BenchEnsemble(kind, timing, dir, members);
  }

  get ids(): number[] {
    return this.members.map((m) => m.id);
  }

  /** Every member's command line (the first's), with the temp dir elided, for the report. */
  get command(): string {
    return this.members[0].command.join(' ').replaceAll(this.dir, '<dir>');
  }

  /** Every member's client address, or those of the given members. */
  connectString(ids = this.ids): string {
    return ids.map((id) => `${HOST}:${this.member(id).clientPort}`).join(',');
  }

  /** One connect string per member: a load process pinned to each, in turn. */
  get connectStrings(): string[] {
    return this.ids.map((id) => this.connectString([id]));
  }

  /** The members running now (a JVM's own pid: it is spawned directly). */
  get pids(): number[] {
    return this.members.flatMap((m) => (m.running && m.child?.pid !== undefined ? [m.child.pid] : []));
  }

  pid(id: number): number | undefined {
    const m = this.member(id);
    return m.running ? m.child?.pid : undefined;
  }

  /** Starts every member and waits for a leader and all caught up. */
  async start(timeoutMs = 120_000): Promise<void> {
    for (const m of this.members) m.spawn();
    await this.waitCaughtUp(timeoutMs);
  }

  startMember(id: number): void {
    this.member(id).spawn();
  }

  /** SIGKILL, and the exit awaited. */
  async kill(id: number): Promise<void> {
    const m = this.member(id);
    if (!m.running) return;
    m.child!.kill('SIGKILL');
    await m.exited;
  }

  /** SIGSTOP or SIGCONT. */
  signal(id: number, signal: 'SIGSTOP' | 'SIGCONT'): void {
    const m = this.member(id);
    if (!m.running) throw new Error(`member ${id} of ${this.kind} is not running`);
    m.child!.kill(signal);
    m.stopped = signal === 'SIGSTOP';
  }

  /** srvr's answer on a fresh connection, whatever it says; null when none comes. */
  async srvr(id: number): Promise<string | null> {
    try {
      return await fourLetterWord(HOST, this.member(id).clientPort, 'srvr', 1_000);
    } catch {
      return null;
    }
  }

  /** srvr's answer on a fresh connection: Mode and Zxid, null when the member does not serve. */
  async status(id: number): Promise<{ mode: string; zxid: string } | null> {
    const answer = await this.srvr(id);
    const mode = answer === null ? undefined : /^Mode: (\S+)/m.exec(answer)?.[1];
    const zxid = answer === null ? undefined : /^Zxid: (\S+)/m.exec(answer)?.[1];
    return mode === undefined || zxid === undefined ? null : { mode, zxid };
  }

  /** What the member wrote since it was last started (the last 16 KiB). */
  output(id: number): string {
    return this.member(id).output;
  }

  /** Deletes everything in a member's data dir but its myid; the member must not be running. */
  async wipe(id: number): Promise<void> {
    if (this.member(id).running) throw new Error(`member ${id} of ${this.kind} is running`);
    const dataDir = join(this.dir, `m${id}`);
    for (const name of await readdir(dataDir)) if (name !== 'myid') await rm(join(dataDir, name), { recursive: true, force: true });
  }

  /** The member that says it leads, once one does. */
  async leader(timeoutMs = 60_000): Promise<number> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const statuses = await Promise.all(this.ids.map((id) => this.status(id)));
      const i = statuses.findIndex((s) => s?.mode === 'leader');
      if (i >= 0) return this.ids[i];
      this.checkAlive();
      if (Date.now() > end) throw new Error(`${this.kind}: no leader within ${timeoutMs} ms\n${this.recentOutput()}`);
      await delay(50);
    }
  }

  /**
   * Waits until every member serves and has applied a write made through the leader after this
   * call: a quiet member's last zxid says nothing (a new leader's own zxid reaches its followers
   * only with the next write, and a ZooKeeper follower that has just synced may apply what it got
   * only with the next commit), so a marker znode is set, again every second, until every
   * member's srvr Zxid has reached the latest one.
   */
  async waitCaughtUp(timeoutMs = 120_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    const leader = await this.leader(timeoutMs);
    const { connect } = await loadOurClient(CLIENT_MODULE);
    const zk = await connect(this.connectString([leader]), { connectTimeoutMs: 30_000 });
    try {
      await zk.create(MARKER_PATH, Buffer.alloc(0)).catch((err: unknown) => {
        if ((err as { codeName?: string }).codeName !== 'NODEEXISTS') throw err;
      });
      for (;;) {
        const zxid = BigInt((await zk.setData(MARKER_PATH, Buffer.from(String(Date.now())))).mzxid);
        for (let i = 0; i < 10; i++) {
          const statuses = await Promise.all(this.ids.map((id) => this.status(id)));
          if (statuses.every((s) => s !== null && BigInt(s.zxid) >= zxid)) return;
          this.checkAlive();
          if (Date.now() > end) {
            const seen = statuses.map((s, k) => `${this.ids[k]}: ${s === null ? 'not serving' : `${s.mode} ${s.zxid}`}`).join(', ');
            throw new Error(`${this.kind}: members not at zxid 0x${zxid.toString(16)} within ${timeoutMs} ms (${seen})\n${this.recentOutput()}`);
          }
          await delay(100);
        }
      }
    } finally {
      await zk.close();
    }
  }

  /** Stops every member (continuing a stopped one first; SIGTERM, SIGKILL after 20 s) and deletes the directory. */
  async dispose(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      if (!m.running) return;
      if (m.stopped) m.child!.kill('SIGCONT');
      m.child!.kill('SIGTERM');
      if (!(await Promise.race([m.exited.then(() => true), deadline(20_000).then(() => false)]))) m.child!.kill('SIGKILL');
      await m.exited;
    }));
    for (const m of this.members) {
      m.child?.stdout?.destroy();
      m.child?.stderr?.destroy();
    }
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The last lines every member wrote, for error messages. */
  recentOutput(): string {
    return this.members.map((m) => `--- ${this.kind} member ${m.id}${m.running ? '' : ' (not running)'}\n${m.output.slice(-3000)}`).join('\n');
  }

  private checkAlive(): void {
    const gone = this.members.filter((m) => m.child !== null && !m.running && !m.stopped);
    // A member killed on purpose has child set too: only one that exited on its own is an error.
    const crashed = gone.filter((m) => m.child!.signalCode !== 'SIGKILL');
    if (crashed.length > 0) {
      const m = crashed[0];
      throw new Error(`${this.kind} member ${m.id} exited (code ${m.child!.exitCode}, signal ${m.child!.signalCode})\n${m.output}`);
    }
  }

  private member(id: number): MemberProcess {
    const m = this.members.find((x) => x.id === id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }
}
