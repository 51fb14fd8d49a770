/**
 * An ensemble of real `ensemble server` processes on loopback, each started from its own zoo.cfg
 * (server lines, myid in its data dir) as Apache ZooKeeper's members would be. Members are started,
 * killed and restarted by id; their output is kept for failure messages.
 *
 *   const e = new ProcessEnsemble({ size: 3 });
 *   await e.configure();
 *   for (const id of e.ids) e.start(id);
 *   const leader = await e.leader();
 *   ...
 *   await e.close();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from './ports.ts';
import { fourLetterWord } from './zookeeper.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');

export interface ProcessEnsembleOptions {
  /** How many members (default 3). */
  size?: 3 | 5;
  /** zoo.cfg's tickTime (default 200 ms, for quick tests: a member without a leader stands after one or two ticks). */
  tickTimeMs?: number;
  initLimit?: number;
  syncLimit?: number;
}

export interface ProcessMember {
  id: number;
  clientPort: number;
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
  private readonly options: Required<Omit<ProcessEnsembleOptions, 'size'>>;

  constructor(options: ProcessEnsembleOptions = {}) {
    this.ids = Array.from({ length: options.size ?? 3 }, (_, i) => i + 1);
    this.options = { tickTimeMs: options.tickTimeMs ?? 200, initLimit: options.initLimit ?? 10, syncLimit: options.syncLimit ?? 5 };
  }

  /** Picks free ports and writes every member's zoo.cfg and myid. */
  async configure(): Promise<void> {
    const ports = new Map<number, number[]>();
    for (const id of this.ids) ports.set(id, [await freePort(), await freePort(), await freePort()]);
    const servers = this.ids.map((id) => {
      const [quorum, election, client] = ports.get(id)!;
      return `server.${id}=127.0.0.1:${quorum}:${election};127.0.0.1:${client}`;
    }).join('\n');
    const { tickTimeMs, initLimit, syncLimit } = this.options;
    for (const id of this.ids) {
      const dataDir = join(this.dir, `m${id}`);
      mkdirSync(dataDir);
      writeFileSync(join(dataDir, 'myid'), `${id}\n`);
      const config = join(this.dir, `zoo${id}.cfg`);
      writeFileSync(config, `tickTime=${tickTimeMs}\ninitLimit=${initLimit}\nsyncLimit=${syncLimit}\ndataDir=${dataDir}\n4lw.commands.whitelist=*\n${servers}\n`);
      this.procs.set(id, { id, clientPort: ports.get(id)![2], config, child: null, output: '' });
    }
  }

  /** Starts a member (again, from its data dir, if it ran before). */
  start(id: number): void {
    const p = this.member(id);
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'server', '--config', p.config], { stdio: ['ignore', 'pipe', 'pipe'] });
    p.output = '';
    child.stdout!.on('data', (d) => (p.output += d));
    child.stderr!.on('data', (d) => (p.output += d));
    p.child = child;
  }

  /** Signals a member by its PID and waits for it to exit. */
  kill(id: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.member(id).child;
    if (child === null || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((done) => {
      child.once('exit', () => done());
      child.kill(signal);
    });
  }

  /** `127.0.0.1:port` of the given members (all by default), comma-separated. */
  connectString(ids = this.ids): string {
    return ids.map((id) => `127.0.0.1:${this.member(id).clientPort}`).join(',');
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
      return await fourLetterWord('127.0.0.1', this.member(id).clientPort, 'srvr', 2000);
    } catch {
      return '';
    }
  }
}
