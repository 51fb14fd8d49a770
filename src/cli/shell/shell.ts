/**
 * zkCli's session loop (ZooKeeperMain): the connection, the numbered history, the built-in
 * commands (connect, history, redo, printwatches, quit) and the dispatch to the znode commands,
 * with the same messages and exit statuses.
 */
import { ZooKeeperClient } from '../../client/client.ts';
import type { ConnectionOptions as TlsConnectionOptions } from 'node:tls';
import type { SaslOptions } from '../../client/sasl.ts';
import type { Logger, State, WatchedEvent, Watcher } from '../../client/types.ts';
import { ZNODE_COMMANDS, CliError, type CliCommand, type CommandContext } from './commands.ts';
import { QUOTA_COMMANDS } from './quota-commands.ts';
import { decodeInt, splitWords } from './line-parser.ts';

export interface ShellOutput {
  out(text: string): void;
  err(text: string): void;
}

export interface ShellOptions {
  /** host:port[,host:port…][/chroot] */
  server: string;
  sessionTimeoutMs: number;
  readOnly: boolean;
  /** quiet: notices (watch events, "Not connected") on stderr; json: that, and results as JSON. */
  output?: 'zkcli' | 'quiet' | 'json';
  /** SASL authentication on every connection (--jaas). */
  sasl?: SaslOptions;
  /** TLS to a secure client port (--tls-*, or zkCli's -Dzookeeper.client.secure=true). */
  tls?: TlsConnectionOptions;
}

/** The commands ZooKeeperMain handles itself, with their usage. */
const BUILTINS: ReadonlyMap<string, string> = new Map([
  ['connect', 'host:port'],
  ['history', ''],
  ['redo', 'cmdno'],
  ['printwatches', 'on|off'],
  ['quit', ''],
]);

/** The commands that work on znodes, by name. */
const COMMANDS: ReadonlyMap<string, CliCommand> = new Map([...ZNODE_COMMANDS, ...QUOTA_COMMANDS].map((c) => [c.name, c]));

