/**
 * The servers the benchmarks load, each in a process of its own on a free loopback port with a
 * private data directory:
 *
 * - Apache ZooKeeper 3.8 as the Debian package's zkServer.sh starts it: its class path
 *   (/etc/zookeeper/conf and zookeeper.jar, whose manifest pulls in the rest; no SLF4J binding is on
 *   it, so the server logs nothing), its JVM flags, and otherwise the JVM's own defaults (on this
 *   machine: G1, heap up to a quarter of the memory). The main class is ZooKeeperServerMain, which
 *   the package's QuorumPeerMain runs anyway for a standalone configuration.
 * - Ensemble as `node bin/ensemble.js server` (compiled, from dist/), or from src/ through tsx; the
 *   baseline (`--baseline REV`) the same way from the worktree it was compiled in.
 *
 * bench:client keeps its own older set-up (startBenchServer): the test launcher's small JVM for
 * ZooKeeper, Ensemble from source, both without fsync.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/ports.ts';
import { fourLetterWord, startZooKeeper } from '../test/support/zookeeper.ts';

/**
 * node-floor: bench/floor-server.ts, a server with no logic (`--floor`); ensemble-baseline: Ensemble
 * as built from an earlier commit (`--baseline REV`).
 */
export type ServerKind = 'zookeeper' | 'ensemble' | 'node-floor' | 'ensemble-baseline';
/** The servers `npm run bench` compares. */
export const SERVER_KINDS: readonly ServerKind[] = ['zookeeper', 'ensemble'];

/**
 * The order in which the servers take their turn in a round: rotated by one each round, so that
 * over as many rounds as there are servers each goes first, second, … once (with two servers,
 * ZooKeeper first in odd rounds, Ensemble in even ones).
 */
