/**
 * `ensemble cluster`: a replicated ensemble on this machine, to try one out. N members on loopback,
 * each an `ensemble server --config zoo.cfg` child process with its own zoo.cfg and myid, their log
 * lines shown with the member's id in front. SIGINT or SIGTERM stops them all. A member that dies
 * by itself (kill -9 it to see a failover) is restarted on its data dir a second later; one that
 * dies within RESTART_MIN_UPTIME_MS of starting (it cannot run) stops the others, and the command
 * fails.
 *
 * Ports, for member k of N (k from 0): client base+k, quorum base+10+k, election base+20+k.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LOG_LEVELS } from '../server/logger.ts';

export const CLUSTER_USAGE = `usage: ensemble cluster [--size N] [--base-port PORT] [--dir DIR] [--tick-time MS] [--log-level LEVEL]

  --size N          members, odd, 1 to 9 (default 3)
  --base-port PORT  client ports PORT.., quorum ports PORT+10.., election ports PORT+20..
                    (default 2181)
  --dir DIR         keep the members' zoo.cfg, myid and data under DIR (a run with the same DIR
                    starts from that data); by default a temporary directory, removed at exit
  --tick-time MS    tickTime (default 2000)
  --log-level LEVEL the members' log level (default info, or ENSEMBLE_LOG_LEVEL)
`;

const MAX_SIZE = 9;
/** What is shown of a member that died. */
const LAST_LINES = 20;
const STOP_TIMEOUT_MS = 10_000;
/** A member that ran at least this long before it died is restarted. */
const RESTART_MIN_UPTIME_MS = 2_000;
const RESTART_DELAY_MS = 1_000;
const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

interface RunningMember {
  id: number;
  clientPort: number;
  config: string;
  child: ChildProcess;
  startedAt: number;
  lastLines: string[];
  listening: boolean;
  exited: Promise<void>;
}

interface ClusterOptions {
  size: number;
  basePort: number;
  dir?: string;
  tickTimeMs: number;
  logLevel?: string;
}

class UsageError extends Error {}

export async function clusterCommand(args: string[]): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(CLUSTER_USAGE);
    return 0;
  }
  let options: ClusterOptions;
  try {
    options = parseOptions(args);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
    process.stderr.write(`ensemble cluster: ${err.message}\n${CLUSTER_USAGE}`);
    return 2;
  }
  const { size, basePort, tickTimeMs } = options;
  const dir = options.dir === undefined ? mkdtempSync(join(tmpdir(), 'ensemble-cluster-')) : resolve(options.dir);
  mkdirSync(dir, { recursive: true });

  const ids = Array.from({ length: size }, (_, k) => k + 1);
  const servers = ids.map((id) => `server.${id}=127.0.0.1:${basePort + 10 + id - 1}:${basePort + 20 + id - 1};127.0.0.1:${basePort + id - 1}`);
  const configs = ids.map((id) => {
    const memberDir = join(dir, String(id));
    mkdirSync(memberDir, { recursive: true });
    writeFileSync(join(memberDir, 'myid'), `${id}\n`);
    const config = join(memberDir, 'zoo.cfg');
    writeFileSync(config, [
      `tickTime=${tickTimeMs}`, 'initLimit=10', 'syncLimit=5', `dataDir=${memberDir}`, '4lw.commands.whitelist=*',
      // One member is an ensemble of one, not a standalone server.
      'standaloneEnabled=false', ...servers, '',
    ].join('\n'));
    return config;
  });

  const [command, entry] = serverCommand();
  const members: RunningMember[] = [];
  let stopping = false;
  let failed = false;
  let finish!: () => void;
  const finished = new Promise<void>((done) => (finish = done));
  const stopAll = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    for (const m of members) signal(m.child, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const m of members) signal(m.child, 'SIGKILL');
    }, STOP_TIMEOUT_MS);
    await Promise.all(members.map((m) => m.exited));
    clearTimeout(timer);
    finish();
  };
  const killOnExit = () => {
    for (const m of members) signal(m.child, 'SIGKILL');
  };
  process.once('exit', killOnExit);

  let announced = false;
  /** Starts member k (again: on its data dir, after it died). */
  const start = (k: number, m?: RunningMember): RunningMember => {
    const id = ids[k];
    // In its own process group: a Ctrl-C at the terminal reaches this command alone, which stops the members.
    // JSON lines, which render() shows.
    const logFlags = ['--log-format', 'json', ...(options.logLevel === undefined ? [] : ['--log-level', options.logLevel])];
    const child = spawn(command, [...entry, 'server', '--config', configs[k], ...logFlags], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const member: RunningMember = m ?? { id, clientPort: basePort + k, config: configs[k], child, startedAt: 0, lastLines: [], listening: false, exited: Promise.resolve() };
    member.child = child;
    member.startedAt = Date.now();
    member.exited = new Promise<void>((done) => child.once('close', (code, sig) => {
      done();
      if (stopping) return;
      process.stderr.write(`ensemble cluster: member ${id} (pid ${child.pid}) ${sig ? `was killed by ${sig}` : `exited with status ${code}`}; its last lines:\n`);
      for (const line of member.lastLines) process.stderr.write(`[${id}] ${line}\n`);
      if (Date.now() - member.startedAt < RESTART_MIN_UPTIME_MS) {
        process.stderr.write(`ensemble cluster: member ${id} died within ${RESTART_MIN_UPTIME_MS / 1000} s of starting: stopping the others\n`);
        failed = true;
        void stopAll();
        return;
      }
      setTimeout(() => {
        if (stopping) return;
        start(k, member);
        process.stdout.write(`  member ${id}: pid ${member.child.pid}, restarted on its data\n`);
      }, RESTART_DELAY_MS);
    }));
    child.once('error', (err) => process.stderr.write(`ensemble cluster: member ${id} could not start: ${err.message}\n`));
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (raw) => {
        const line = render(raw);
        member.lastLines.push(line);
        if (member.lastLines.length > LAST_LINES) member.lastLines.shift();
        process.stdout.write(`[${id}] ${line}\n`);
        if (!member.listening && /listening on /.test(line)) {
          member.listening = true;
          if (!announced && members.length === size && members.every((x) => x.listening)) {
            announced = true;
            const connect = members.map((x) => `127.0.0.1:${x.clientPort}`).join(',');
            process.stdout.write(`connect string: ${connect}\n(try: ensemble cli -server ${connect}; Ctrl-C stops the members)\n`);
          }
        }
      });
    }
    return member;
  };
  for (const k of ids.keys()) members.push(start(k));

  process.stdout.write(`ensemble cluster: ${size} member${size === 1 ? '' : 's'} on 127.0.0.1, tickTime ${tickTimeMs} ms, in ${dir}${options.dir === undefined ? ' (removed at exit)' : ''}\n`);
  for (const m of members) {
    const k = m.id - 1;
    process.stdout.write(`  member ${m.id}: pid ${m.child.pid}, client port ${m.clientPort}, quorum ${basePort + 10 + k}, election ${basePort + 20 + k}, ${m.config}\n`);
  }

  const stopOn = (sig: NodeJS.Signals) => {
    if (stopping) return;
    process.stdout.write(`ensemble cluster: ${sig}: stopping the members\n`);
    void stopAll();
  };
  process.on('SIGINT', stopOn);
  process.on('SIGTERM', stopOn);

  // Until a signal, or a member that cannot run, stops them all.
  await finished;
  process.off('SIGINT', stopOn);
  process.off('SIGTERM', stopOn);
  process.off('exit', killOnExit);
  if (options.dir === undefined) rmSync(dir, { recursive: true, force: true });
  return failed ? 1 : 0;
}

