import { spawn, type ChildProcess } from 'node:child_process';

/** Every child started through this module that may still be running. */
const live = new Set<ChildProcess>();

process.once('exit', () => {
  for (const child of live) killChild(child, 'SIGKILL');
});

function isRunning(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killChild(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || !isRunning(child)) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  input?: string;
  timeoutMs: number;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a command to completion; kills it (by PID) and rejects if it outlives timeoutMs. */
export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
    });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    const timer = setTimeout(() => {
      killChild(child, 'SIGKILL');
      reject(
        new Error(
          `${cmd} ${args.join(' ')} did not finish within ${opts.timeoutMs} ms\n--- stdout ---\n${stdout}\n--- stderr ---\n${stderr}`,
        ),
      );
    }, opts.timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => {
      /* the child may exit before reading all input */
    });
    child.stdin!.end(opts.input ?? '');
  });
}

export interface InteractiveOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Merge stderr into the same pipe as stdout (via `sh -c 'exec … 2>&1'`), keeping their relative order. */
  mergeStderr?: boolean;
}

/**
 * A long-running child whose output is accumulated; `waitFor` waits (with a timeout) until
 * the output after a given offset matches a pattern.
 */
export class Interactive {
  readonly child: ChildProcess;
  output = '';
  stderr = '';
  private waiters = new Set<() => void>();
  readonly closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly description: string;

  constructor(cmd: string, args: readonly string[], opts: InteractiveOptions = {}) {
    this.description = `${cmd} ${args.join(' ')}`;
    if (opts.mergeStderr) {
      const quoted = [cmd, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
      this.child = spawn('/bin/sh', ['-c', `exec ${quoted} 2>&1`], {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: opts.env ?? process.env,
        cwd: opts.cwd,
      });
    } else {
      this.child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd });
    }
    live.add(this.child);
    // Decoded as streams, so that a UTF-8 character split across reads stays whole.
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (d: string) => {
      this.output += d;
      this.notify();
    });
    this.child.stderr!.on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.child.stdin!.on('error', () => {
      /* ignore EPIPE after exit */
    });
    this.closed = new Promise((resolve) => {
      this.child.once('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        live.delete(this.child);
        this.notify();
        resolve({ code: null, signal: null });
      });
      this.child.once('close', (code, signal) => {
        live.delete(this.child);
        this.notify();
        resolve({ code, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return isRunning(this.child);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  write(text: string): void {
    this.child.stdin!.write(text);
  }

  endInput(): void {
    this.child.stdin!.end();
  }

  /**
   * Waits until `pattern` matches the output (stdout, or stderr when `stream` says so) from
   * `from` on; resolves with the match and the offset just after it. Rejects after timeoutMs
   * or if the process exits first.
   */
  async waitFor(
    pattern: RegExp,
    timeoutMs: number,
    from = 0,
    stream: 'stdout' | 'stderr' = 'stdout',
  ): Promise<{ match: RegExpExecArray; end: number }> {
    const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
    let found: { match: RegExpExecArray; end: number } | undefined;
    await this.waitUntil(
      () => {
        const m = re.exec((stream === 'stdout' ? this.output : this.stderr).slice(from));
        if (m) found = { match: m, end: from + m.index + m[0].length };
        return m !== null;
      },
      timeoutMs,
      `${pattern}${stream === 'stderr' ? ' on stderr' : ''}`,
    );
    return found!;
  }

  /**
   * Waits until `check()` (evaluated now and whenever output arrives) returns true. Rejects
   * after timeoutMs, or once the process has exited and both pipes are drained.
   */
  waitUntil(check: () => boolean, timeoutMs: number, what = 'a condition'): Promise<void> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        if (check()) {
          finish();
          resolve();
          return true;
        }
        if (!isRunning(this.child) && this.child.stdout!.readableEnded && this.child.stderr!.readableEnded) {
          finish();
          reject(new Error(`${this.description} exited before printing ${what}\n${this.dump()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} from ${this.description}\n${this.dump()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(listener);
      };
      const listener = (): void => {
        attempt();
      };
      if (!attempt()) this.waiters.add(listener);
    });
  }

  /** Waits for the process to exit; kills it with SIGKILL if it takes longer than timeoutMs. */
  async waitExit(timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), timeoutMs)));
    const res = await Promise.race([this.closed, timeout]);
    clearTimeout(timer);
    if (res === 'timeout') {
      this.kill('SIGKILL');
      throw new Error(`${this.description} did not exit within ${timeoutMs} ms\n${this.dump()}`);
    }
    return res;
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    killChild(this.child, signal);
  }

  /** Kills the process (by PID) and waits briefly for it to be reaped. */
  async stop(): Promise<void> {
    if (isRunning(this.child)) {
      this.kill('SIGKILL');
      await Promise.race([this.closed, new Promise((r) => setTimeout(r, 3000))]);
    }
  }

  dump(): string {
    return `--- output ---\n${this.output}\n--- stderr ---\n${this.stderr}`;
  }
}

/** Debian's zkCli.sh (Apache ZooKeeper 3.8 Java client). */
export const ZKCLI = '/usr/share/zookeeper/bin/zkCli.sh';

/** JVM flags for zkCli.sh (read by the script from CLIENT_JVMFLAGS): a small heap, fast start. */
export const ZKCLI_JVMFLAGS = '-Xmx128m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xshare:auto -XX:-UsePerfData';

/** The environment for running zkCli.sh. */
export function zkCliEnv(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // A UTF-8 locale: Java 17 takes its default charset (used for stdin, stdout and the bytes of
  // `create`/`set` data) from it.
  return { ...base, CLIENT_JVMFLAGS: ZKCLI_JVMFLAGS, LC_ALL: 'C.UTF-8' };
}