export function serverOrder<T>(round: number, servers: readonly T[]): T[] {
  const n = servers.length;
  const shift = (((round - 1) % n) + n) % n;
  return [...servers.slice(shift), ...servers.slice(0, shift)];
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const JAVA = existsSync('/usr/bin/java') ? '/usr/bin/java' : 'java';
/** zkEnv.sh's CLASSPATH. */
const ZOOKEEPER_PACKAGE_CLASSPATH = '/etc/zookeeper/conf:/usr/share/java/zookeeper.jar';
const ZOOKEEPER_MAIN = 'org.apache.zookeeper.server.ZooKeeperServerMain';
const OUTPUT_LIMIT = 16 * 1024;

/**
 * The JVM's command line for one ZooKeeper process, as zkServer.sh builds it (JVMFLAGS is empty in
 * the package's environment file): no heap flags, so the JVM's defaults. mainClass:
 * ZooKeeperServerMain (standalone) or QuorumPeerMain (a member of an ensemble).
 */
export function zooKeeperCommand(dir: string, cfg: string, mainClass: string): string[] {
  return [
    JAVA,
    `-Dzookeeper.log.dir=${dir}`, '-Dzookeeper.log.file=zookeeper.log',
    '-XX:+HeapDumpOnOutOfMemoryError', '-XX:OnOutOfMemoryError=kill -9 %p',
    '-cp', ZOOKEEPER_PACKAGE_CLASSPATH,
    '-Dcom.sun.management.jmxremote', '-Dcom.sun.management.jmxremote.local.only=true',
    mainClass, cfg,
  ];
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A deadline to race a process's exit against: it does not keep this process alive by itself. */
function deadline(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export interface ServerProcessOptions {
  /** fdatasync before replying to a write: the default of both servers. */
  fsync: boolean;
  /** Ensemble compiled (dist/, after `npm run build`) or src/ through tsx. */
  ensembleFrom: 'dist' | 'source';
  /** More configuration for both servers (zoo.cfg keys), e.g. snapCount. */
  properties?: Readonly<Record<string, string>>;
  /** The checkout whose Ensemble runs (default: this one; the baseline's worktree). */
  ensembleRoot?: string;
}

/**
 * One server's process and data directory. The process can be stopped and started again on the
 * same data; dispose() stops it and deletes the directory.
 */
export class BenchServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private output = '';

  private constructor(
    readonly kind: ServerKind,
    readonly port: number,
    /** Everything of this server: zoo.cfg (ZooKeeper), data/, logs. */
    readonly dir: string,
    /** The command line, for the report: [executable, ...args]. */
    readonly command: readonly string[],
    /** ZooKeeper runs in its own directory (a heap dump would land there); Ensemble in its checkout. */
    private readonly cwd: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  static async create(kind: ServerKind, opts: ServerProcessOptions): Promise<BenchServer> {
    const port = await freePort();
    const dir = await mkdtemp(join(tmpdir(), `bench-${kind}-`));
    const dataDir = join(dir, 'data');
    await mkdir(dataDir);
    const properties: Record<string, string> = {
      clientPortAddress: HOST,
      // Every load session comes from 127.0.0.1; ZooKeeper's default allows 60 per address.
      maxClientCnxns: '0',
      ...(opts.fsync ? {} : { forceSync: 'no' }),
      ...opts.properties,
    };
    if (kind === 'zookeeper') {
      const cfg = join(dir, 'zoo.cfg');
      const lines = {
        tickTime: '2000', dataDir, clientPort: String(port),
        // Otherwise every instance wants port 8080.
        'admin.enableServer': 'false',
        ...properties,
      };
      await writeFile(cfg, Object.entries(lines).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
      return new BenchServer(kind, port, dir, zooKeeperCommand(dir, cfg, ZOOKEEPER_MAIN), dir, process.env);
    }
    if (kind === 'node-floor') {
      return new BenchServer(kind, port, dir, [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'bench/floor-server.ts'), String(port)], REPO_ROOT, process.env);
    }
    const root = opts.ensembleRoot ?? REPO_ROOT;
    const entry = opts.ensembleFrom === 'dist' ? [join(root, 'bin/ensemble.js')] : ['--import', 'tsx', join(root, 'src/cli/main.ts')];
    if (opts.ensembleFrom === 'dist' && !existsSync(join(root, 'dist/cli/main.js'))) throw new Error(`${root}/dist/ is missing: npm run build first`);
    const command = [
      process.execPath, ...entry, 'server', '--port', String(port), '--data-dir', dataDir,
      ...Object.entries(properties).flatMap(([k, v]) => ['--property', `${k}=${v}`]),
    ];
    return new BenchServer(kind, port, dir, command, root, process.env);
  }

  get connectString(): string {
    return `${HOST}:${this.port}`;
  }

  get host(): string {
    return HOST;
  }

  /** The process id (for a JVM, the JVM's own: it is spawned directly, not through a script). */
  get pid(): number | undefined {
    return this.running() ? this.child?.pid : undefined;
  }

  /** What runLoad reads: the server's processes, and the connect string of each load process. */
  get pids(): number[] {
    return this.pid === undefined ? [] : [this.pid];
  }

  get connectStrings(): string[] {
    return [this.connectString];
  }

  /** The last lines the process wrote, for error messages. */
  get recentOutput(): string {
    return this.output;
  }

  running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Spawns the process without waiting for it to serve. */
  spawn(): void {
    if (this.running()) throw new Error(`${this.kind} is already running`);
    const [exe, ...args] = this.command;
    const child = spawn(exe, args, { cwd: this.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: this.env });
    this.output = '';
    const collect = (d: Buffer): void => {
      this.output = (this.output + d.toString('utf8')).slice(-OUTPUT_LIMIT);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    this.exited = new Promise<void>((r) => {
      child.once('exit', () => r());
      child.once('error', () => r());
    });
    this.child = child;
  }

  /** Waits until `srvr` answers with a Mode: line, asked on a fresh connection each time. */
  async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.running()) {
        throw new Error(`${this.kind} exited before serving (code ${this.child?.exitCode}, signal ${this.child?.signalCode})\n${this.output}`);
      }
      const answer = await fourLetterWord(HOST, this.port, 'srvr', 1_000).catch(() => '');
      if (/^Mode: /m.test(answer)) return;
      if (Date.now() > deadline) throw new Error(`${this.kind} not serving on ${this.connectString} within ${timeoutMs} ms\n${this.output}`);
      await delay(50);
    }
  }

  async start(timeoutMs = 60_000): Promise<void> {
    this.spawn();
    try {
      await this.waitReady(timeoutMs);
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  /** SIGTERM, then SIGKILL after 20 s; the data directory stays. */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    if (this.running() && child.pid !== undefined) {
      child.kill('SIGTERM');
      if (!(await Promise.race([this.exited.then(() => true), deadline(20_000).then(() => false)]))) {
        if (this.running()) child.kill('SIGKILL');
      }
      await this.exited;
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
    this.child = null;
  }

  async dispose(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** What bench:client loads: the server with its older set-up (see the top of this file). */
export interface ClientBenchServer {
  kind: ServerKind;
  connectString: string;
  pid: number | undefined;
  stop(): Promise<void>;
}

export async function startBenchServer(kind: ServerKind): Promise<ClientBenchServer> {
  if (kind === 'zookeeper') {
    const zk = await startZooKeeper();
    return { kind, connectString: zk.connectString, pid: await zooKeeperPid(zk.port), stop: () => zk.stop() };
  }
  const server = await BenchServer.create('ensemble', { fsync: false, ensembleFrom: 'source' });
  await server.start(30_000).catch(async (err: unknown) => {
    await server.dispose();
    throw err;
  });
  return { kind, connectString: server.connectString, pid: server.pid, stop: () => server.dispose() };
}

/** startZooKeeper does not expose its JVM's pid: find it by the port in the JVM's command line (best effort). */
async function zooKeeperPid(port: number): Promise<number | undefined> {
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    if (!cmdline.includes('ZooKeeperServerMain')) continue;
    const cfg = cmdline.split('\0').find((a) => a.endsWith('zoo.cfg'));
    if (cfg === undefined) continue;
    const text = await readFile(cfg, 'utf8').catch(() => '');
    if (text.includes(`clientPort=${port}\n`)) return Number(entry);
  }
  return undefined;
}
