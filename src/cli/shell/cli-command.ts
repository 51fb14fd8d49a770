/**
 * `ensemble cli`: zkCli's command line. With a command it runs that one and exits with its status;
 * otherwise it reads commands from a terminal (prompt, history, completion) or, when standard
 * input is not a terminal, line by line with no prompt, printing exactly what zkCli prints.
 */
import { createInterface } from 'node:readline';
import { saslLogin } from './sasl-login.ts';
import { Shell, type ShellOutput } from './shell.ts';
import { tlsLogin, type TlsFlags } from './tls-login.ts';

export const CLI_USAGE = `usage: ensemble cli [--quiet | --json] [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [-waitforconnection] [--jaas file [--jaas-section name]] [--tls] [--tls-ca file] [--tls-cert file --tls-key file] [command args...]
`;

interface CliArgs {
  server: string;
  timeoutMs: number;
  readOnly: boolean;
  waitForConnection: boolean;
  command: string[] | null;
  /** --jaas and --jaas-section: SASL DIGEST-MD5 with a JAAS file's Client section, as zkCli.sh's. */
  jaasFile?: string;
  jaasSection?: string;
  /** --tls, --tls-ca, --tls-cert, --tls-key: to a secure client port. */
  tls: TlsFlags;
  /** --quiet: only results on stdout; --json: results as JSON (both Ensemble's own, not zkCli's). */
  output: 'zkcli' | 'quiet' | 'json';
}

class UsageError extends Error {}

/** ZooKeeperMain's options: flags first, then the first word that is not a flag starts the command. */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { server: 'localhost:2181', timeoutMs: 30000, readOnly: false, waitForConnection: false, command: null, output: 'zkcli', tls: {} };
  for (let i = 0; i < argv.length; i++) {
    const opt = argv[i];
    const value = (): string => {
      if (i + 1 >= argv.length) throw new UsageError(`Error: no argument found for option ${opt}`);
      return argv[++i];
    };
    switch (opt) {
      case '-server':
        args.server = value();
        break;
      case '-timeout': {
        const v = value();
        if (!/^\d+$/.test(v) || Number(v) > 0x7fffffff) throw new UsageError(`-timeout must be a number of milliseconds, got "${v}"`);
        args.timeoutMs = Number(v);
        break;
      }
      case '-r':
        args.readOnly = true;
        break;
      case '-waitforconnection':
        args.waitForConnection = true;
        break;
      case '--quiet':
      case '--json':
        args.output = opt === '--json' ? 'json' : 'quiet';
        break;
      case '--jaas':
        args.jaasFile = value();
        break;
      case '--jaas-section':
        args.jaasSection = value();
        break;
      case '--tls':
        args.tls.tls = true;
        break;
      case '--tls-ca':
        args.tls.ca = value();
        break;
      case '--tls-cert':
        args.tls.cert = value();
        break;
      case '--tls-key':
        args.tls.key = value();
        break;
      case '-client-configuration':
        throw new UsageError('-client-configuration (SASL/TLS settings) is not supported');
      default:
        if (opt.startsWith('-')) throw new UsageError(`unknown option ${opt}`);
        args.command = argv.slice(i);
        return args;
    }
  }
  return args;
}

const stdio: ShellOutput = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
};

/** Runs `ensemble cli`; resolves with the exit status. */
export async function cliCommand(argv: readonly string[]): Promise<number> {
  let args: CliArgs;
  try {
    args = parseCliArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n${CLI_USAGE}`);
    return 2;
  }
  // zkCli's banners, unless only results belong on stdout.
  const banner = (text: string): void => void (args.output === 'zkcli' && process.stdout.write(text));
  banner(`Connecting to ${args.server}\n`);
  let sasl;
  let tls;
  try {
    sasl = saslLogin(args.jaasFile, args.jaasSection, process.env);
    tls = tlsLogin(args.tls, process.env);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 2;
  }
  const options = { server: args.server, sessionTimeoutMs: args.timeoutMs, readOnly: args.readOnly, output: args.output, sasl, tls };
  const interactive = args.command === null && process.stdin.isTTY === true;
  let shell: Shell;
  let terminal: import('./terminal.ts').Terminal | undefined;
  if (interactive) {
    const { Terminal } = await import('./terminal.ts');
    terminal = new Terminal((io) => new Shell(options, io));
    shell = terminal.shell;
  } else {
    shell = new Shell(options, stdio);
  }
  try {
    await shell.connect(args.server);
  } catch (e) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  if (args.waitForConnection && !(await shell.waitForConnection(args.timeoutMs))) {
    process.stderr.write(`KeeperErrorCode = ConnectionLoss: no session with ${args.server} within ${args.timeoutMs} ms\n`);
    await shell.closeQuietly();
    return 1;
  }

  if (args.command !== null) {
    if ((await shell.runCommand(args.command)) !== 'quit') await shell.closeQuietly();
    return shell.exitCode;
  }
  banner('Welcome to ZooKeeper!\n');
  if (terminal) {
    banner('JLine support is enabled\n');
    await terminal.run();
  } else {
    banner('JLine support is disabled\n');
    const lines = createInterface({ input: process.stdin, terminal: false, crlfDelay: Infinity });
    for await (const line of lines) {
      if ((await shell.executeLine(line)) === 'quit') return shell.exitCode;
    }
  }
  await shell.closeQuietly();
  return shell.exitCode;
}