function parseOptions(args: string[]): ClusterOptions {
  const { values } = parseArgs({
    args,
    options: {
      size: { type: 'string', short: 'n' },
      'base-port': { type: 'string' },
      dir: { type: 'string' },
      'tick-time': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  const size = integer('--size', values.size ?? '3');
  if (size < 1 || size > MAX_SIZE) throw new UsageError(`--size must be from 1 to ${MAX_SIZE}, got ${size}`);
  if (size % 2 === 0) {
    const tolerated = size / 2 - 1;
    throw new UsageError(
      `--size must be odd, got ${size}: a quorum is a majority, so ${size} members tolerate ${tolerated} failure${tolerated === 1 ? '' : 's'}, ` +
      `no more than ${size - 1} do, and need a bigger quorum (${size / 2 + 1} rather than ${size / 2})`,
    );
  }
  const basePort = integer('--base-port', values['base-port'] ?? '2181');
  if (basePort < 1 || basePort + 20 + MAX_SIZE - 1 > 65535) throw new UsageError(`--base-port must be from 1 to ${65535 - 20 - MAX_SIZE + 1}, got ${basePort}`);
  const tickTimeMs = integer('--tick-time', values['tick-time'] ?? '2000');
  if (tickTimeMs < 1) throw new UsageError(`--tick-time must be at least 1 ms, got ${tickTimeMs}`);
  const logLevel = values['log-level'];
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  return { size, basePort, dir: values.dir, tickTimeMs, logLevel };
}

function integer(name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${name} must be a whole number, got "${text}"`);
  return Number(text);
}

/** This installation's `ensemble` entry, run as this process runs (the TypeScript loader for sources). */
function serverCommand(): [string, string[]] {
  const here = fileURLToPath(import.meta.url);
  const main = join(here, '..', `main${extname(here)}`);
  if (!existsSync(main)) throw new Error(`the ensemble command is not installed here (${main})`);
  if (extname(here) !== '.ts') return [process.execPath, [main]];
  return [process.execPath, ['--import', import.meta.resolve('tsx'), main]];
}

function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, sig);
  } catch {
    // already gone
  }
}

/** A member's JSON log line as `time LEVEL message key=value…`; other lines as they are. */
function render(line: string): string {
  if (!line.startsWith('{')) return line;
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  if (typeof record.msg !== 'string' || typeof record.time !== 'number') return line;
  const parts = [new Date(record.time).toISOString().slice(11, 23), LEVELS[record.level as number] ?? String(record.level), record.msg];
  for (const [key, value] of Object.entries(record)) {
    if (['level', 'time', 'pid', 'hostname', 'name', 'msg'].includes(key)) continue;
    parts.push(`${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  }
  return parts.join(' ');
}
