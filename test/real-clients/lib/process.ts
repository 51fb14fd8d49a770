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
    this.child.stdout!.on('data', (d: Buffer) => {
      this.output += d.toString('utf8');
      this.notify();
    });
    this.child.stderr!.on('data', (d: Buffer) => {
      this.stderr += d.toString('utf8');
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
   * Waits until `pattern` matches the output from `from` on; resolves with the match and the
   * offset just after it. Rejects after timeoutMs or if the process exits first.
   */
  waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<{ match: RegExpExecArray; end: number }> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const re = new RegExp(pattern.source, pattern.flags.replace('g', ''));
        const m = re.exec(this.output.slice(from));
        if (m) {
          finish();
          resolve({ match: m, end: from + m.index + m[0].length });
          return true;
        }
        if (!isRunning(this.child) && this.child.stdout!.readableEnded) {
          finish();
          reject(new Error(`${this.description} exited before printing ${pattern}\n${this.dump()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern} from ${this.description}\n${this.dump()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(listener);
      };
      const listener = (): void => {
        check();
      };
      if (!check()) this.waiters.add(listener);
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
