/**
 * A replicated Ensemble for the demo to run against: N members on loopback, each an
 * `ensemble server --config zoo.cfg` process (the installed command) with its own zoo.cfg and myid
 * in a temporary directory, on free ports. Members are killed and restarted by id, and looked at
 * with the four-letter words `srvr` (is it the leader?) and `cons` (whose sessions does it hold?).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect as connectTcp, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const ENSEMBLE_BIN = join(dirname(createRequire(import.meta.url).resolve('ensemble/package.json')), 'bin', 'ensemble.js');
/** Lines of a member's output kept, to show when something goes wrong. */
const LAST_LINES = 30;

export interface EnsembleMember {
  id: number;
  clientPort: number;
  /** `127.0.0.1:clientPort` */
  address: string;
  config: string;
  child: ChildProcess | null;
  lastLines: string[];
}

export class LocalEnsemble {
  readonly members: EnsembleMember[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), 'ensemble-demo-members-'));

  private constructor(readonly tickTimeMs: number) {
    // However this process ends, its members go with it.
    process.once('exit', () => {
      for (const m of this.members) signal(m.child, 'SIGKILL');
    });
  }

  /** Writes every member's zoo.cfg and myid, starts them all, and resolves once one of them leads. */
  static async start(size: number, tickTimeMs = 1000): Promise<LocalEnsemble> {
    const ensemble = new LocalEnsemble(tickTimeMs);
    const ports: number[][] = [];
    for (let id = 1; id <= size; id++) ports.push([await freePort(), await freePort(), await freePort()]);
    const servers = ports.map(([quorum, election, client], k) => `server.${k + 1}=127.0.0.1:${quorum}:${election};127.0.0.1:${client}`);
    for (let id = 1; id <= size; id++) {
      const dataDir = join(ensemble.dir, `member-${id}`);
      mkdirSync(dataDir);
      writeFileSync(join(dataDir, 'myid'), `${id}\n`);
      const config = join(ensemble.dir, `zoo-${id}.cfg`);
      writeFileSync(config, [`tickTime=${tickTimeMs}`, 'initLimit=10', 'syncLimit=5', `dataDir=${dataDir}`, '4lw.commands.whitelist=*', ...servers, ''].join('\n'));
      const clientPort = ports[id - 1][2];
      ensemble.members.push({ id, clientPort, address: `127.0.0.1:${clientPort}`, config, child: null, lastLines: [] });
    }
    for (const m of ensemble.members) ensemble.startMember(m.id);
    await ensemble.leader();
    return ensemble;
  }

  /** The given members' addresses (all by default), comma-separated, in that order. */
  connectString(ids = this.members.map((m) => m.id)): string {
    return ids.map((id) => this.member(id).address).join(',');
  }

  member(id: number): EnsembleMember {
    const m = this.members.find((x) => x.id === id);
    if (!m) throw new Error(`no member ${id}`);
    return m;
  }

  /** Starts a member (again, from its data dir, if it ran before). */
  startMember(id: number): void {
    const m = this.member(id);
    // Its own process group: a Ctrl-C at the terminal reaches the demo, which stops the members itself.
    const child = spawn(process.execPath, [ENSEMBLE_BIN, 'server', '--config', m.config], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    m.child = child;
    m.lastLines = [];
    const keep = (data: Buffer): void => {
      m.lastLines.push(...data.toString('utf8').split('\n').filter((l) => l !== ''));
      m.lastLines.splice(0, Math.max(0, m.lastLines.length - LAST_LINES));
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
  }

  /** Sends the signal to the member's PID and waits for it to exit. */
  async kill(id: number, sig: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.member(id).child;
    if (!running(child)) return;
    const exited = new Promise<void>((resolve) => child!.once('exit', () => resolve()));
    signal(child, sig);
    await exited;
  }

  pid(id: number): number | undefined {
    return this.member(id).child?.pid;
  }

  /** `leader` or `follower` as its srvr says, or null when it does not answer (or is not serving). */
  async mode(id: number): Promise<string | null> {
    const srvr = await fourLetterWord(this.member(id).address, 'srvr').catch(() => '');
    return /Mode: (\w+)/.exec(srvr)?.[1] ?? null;
  }

  /** The session ids (0x…) of the clients connected to the member, from its cons. */
  async sessions(id: number): Promise<string[]> {
    const cons = await fourLetterWord(this.member(id).address, 'cons').catch(() => '');
    return [...cons.matchAll(/sid=(0x[0-9a-f]+)/g)].map((m) => m[1]);
  }

  /** The running member that leads, once every running member answers srvr and one of them leads. */
  async leader(timeoutMs = 30_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const live = this.members.filter((m) => running(m.child));
      const modes = await Promise.all(live.map((m) => this.mode(m.id)));
      const leader = live.find((_, k) => modes[k] === 'leader');
      if (leader && modes.every((m) => m !== null)) return leader.id;
      if (Date.now() > deadline) throw new Error(`no leader among members ${live.map((m) => m.id).join(', ')} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Stops every member (SIGTERM by PID, SIGKILL after 10 s) and removes their data. */
  async close(): Promise<void> {
    await Promise.all(this.members.map(async (m) => {
      const timer = setTimeout(() => signal(m.child, 'SIGKILL'), 10_000);
      await this.kill(m.id, 'SIGTERM');
      clearTimeout(timer);
    }));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function running(child: ChildProcess | null): boolean {
  return child !== null && child.exitCode === null && child.signalCode === null;
}

function signal(child: ChildProcess | null, sig: NodeJS.Signals): void {
  if (!running(child) || child!.pid === undefined) return;
  try {
    process.kill(child!.pid, sig);
  } catch {
    // already gone
  }
}

/** Sends a four-letter word on a fresh connection and resolves with the whole answer. */
export function fourLetterWord(address: string, word: string, timeoutMs = 2000): Promise<string> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connectTcp({ host, port }, () => socket.end(word));
    socket.setTimeout(timeoutMs, () => socket.destroy(new Error(`${word}: no answer from ${address} within ${timeoutMs} ms`)));
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = address !== null && typeof address === 'object' ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}
