/**
 * `ensemble cli` on a real terminal: the shell runs in a tmux pane (a pseudo-terminal, so
 * `process.stdin.isTTY` is true and the readline front end in src/cli/shell/terminal.ts is used),
 * keys are sent with `tmux send-keys` and the screen is read back with `tmux capture-pane`.
 *
 * Covered: the banner and the numbered prompt (CONNECTING, then CONNECTED); tab completion of
 * command names and of znode paths (unique match, common prefix, listing of the candidates);
 * history kept in $ENSEMBLE_CLI_HISTORY across runs (file contents, Up/Down recall, `history`);
 * a watch notification arriving while a line is half typed (printed above the prompt, the line
 * redrawn intact and still usable); Ctrl-C on a typed line, Ctrl-C on an empty line, Ctrl-D and
 * `quit`, with the process exit status.
 *
 * Runs the built `bin/ensemble.js` (dist/): run `npm run build` first (`npm test` does). Needs
 * tmux; without it the file is skipped, except under CI, where that is a failure.
 *
 * tmux is used with a private socket in a temporary directory and no configuration file, so a
 * user's tmux server and ~/.tmux.conf are never involved; that server is killed (by its socket)
 * in `after`. All tmux commands run asynchronously: the Ensemble server lives in this process and
 * must keep answering while the test waits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { connect, type ZooKeeperClient } from '../../src/index.ts';
import { startEnsemble } from '../support/ensemble.ts';
import { freePort } from '../support/ports.ts';
import type { RunningServer } from '../support/servers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const BIN = join(ROOT, 'bin/ensemble.js');
const BUILT = join(ROOT, 'dist/cli/main.js');
const WIDTH = 120;
const HEIGHT = 40;
/** How long to wait for something to appear on the screen (generous: slow shared CI machines). */
const WAIT_MS = 30_000;
/** Each test's own limit: many waits, each of which a busy machine may make slow. */
const TEST_TIMEOUT_MS = 180_000;

function tmuxAvailable(): boolean {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const HAVE_TMUX = tmuxAvailable();
const skip = HAVE_TMUX || process.env.CI ? false : 'tmux is not installed';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The environment for tmux (and so for the shells it starts): nothing of this test runner. */
function tmuxEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, TERM: process.env.TERM || 'xterm' };
  for (const key of Object.keys(env)) {
    if (key.startsWith('NODE_TEST') || key === 'NODE_OPTIONS' || key === 'TMUX' || key === 'TMUX_PANE') delete env[key];
  }
  return env;
}

/** A private tmux server, reached through its own socket. */
class Tmux {
  private readonly env = tmuxEnv();
  constructor(private readonly socket: string) {}

  run(...args: string[]): Promise<string> {
    return new Promise((done, fail) => {
      execFile('tmux', ['-S', this.socket, '-f', '/dev/null', ...args], { env: this.env, timeout: 30_000 }, (err, stdout, stderr) => {
        if (err) fail(new Error(`tmux ${args.join(' ')} failed: ${err.message}\n${stderr}`));
        else done(stdout);
      });
    });
  }

  async kill(): Promise<void> {
    try {
      await this.run('kill-server');
    } catch {
      // Never started, or already gone.
    }
  }
}

/** The last line of the screen that is not blank. */
function lastLine(screen: string): string {
  const lines = screen.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? '';
}

/** One shell running in a tmux session of its own. */
class Pane {
  constructor(private readonly tmux: Tmux, readonly name: string) {}

  /** The pane's text, scrollback included, without the blank rows below the output. */
  async screen(): Promise<string> {
    const text = await this.tmux.run('capture-pane', '-p', '-S', '-', '-t', this.name);
    return text.replace(/\s+$/, '');
  }

  /** Types text (no special keys, no Tab: send those with `key`). */
  async type(text: string): Promise<void> {
    await this.tmux.run('send-keys', '-t', this.name, '-l', text);
  }

  /** Sends one key by its tmux name: Enter, Tab, Up, C-c… */
  async key(name: string): Promise<void> {
    await this.tmux.run('send-keys', '-t', this.name, name);
  }

