/**
 * The interactive shell on a terminal: zkCli's prompt, history kept across runs, tab completion of
 * commands and of znode paths read from the server, and output that arrives while a line is being
 * typed (watch events) printed above it without disturbing it.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clearScreenDown, createInterface, cursorTo, moveCursor, type Interface } from 'node:readline';
import { COMMAND_USAGE, type Shell, type ShellOutput } from './shell.ts';

const HISTORY_LIMIT = 1000;

export function historyFile(): string {
  return process.env.ENSEMBLE_CLI_HISTORY ?? join(homedir(), '.ensemble_cli_history');
}

/** The history file's lines, oldest first. */
function readHistory(file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
  } catch {
    return [];
  }
}

export class Terminal {
  readonly shell: Shell;
  private readonly rl: Interface;
  /** True while the prompt is shown and the user may be typing. */
  private waitingForInput = false;
  private readonly file = historyFile();
  /** Lines in the history file: it is cut back to HISTORY_LIMIT once it holds twice as many. */
  private fileLines: number;
  private closed = false;
  private readonly queue: string[] = [];
  private running = false;
  private finished!: () => void;
  private readonly done = new Promise<void>((resolve) => (this.finished = resolve));

  constructor(makeShell: (io: ShellOutput) => Shell) {
    this.shell = makeShell({ out: (t) => this.write(process.stdout, t), err: (t) => this.write(process.stderr, t) });
    this.shell.onStateChange = () => this.redraw();
    const saved = readHistory(this.file);
    this.fileLines = saved.length;
    this.rl = createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      // Oldest first on disk; readline wants the newest first.
      history: saved.slice(-HISTORY_LIMIT).reverse(),
      historySize: HISTORY_LIMIT,
      completer: (line: string, callback: (err: Error | null, result: [string[], string]) => void) => {
        const word = line.endsWith(' ') ? '' : (line.split(' ').pop() ?? '');
        if (!word.startsWith('/')) callback(null, this.completeCommand(line, word));
        else this.completePath(word).then((r) => callback(null, r), () => callback(null, [[], word]));
      },
    });
    this.rl.on('line', (line) => {
      this.waitingForInput = false;
      this.remember(line);
      this.queue.push(line);
      void this.drain();
    });
    this.rl.on('SIGINT', () => {
      // Ctrl-C drops the line being typed; on an empty line it leaves, as zkCli does.
      if (this.rl.line.length > 0) {
        process.stdout.write('^C\n');
        this.rl.write(null, { ctrl: true, name: 'e' });
        this.rl.write(null, { ctrl: true, name: 'u' });
        this.showPrompt();
      } else {
        process.stdout.write('\n');
        this.waitingForInput = false;
        this.queue.push('quit');
        void this.drain();
      }
    });
    this.rl.on('close', () => {
      // Ctrl-D: end the prompt's line before leaving.
      if (this.waitingForInput) process.stdout.write('\n');
      this.waitingForInput = false;
      if (!this.running) this.finished();
      this.queue.length = 0;
      this.closed = true;
    });
  }

  /** Runs until `quit` or the end of input. */
  async run(): Promise<void> {
    this.showPrompt();
    await this.done;
    this.rl.close();
  }

  private async drain(): Promise<void> {
    if (this.running) return;
    this.running = true;
    while (this.queue.length > 0) {
      const line = this.queue.shift()!;
      if ((await this.shell.executeLine(line)) === 'quit') {
        this.running = false;
        this.finished();
        return;
      }
    }
    this.running = false;
    if (this.closed) this.finished();
    else this.showPrompt();
  }

  private showPrompt(): void {
    this.rl.setPrompt(this.shell.prompt());
    this.rl.prompt();
    this.waitingForInput = true;
  }

  /** Shows the prompt again (its state may have changed), keeping the line being typed. */
  private redraw(): void {
    this.write(process.stdout, '');
  }

  /** Erases the prompt and the line being typed (which may wrap over several rows). */
  private clearInput(): void {
    const { rows } = this.rl.getCursorPos();
    moveCursor(process.stdout, 0, -rows);
    cursorTo(process.stdout, 0);
    clearScreenDown(process.stdout);
  }

  /** Prints output; while the user is typing, above the prompt, which is then redrawn with the line intact. */
  private write(stream: NodeJS.WriteStream, text: string): void {
    if (!this.waitingForInput) {
      stream.write(text);
      return;
    }
    this.clearInput();
    if (text !== '') stream.write(text);
    this.rl.setPrompt(this.shell.prompt());
    this.rl.prompt(true);
  }

  private remember(line: string): void {
    if (line.trim() === '') return;
    try {
      appendFileSync(this.file, `${line.replace(/\n/g, ' ')}\n`, { mode: 0o600 });
      if (++this.fileLines > HISTORY_LIMIT * 2) {
        const kept = readHistory(this.file).slice(-HISTORY_LIMIT);
        writeFileSync(this.file, `${kept.join('\n')}\n`);
        this.fileLines = kept.length;
      }
    } catch {
      // History is a convenience: an unwritable file must not stop the shell.
    }
  }

  /** Completes a znode path from the children of the node it names so far. */
  private async completePath(word: string): Promise<[string[], string]> {
    const cut = word.lastIndexOf('/') + 1;
    const dir = cut === 1 ? '/' : word.slice(0, cut - 1);
    const prefix = word.slice(cut);
    const names = (await this.shell.childrenOf(dir)).filter((n) => n.startsWith(prefix)).sort();
    return [names.map((n) => word.slice(0, cut) + n), word];
  }

  /** Completes a command name (only the line's first word is one). */
  private completeCommand(line: string, word: string): [string[], string] {
    if (line.trimStart() !== word) return [[], word];
    const names = [...COMMAND_USAGE.keys()].filter((n) => n.startsWith(word));
    return [names.length === 1 ? [`${names[0]} `] : names, word];
  }
}
