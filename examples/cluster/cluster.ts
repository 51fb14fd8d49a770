/** The demo's processes: the server (embedded, or one given), the chroot the cluster lives under, and the worker processes. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect, NodeExistsError, NoNodeError, type ZooKeeperClient } from 'ensemble';
import { startServer } from 'ensemble/server';
import { call } from './http.ts';
import type { WorkerStatus } from './layout.ts';

const here = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_DOCUMENTS = join(here, 'documents');
const WORKER_SCRIPT = join(here, 'worker.ts');

/** A server to run against: an embedded Ensemble on a free loopback port, or host:port given. */
export async function openServer(connectTo: string | undefined): Promise<{ address: string; close: () => Promise<void> }> {
  if (connectTo !== undefined) return { address: connectTo, close: async () => {} };
  const dataDir = await mkdtemp(join(tmpdir(), 'ensemble-demo-'));
  const server = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, tickTimeMs: 1000, maxClientCnxns: 0 });
  return {
    address: `127.0.0.1:${server.port}`,
    close: async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Creates a fresh root znode for one run (so runs never meet) and returns it. */
export async function createRoot(address: string): Promise<string> {
  const zk = await connect(address);
  try {
    for (let i = 0; ; i++) {
      const root = `/ensemble-demo-${Date.now().toString(36)}${i === 0 ? '' : `-${i}`}`;
      try {
        await zk.create(root);
        return root;
      } catch (err) {
        if (!(err instanceof NodeExistsError)) throw err;
      }
    }
  } finally {
    await zk.close();
  }
}

export async function deleteTree(zk: ZooKeeperClient, path: string): Promise<void> {
  try {
    for (const child of await zk.getChildren(path)) await deleteTree(zk, `${path}/${child}`);
    await zk.delete(path);
  } catch (err) {
    if (!(err instanceof NoNodeError)) throw err;
  }
}

interface WorkerProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<void>;
}

/** Worker processes by name, started with the same node and loader as this process. */
export class Workers {
  private readonly running = new Map<string, WorkerProcess>();

  constructor(
    private readonly connectString: string,
    private readonly documentsDir: string,
    private readonly sessionTimeoutMs: number,
    private readonly onLine: (line: string) => void,
    private readonly extra: { hostsInOrder?: boolean; countDelayMs?: number } = {},
  ) {}

  names(): string[] {
    return [...this.running.keys()].sort();
  }

  /** Starts a worker and resolves once its HTTP endpoint listens. */
  async start(name: string): Promise<void> {
    if (this.running.has(name)) throw new Error(`${name} is already running`);
    const args = ['--connect', this.connectString, '--name', name, '--documents', this.documentsDir, '--session-timeout', String(this.sessionTimeoutMs), '--count-delay', String(this.extra.countDelayMs ?? 0)];
    if (this.extra.hostsInOrder) args.push('--hosts-in-order');
    const child = spawn(process.execPath, [...process.execArgv, WORKER_SCRIPT, ...args], {
      // The IPC channel closes when this process dies, however it dies: the worker then stops too.
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.on('line', (line) => {
        const listening = /listening on 127\.0\.0\.1:(\d+)$/.exec(line);
        if (listening) resolve(Number(listening[1]));
        this.onLine(line);
      });
      createInterface({ input: child.stderr! }).on('line', (line) => this.onLine(`${name} (stderr): ${line}`));
      void exited.then(() => reject(new Error(`${name} exited before it listened`)));
    });
    this.running.set(name, { child, port, exited });
  }

  /** SIGKILL: a crash (its session lingers until it times out). SIGTERM: a clean stop. */
  async kill(name: string, signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    const w = this.running.get(name);
    if (!w) throw new Error(`${name} is not running`);
    this.running.delete(name);
    w.child.kill(signal);
    await w.exited;
  }

  status(name: string): Promise<WorkerStatus> {
    const w = this.running.get(name);
    if (!w) return Promise.reject(new Error(`${name} is not running`));
    return call<WorkerStatus>('127.0.0.1', w.port, '/status', undefined, 2000);
  }

  /** The status of every running worker that answers. */
  async statuses(): Promise<WorkerStatus[]> {
    const all = await Promise.allSettled(this.names().map((n) => this.status(n)));
    return all.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.names().map((n) => this.kill(n, 'SIGTERM')));
  }
}