/** Every command name with its usage, sorted as zkCli lists them. */
export const COMMAND_USAGE: ReadonlyMap<string, string> = new Map(
  [...BUILTINS, ...[...COMMANDS.values()].map((c) => [c.name, c.options] as const)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
);

const NOT_FOUND_EXIT = 127;
const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
/** Like zkCli, keep trying to connect for as long as the shell runs. */
const FOREVER_MS = 0x7fffffff;

/** The state names of ZooKeeper.States, as zkCli's prompt shows them. */
function javaState(state: State | 'Connecting'): string {
  switch (state) {
    case 'SyncConnected': return 'CONNECTED';
    case 'ConnectedReadOnly': return 'CONNECTEDREADONLY';
    case 'Closed':
    case 'Expired': return 'CLOSED';
    case 'AuthFailed': return 'AUTH_FAILED';
    default: return 'CONNECTING';
  }
}

const alive = (state: State | 'Connecting'): boolean => state !== 'Closed' && state !== 'Expired' && state !== 'AuthFailed';

type Outcome = 'quit' | undefined;

export class Shell {
  private client: ZooKeeperClient | null = null;
  private host = '';
  private printWatches = true;
  private readonly history = new Map<number, string>();
  private commandCount = 0;
  /** The words of the last line that had any (zkCli reuses them for a line that has none). */
  private words: string[] = [];
  /** The exit status of the last command, which the process exits with. */
  exitCode = 0;
  /** Called on every change of connection state (e.g. to redraw a prompt). */
  onStateChange: () => void = () => {};

  private readonly watcher: Watcher = (event) => {
    // Session events reach the shell once, through the client's 'state' events.
    if (event.type !== 'None') this.printEvent(event);
  };

  constructor(private readonly options: ShellOptions, private readonly io: ShellOutput) {}

  prompt(): string {
    return `[zk: ${this.host}(${javaState(this.client?.state ?? 'Closed')}) ${this.commandCount}] `;
  }

  /** Opens a session to `host` (closing the current one), as zkCli's `connect` does. */
  async connect(host: string): Promise<void> {
    if (this.client !== null && alive(this.client.state)) await this.client.close();
    this.host = host;
    let client: ZooKeeperClient;
    try {
      client = new ZooKeeperClient(host, {
        sessionTimeoutMs: this.options.sessionTimeoutMs,
        readOnly: this.options.readOnly,
        sasl: this.options.sasl,
        tls: this.options.tls,
        connectTimeoutMs: FOREVER_MS,
        logger: SILENT,
      });
    } catch (e) {
      this.client = null;
      throw new CliError(`Invalid connect string "${host}": ${e instanceof Error ? e.message : String(e)}`);
    }
    this.client = client;
    client.on('state', (state) => {
      if (client === this.client) {
        this.printEvent({ state, type: 'None', path: null });
        this.onStateChange();
      }
    });
    client.on('saslAuthenticated', () => {
      if (client === this.client) this.printEvent({ state: 'SaslAuthenticated', type: 'None', path: null });
    });
  }

  /** Waits until the current session is established, or fails after `timeoutMs`. */
  async waitForConnection(timeoutMs: number): Promise<boolean> {
    const client = this.client;
    if (client === null) return false;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const ok = await Promise.race([client.ready.then(() => true, () => false), timedOut]);
    clearTimeout(timer);
    return ok;
  }

  /** Runs one typed line. Resolves 'quit' when the shell should end. */
  async executeLine(line: string): Promise<Outcome> {
    if (line === '') return undefined;
    const words = this.parseLine(line);
    this.history.set(this.commandCount, line);
    const outcome = await this.processCmd(words);
    this.commandCount++;
    return outcome;
  }

  /** Runs one command given as words (the one-command mode). */
  runCommand(words: string[]): Promise<Outcome> {
    this.words = words;
    return this.processCmd(words);
  }

  /** Ends the session without printing its Closed event (end of input, or one command done). */
  async closeQuietly(): Promise<void> {
    const client = this.client;
    this.client = null;
    if (client !== null && alive(client.state)) await client.close();
  }

  /** The znode names under `dir`, for completion; none when they cannot be read. */
  async childrenOf(dir: string): Promise<string[]> {
    if (this.client === null || this.client.state !== 'SyncConnected') return [];
    try {
      return await this.client.getChildren(dir, { timeoutMs: 2000 });
    } catch {
      return [];
    }
  }

  private parseLine(line: string): string[] {
    const words = splitWords(line);
    if (words.length > 0) this.words = words;
    return this.words;
  }

  /** Where notices go: stdout, as zkCli prints them, unless only results belong there. */
  private notice(text: string): void {
    if ((this.options.output ?? 'zkcli') === 'zkcli') this.io.out(text);
    else this.io.err(text);
  }

  /** Also Java's SaslAuthenticated, which is an event there, not a state. */
  private printEvent(event: WatchedEvent | { state: 'SaslAuthenticated'; type: 'None'; path: null }): void {
    // Connection state changes are zkCli's banner, left out when only results belong on stdout.
    if (!this.printWatches || (event.type === 'None' && (this.options.output ?? 'zkcli') !== 'zkcli')) return;
    // One write, so that a terminal redraws the prompt once, below both lines.
    this.notice(`\nWATCHER::\n\nWatchedEvent state:${event.state} type:${event.type} path:${event.path ?? 'null'}\n`);
  }

  private usage(): void {
    let text = 'ZooKeeper -server host:port -client-configuration properties-file cmd args\n';
    for (const [name, usage] of COMMAND_USAGE) text += `\t${name} ${usage}\n`;
    this.io.err(text);
  }

  private async processCmd(words: string[]): Promise<Outcome> {
    try {
      const outcome = await this.processZKCmd(words);
      if (outcome !== 'quit') this.exitCode = 0;
      return outcome;
    } catch (e) {
      this.exitCode = e instanceof CliError ? e.exitCode : 1;
      this.io.err(`${e instanceof Error ? e.message : String(e)}\n`);
      return undefined;
    }
  }

  private async processZKCmd(words: string[]): Promise<Outcome> {
    const [cmd] = words;
    if (cmd === undefined) {
      this.usage();
      throw new CliError('No command entered');
    }
    if (!COMMAND_USAGE.has(cmd)) {
      this.usage();
      throw new CliError(`Command not found: Command not found ${cmd}`, NOT_FOUND_EXIT);
    }
    if (cmd === 'quit') {
      await this.client?.close();
      return 'quit';
    } else if (cmd === 'redo' && words.length >= 2) {
      const i = decodeInt(words[1]);
      if (i === null) throw new CliError(`redo: "${words[1]}" is not a command number`);
      if (this.commandCount <= i || i < 0) throw new CliError('Command index out of range');
      const line = this.history.get(i) ?? '';
      const again = this.parseLine(line);
      if (again[0] === 'redo') throw new CliError('No redoing redos');
      this.history.set(this.commandCount, line);
      if ((await this.processCmd(again)) === 'quit') return 'quit';
    } else if (cmd === 'history') {
      for (let i = Math.max(0, this.commandCount - 10); i <= this.commandCount; i++) this.io.out(`${i} - ${this.history.get(i) ?? 'null'}\n`);
    } else if (cmd === 'printwatches') {
      if (words.length === 1) this.io.out(`printwatches is ${this.printWatches ? 'on' : 'off'}\n`);
      else this.printWatches = words[1] === 'on';
    } else if (cmd === 'connect') {
      await this.connect(words.length >= 2 ? words[1] : this.host);
    }

    const client = this.client;
    if (client === null || !alive(client.state)) {
      this.notice('Not connected\n');
      return undefined;
    }
    const command = COMMANDS.get(cmd);
    if (command === undefined) return undefined;
    const ctx: CommandContext = { client, watcher: this.watcher, out: (t) => this.io.out(t), err: (t) => this.io.err(t) };
    if (this.options.output === 'json') ctx.json = (value) => this.io.out(`${JSON.stringify(value)}\n`);
    await command.run(ctx, words);
    return undefined;
  }
}
