/**
 * The server the benchmark loads, always in a process of its own: Apache ZooKeeper (a JVM, via the
 * test harness's launcher) or Ensemble (`ensemble server` run from source as a child process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/support/ports.ts';
import { fourLetterWord, startZooKeeper } from '../test/support/zookeeper.ts';

export type ServerKind = 'zookeeper' | 'ensemble';

export interface BenchServer {
  kind: ServerKind;
  connectString: string;
  /** The server's process id (for the report, and for anyone watching it with top). */
  pid: number | undefined;
  stop(): Promise<void>;
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const READY_TIMEOUT_MS = 30_000;

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function startBenchServer(kind: ServerKind): Promise<BenchServer> {
  if (kind === 'zookeeper') {
    const zk = await startZooKeeper();
    return { kind, connectString: zk.connectString, pid: await zooKeeperPid(zk.port), stop: () => zk.stop() };
  }
  return startEnsembleProcess();
}

/** startZooKeeper does not expose its JVM's pid: find it by the port in the JVM's command line (best effort). */
async function zooKeeperPid(port: number): Promise<number | undefined> {
  const { readdir, readFile } = await import('node:fs/promises');
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

/** `node --import tsx src/cli/main.ts server` on a free loopback port with a private data directory. */
async function startEnsembleProcess(): Promise<BenchServer> {
  const host = '127.0.0.1';
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'ensemble-bench-'));
  const args = [
    '--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), 'server',
    '--port', String(port), '--data-dir', dataDir,
    '--property', `clientPortAddress=${host}`,
    '--property', 'maxClientCnxns=0',
    // As the ZooKeeper launcher configures it: no fsync per write, so that setData measures the
    // client and the network path rather than the disk.
    '--property', 'forceSync=no',
  ];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ENSEMBLE_LOG_LEVEL: process.env.ENSEMBLE_LOG_LEVEL ?? 'warn' },
  });
  let output = '';
  const collect = (d: Buffer): void => {
    output = (output + d.toString('utf8')).slice(-16 * 1024);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((r) => {
    child.once('exit', () => r());
    child.once('error', () => r());
  });
  const alive = (): boolean => child.exitCode === null && child.signalCode === null;

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (child.pid !== undefined && alive()) {
      process.kill(child.pid, 'SIGTERM');
      if (!(await Promise.race([exited.then(() => true), delay(5_000).then(() => false)]))) {
        if (alive()) process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    }
    child.stdout?.destroy();
    child.stderr?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  };

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!alive()) {
      await stop();
      throw new Error(`ensemble server exited before becoming ready (code ${child.exitCode}, signal ${child.signalCode})\n${output}`);
    }
    const answer = await fourLetterWord(host, port, 'srvr', 1_000).catch(() => '');
    if (/^Mode: /m.test(answer)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`ensemble server not ready on ${host}:${port} within ${READY_TIMEOUT_MS} ms\n${output}`);
    }
    await delay(100);
  }
  return { kind: 'ensemble', connectString: `${host}:${port}`, pid: child.pid, stop };
}