  /** Polls the screen until `check` holds; fails with the screen after `timeoutMs`. */
  async waitFor(what: string, check: (screen: string) => boolean, timeoutMs = WAIT_MS): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let screen = '';
    for (;;) {
      screen = await this.screen();
      if (check(screen)) return screen;
      if (Date.now() > deadline) break;
      await sleep(50);
    }
    assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}; the screen of ${this.name} is:\n` +
      `----------------\n${screen}\n----------------`);
  }

  waitForText(text: string, timeoutMs = WAIT_MS): Promise<string> {
    return this.waitFor(JSON.stringify(text), (s) => s.includes(text), timeoutMs);
  }

  /** Waits for the last line to be exactly `line` (trailing spaces are not captured). */
  waitForLastLine(line: string, timeoutMs = WAIT_MS): Promise<string> {
    return this.waitFor(`the last line to be ${JSON.stringify(line)}`, (s) => lastLine(s) === line.trimEnd(), timeoutMs);
  }

  /** Types a command, waits for it to be echoed, then presses Enter. */
  async command(line: string, prompt: string): Promise<void> {
    await this.type(line);
    await this.waitForLastLine(prompt + line);
    await this.key('Enter');
  }
}

describe('ensemble cli on a terminal (tmux)', { skip }, () => {
  let server: RunningServer;
  let zk: ZooKeeperClient;
  let dir: string;
  let tmux: Tmux;
  let sessions = 0;
  let addr: string;

  /** `[zk: 127.0.0.1:PORT(CONNECTED) n] ` */
  const prompt = (n: number): string => `[zk: ${addr}(CONNECTED) ${n}] `;

  /** Starts `ensemble cli -server <server>` in a new tmux session; `EXIT=<status>` is printed when it ends. */
  async function startShell(history: string, server = addr): Promise<Pane> {
    const name = `shell${++sessions}`;
    const script = 'ENSEMBLE_CLI_HISTORY="$1" "$2" "$3" cli -server "$4"; echo "EXIT=$?"; exec sleep 3600';
    await tmux.run('new-session', '-d', '-s', name, '-x', String(WIDTH), '-y', String(HEIGHT), '-c', ROOT,
      '/bin/sh', '-c', script, 'sh', history, process.execPath, BIN, server);
    return new Pane(tmux, name);
  }

  /** Starts a shell and waits for its banner and its first CONNECTED prompt. */
  async function startConnected(history: string): Promise<Pane> {
    const pane = await startShell(history);
    await pane.waitForLastLine(prompt(0));
    return pane;
  }

  before(async () => {
    assert.ok(HAVE_TMUX, 'tmux is needed for this test (apt-get install tmux)');
    assert.ok(existsSync(BUILT), `${BUILT} is missing: run "npm run build" (npx tsc -p tsconfig.build.json) first`);
    dir = mkdtempSync(join(tmpdir(), 'ensemble-tty-'));
    tmux = new Tmux(join(dir, 'tmux.sock'));
    server = await startEnsemble();
    addr = server.connectString;
    zk = await connect(server.connectString, { sessionTimeoutMs: 10_000 });
  });

  after(async () => {
    await tmux?.kill();
    await zk?.close();
    await server?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('banner, CONNECTED prompt, numbered commands and their output', { timeout: TEST_TIMEOUT_MS }, async () => {
    const pane = await startShell(join(dir, 'history-prompt'));
    const screen = await pane.waitForLastLine(prompt(0));
    const lines = screen.split('\n');
    assert.equal(lines[0], `Connecting to ${addr}`, screen);
    assert.ok(lines.includes('Welcome to ZooKeeper!'), screen);
    assert.ok(lines.includes('JLine support is enabled'), screen);
    assert.ok(lines.includes('WATCHER::'), screen);
    assert.ok(lines.includes('WatchedEvent state:SyncConnected type:None path:null'), screen);

    await pane.command('create /t1 "hello world"', prompt(0));
    await pane.waitForLastLine(prompt(1));
    const created = await pane.screen();
    assert.ok(created.includes(`${prompt(0)}create /t1 "hello world"\nCreated /t1\n${prompt(1).trimEnd()}`), created);
    assert.equal((await zk.getData('/t1')).data?.toString(), 'hello world');

    await pane.command('get /t1', prompt(1));
    const got = await pane.waitForLastLine(prompt(2));
    assert.ok(got.includes(`${prompt(1)}get /t1\nhello world\n${prompt(2).trimEnd()}`), got);
  });

  test('before the session is up the prompt says CONNECTING; Ctrl-D quits with status 0', { timeout: TEST_TIMEOUT_MS }, async () => {
    const deadPort = await freePort();
    const pane = await startShell(join(dir, 'history-connecting'), `127.0.0.1:${deadPort}`);
    await pane.waitForLastLine(`[zk: 127.0.0.1:${deadPort}(CONNECTING) 0]`);
    await pane.key('C-d');
    const screen = await pane.waitFor('EXIT=', (s) => /EXIT=\d+/.test(s));
    assert.match(screen, /EXIT=0$/);
  });

  test('tab completes command names and znode paths', { timeout: TEST_TIMEOUT_MS }, async () => {
    await zk.create('/tcompl', '');
    await zk.create('/tcompl/apple', '');
    await zk.create('/tcompl/apricot', '');
    await zk.create('/tcompl/banana', '');
    const pane = await startConnected(join(dir, 'history-completion'));

    // A command name: `cre` + Tab gives `create ` (with its space: the next word follows it).
    await pane.type('cre');
    await pane.waitForLastLine(`${prompt(0)}cre`);
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(0)}create`);
    await pane.type('/t2-cmd');
    await pane.waitForLastLine(`${prompt(0)}create /t2-cmd`);
    await pane.key('Enter');
    await pane.waitForLastLine(prompt(1));
    assert.notEqual(await zk.exists('/t2-cmd'), null, 'create /t2-cmd did not run');

    // A unique child of /: `ls /tcom` + Tab gives `ls /tcompl`; then a unique child of /tcompl.
    await pane.type('ls /tcom');
    await pane.waitForLastLine(`${prompt(1)}ls /tcom`);
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(1)}ls /tcompl`);
    await pane.type('/b');
    await pane.waitForLastLine(`${prompt(1)}ls /tcompl/b`);
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(1)}ls /tcompl/banana`);
    await pane.key('Enter');
    const listed = await pane.waitForLastLine(prompt(2));
    assert.ok(listed.includes(`${prompt(1)}ls /tcompl/banana\n[]\n`), listed);

    // Two candidates: the first Tab fills in their common prefix, the second lists them both.
    await pane.type('ls /tcompl/a');
    await pane.waitForLastLine(`${prompt(2)}ls /tcompl/a`);
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(2)}ls /tcompl/ap`);
    await pane.key('Tab');
    // Both are listed, and the line being typed is shown again below the list, unchanged.
    await pane.waitFor('both candidates listed above the unchanged line', (s) =>
      s.split('\n').some((l) => !l.startsWith('[zk:') && l.includes('/tcompl/apple') && l.includes('/tcompl/apricot')) &&
      lastLine(s) === `${prompt(2)}ls /tcompl/ap`);
    // And is still there to finish: `r` + Tab is unique.
    await pane.type('r');
    await pane.waitForLastLine(`${prompt(2)}ls /tcompl/apr`);
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(2)}ls /tcompl/apricot`);
    await pane.key('Enter');
    await pane.waitForLastLine(prompt(3));
  });

  test('history is kept across runs: the file, Up/Down recall, and `history`', { timeout: TEST_TIMEOUT_MS }, async () => {
    const history = join(dir, 'history-recall');
    await zk.create('/h1', '');

    // First run: two commands, then Ctrl-D, so that the last command of the run is `get /h1`.
    const first = await startConnected(history);
    await first.command('set /h1 "one two"', prompt(0));
    await first.waitForLastLine(prompt(1));
    await first.command('get /h1', prompt(1));
    await first.waitForLastLine(prompt(2));
    await first.key('C-d');
    await first.waitForText('EXIT=0');
    assert.deepEqual(readFileSync(history, 'utf8').split('\n'), ['set /h1 "one two"', 'get /h1', '']);

    // Second run, same file: Up recalls the previous run's commands, newest first; Down goes back.
    const second = await startConnected(history);
    await second.key('Up');
    await second.waitForLastLine(`${prompt(0)}get /h1`);
    await second.key('Up');
    await second.waitForLastLine(`${prompt(0)}set /h1 "one two"`);
    await second.key('Down');
    await second.waitForLastLine(`${prompt(0)}get /h1`);
    await second.key('Enter');
    const ran = await second.waitForLastLine(prompt(1));
    assert.ok(ran.includes(`${prompt(0)}get /h1\none two\n`), ran);

    // `history` numbers this session's commands only.
    await second.command('history', prompt(1));
    const listed = await second.waitForLastLine(prompt(2));
    const numbered = listed.split('\n').filter((l) => /^\d+ - /.test(l));
    assert.deepEqual(numbered, ['0 - get /h1', '1 - history'], listed);

    await second.command('quit', prompt(2));
    await second.waitForText('EXIT=0');
    assert.deepEqual(readFileSync(history, 'utf8').split('\n'),
      ['set /h1 "one two"', 'get /h1', 'get /h1', 'history', 'quit', '']);
  });

  test('a watch event while a line is being typed is printed above it, and the line survives', { timeout: TEST_TIMEOUT_MS }, async () => {
    await zk.create('/t4', 'before');
    const pane = await startConnected(join(dir, 'history-event'));
    await pane.command('get -w /t4', prompt(0));
    await pane.waitForLastLine(prompt(1));
    const before = await pane.screen();
    assert.ok(before.includes(`${prompt(0)}get -w /t4\nbefore\n`), before);

    await pane.type('ls /zoo');
    await pane.waitForLastLine(`${prompt(1)}ls /zoo`);
    await zk.setData('/t4', 'changed');

    const event = 'WatchedEvent state:SyncConnected type:NodeDataChanged path:/t4';
    // (The event is written in two parts, each followed by a redraw: wait for the last one.)
    const screen = await pane.waitFor(`${event} and the prompt redrawn`,
      (s) => s.includes(event) && lastLine(s) === `${prompt(1)}ls /zoo`);
    const lines = screen.split('\n');
    const at = lines.lastIndexOf(event);
    assert.ok(at >= 0, `the event is not on a line of its own:\n${screen}`);
    assert.ok(lines.slice(0, at).includes('WATCHER::'), screen);
    // The prompt and the typed text, redrawn below the event (and not left above it).
    const rest = lines.slice(at + 1).filter((l) => l.trim() !== '');
    assert.deepEqual(rest, [`${prompt(1)}ls /zoo`], screen);
    assert.equal(screen.split(`${prompt(1)}ls /zoo`).length - 1, 1, `the typed line appears more than once:\n${screen}`);

    // The line is still live: Tab completes it (the cursor is at its end) and Enter runs it.
    await pane.key('Tab');
    await pane.waitForLastLine(`${prompt(1)}ls /zookeeper`);
    await pane.key('Enter');
    const ran = await pane.waitForLastLine(prompt(2));
    assert.ok(ran.includes(`${prompt(1)}ls /zookeeper\n[config, quota]\n`), ran);
  });

  test('Ctrl-C discards the typed line; `quit` exits with the last status; Ctrl-C on an empty line quits', { timeout: TEST_TIMEOUT_MS }, async () => {
    const pane = await startConnected(join(dir, 'history-ctrlc'));
    await pane.type('create /t5-never');
    await pane.waitForLastLine(`${prompt(0)}create /t5-never`);
    await pane.key('C-c');
    // A new, empty prompt with the same number (nothing ran).
    const cleared = await pane.waitFor('a new empty prompt',
      (s) => s.split('\n').filter((l) => l.startsWith('[zk:')).length === 2 && lastLine(s) === prompt(0).trimEnd());
    assert.ok(cleared.includes(`${prompt(0)}create /t5-never^C\n${prompt(0).trimEnd()}`), cleared);
    // What is typed next starts a fresh line.
    await pane.command('create /t5 ""', prompt(0));
    const created = await pane.waitForLastLine(prompt(1));
    assert.ok(created.includes('Created /t5\n'), created);
    assert.equal(await zk.exists('/t5-never'), null, 'the discarded line was run');
    assert.notEqual(await zk.exists('/t5'), null);
    await pane.command('quit', prompt(1));
    const quit = await pane.waitFor('EXIT=', (s) => /EXIT=\d+/.test(s));
    assert.match(quit, /WatchedEvent state:Closed type:None path:null\n+EXIT=0$/);

    // A failing command, then Ctrl-C on the empty prompt: the session closes, the status is 1.
    const again = await startConnected(join(dir, 'history-ctrlc'));
    await again.command('get /t5-missing', prompt(0));
    const missing = await again.waitForLastLine(prompt(1));
    assert.ok(missing.includes('Node does not exist: /t5-missing\n'), missing);
    await again.key('C-c');
    const closed = await again.waitFor('EXIT=', (s) => /EXIT=\d+/.test(s));
    assert.match(closed, /WatchedEvent state:Closed type:None path:null\n+EXIT=1$/);
  });
});
