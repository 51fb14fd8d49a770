/** The `ensemble` command. */
import { Command, CommanderError, Option } from 'commander';
import { jaasFileFromEnv, mergeSaslSettings } from '../server/auth/sasl.ts';
import { defaultConfig, loadZooCfg, parseZooCfg, type ServerConfig } from '../server/config.ts';
import { startServer } from '../server/index.ts';
import { createLogger, LOG_FORMATS, LOG_LEVELS } from '../server/logger.ts';
import { exposureWarning } from '../server/net/exposure.ts';
import { startMember } from '../server/quorum/start-member.ts';
import { VERSION as SERVER_VERSION } from '../server/version.ts';
import { VERSION } from '../version.ts';
import { clusterCommand } from './cluster-command.ts';
import { demoCommand } from './demo-command.ts';
import { cliCommand } from './shell/cli-command.ts';
import { logsCommand, purgeCommand, snapshotCommand } from './storage-tools.ts';

const DEFAULTS = defaultConfig();
const LOOPBACK = '127.0.0.1';
const ZOOKEEPER_VERSION = SERVER_VERSION.zookeeperCompatible.split('-')[0];

const LOG_ENV = `
Environment:
  ENSEMBLE_LOG_LEVEL   the log level when --log-level is not given (${LOG_LEVELS.join(', ')})
  ENSEMBLE_LOG_FORMAT  the log format when --log-format is not given (${LOG_FORMATS.join(', ')})
`;

interface ServerFlags {
  port?: string;
  bind?: string;
  dataDir?: string;
  tickTime?: string;
  config?: string;
  property?: string[];
  jaas?: string;
  logLevel?: string;
  logFormat?: string;
  newEnsemble?: boolean;
}

function logOptions(): Option[] {
  return [
    new Option('--log-level <level>', 'least severe level logged (default: info, or ENSEMBLE_LOG_LEVEL)').choices(LOG_LEVELS),
    new Option('--log-format <format>', 'pretty: one readable line per record; json: one JSON object per line ' +
      '(default: pretty on a terminal, json otherwise, or ENSEMBLE_LOG_FORMAT)').choices(LOG_FORMATS),
  ];
}

function wholeNumber(flag: string, text: string, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n > max) throw new Error(`${flag} must be ${flag === '--port' ? 'a port number' : 'a whole number'}, got "${text}"`);
  return n;
}

async function runServer(flags: ServerFlags): Promise<void> {
  const log = createLogger({ level: flags.logLevel, format: flags.logFormat });
  let partial: Partial<ServerConfig> = {};
  if (flags.config) {
    const parsed = loadZooCfg(flags.config);
    for (const w of parsed.warnings) log.warn(w);
    partial = parsed.config;
  }
  if (flags.property) {
    const parsed = parseZooCfg(flags.property.join('\n'), '--property');
    for (const w of parsed.warnings) log.warn(w);
    partial = { ...partial, ...parsed.config, sasl: mergeSaslSettings(partial.sasl, parsed.config.sasl) };
  }
  if (flags.port !== undefined) partial.clientPort = wholeNumber('--port', flags.port, 65535);
  if (flags.bind !== undefined) partial.clientPortAddress = flags.bind;
  if (flags.dataDir !== undefined) partial.dataDir = flags.dataDir;
  if (flags.tickTime !== undefined) partial.tickTimeMs = wholeNumber('--tick-time', flags.tickTime, 0x7fffffff);
  const jaasFile = flags.jaas ?? jaasFileFromEnv(process.env);
  if (jaasFile !== undefined) partial.sasl = { ...partial.sasl, jaasFile };
  // Without a zoo.cfg the server is for trying things out: this host only, unless asked otherwise.
  const loopbackByDefault = flags.config === undefined && partial.clientPortAddress === undefined;
  if (loopbackByDefault) partial.clientPortAddress = LOOPBACK;
  const exposure = exposureWarning(partial);
  if (exposure !== undefined) log.warn(exposure);
  if (flags.newEnsemble && !partial.ensemble) log.warn('--new-ensemble is for a member of an ensemble (server.N lines in the zoo.cfg): ignored');
  const { host, port, close, server } = partial.ensemble ? await startMember(partial, { log, newEnsemble: flags.newEnsemble }) : await startServer(partial, { log });
  const listening = `ensemble listening on ${host.includes(':') ? `[${host}]` : host}:${port}`;
  // With only a secure client port (secureClientPort and no clientPort), the next line says where.
  if (partial.clientPortEnabled !== false) log.info(loopbackByDefault ? `${listening} (loopback only, as there is no zoo.cfg: --bind or clientPortAddress to serve other hosts)` : listening);
  const secure = server.secureAddress;
  if (secure) log.info(`ensemble listening for TLS clients on ${secure.host.includes(':') ? `[${secure.host}]` : secure.host}:${secure.port} (secureClientPort)`);
  const stop = (signal: string) => {
    log.info(`${signal}: shutting down`);
    close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** Runs a command that reads its own arguments; resolves with its exit status. */
type Runner = (args: string[]) => Promise<number> | number;

function buildProgram(argv: string[]): Command {
  /**
   * A command that reads its own arguments, exactly as given after its name; commander describes
   * its options for --help. `exit`: the process exits with its status (a client's timers may still
   * be pending).
   */
  const passThrough = (name: string, usage: string, run: Runner, exit: boolean): Command => program
    .command(name)
    .usage(usage)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async () => {
      const code = await run(argv.slice(1));
      if (exit) process.exit(code);
      process.exitCode = code;
    });

  const program = new Command('ensemble')
    .description('A coordination service wire-compatible with Apache ZooKeeper: server, shell and tools.')
    .version(`ensemble ${VERSION}\ncompatible with Apache ZooKeeper ${ZOOKEEPER_VERSION} (servers report ${SERVER_VERSION.zookeeperCompatible})`, '-V, --version')
    .enablePositionalOptions()
    .exitOverride()
    .showHelpAfterError('(ensemble --help lists the commands and their options)')
    .configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}` })
    .addHelpText('after', `\nRun "ensemble <command> --help" for a command's options.\nlogs, snapshot and purge exit with 1 when they find damage, 2 on bad input.\n${LOG_ENV}`);

  const server = program
    .command('server')
    .summary('run a server: standalone, or a member of the ensemble that the zoo.cfg\'s server.N lines describe')
    .description('Runs a server: standalone, or a member of the ensemble that the zoo.cfg\'s server.N lines describe. ' +
      'Flags override --property, which overrides the zoo.cfg.')
    .usage('[options]')
    .option('-c, --config <zoo.cfg>', 'read the settings from this zoo.cfg')
    .option('-p, --port <port>', `client port (clientPort; default: ${DEFAULTS.clientPort})`)
    .option('--bind <address>', `address the client port listens on (clientPortAddress; default: ${LOOPBACK} without --config, every address with one, as ZooKeeper)`)
    .option('--data-dir <dir>', `where snapshots and the log are kept (dataDir; default: ${DEFAULTS.dataDir})`)
    .option('--tick-time <ms>', `the basic time unit: sessions time out within 2 to 20 ticks (tickTime; default: ${DEFAULTS.tickTimeMs})`)
    .option('-D, --property <key=value>', 'a zoo.cfg line (repeatable)', (v: string, all: string[] | undefined) => [...(all ?? []), v])
    .option('--new-ensemble', 'a member of a new ensemble: with no data, it begins with a majority of members that have none ' +
      'either, after waiting initLimit ticks for the rest (without it, a new ensemble waits for every member). ' +
      'For the first start only: members whose data was wiped look new too')
    .option('--jaas <file>', 'SASL DIGEST-MD5: the JAAS file whose Server section lists the users ' +
      '(default: -Djava.security.auth.login.config=FILE in SERVER_JVMFLAGS or JVMFLAGS)');
  for (const o of logOptions()) server.addOption(o);
  server.addHelpText('after', LOG_ENV).action((flags: ServerFlags) => runServer(flags));

  passThrough('cli', '[--quiet | --json] [zkCli options] [command args...]', cliCommand, true)
    .alias('shell')
    .summary('zkCli\'s shell: run one command, or read commands (interactive on a terminal)')
    .description('zkCli\'s shell: run one command and exit with its status, or read commands (interactive on a terminal; ' +
      '"ensemble cli help" lists them). Everything from the first zkCli option or command word on is ' +
      'read as zkCli reads it.')
    .passThroughOptions()
    .option('--quiet', 'only the command\'s own output on stdout (no connection banner or notices)')
    .option('--json', 'the command\'s result as one JSON value on stdout (get: {data, stat}; ls: an array; stat: an object; 64-bit numbers as strings)')
    .addHelpText('after', `
zkCli options:
  -server host:port[,...][/chroot]  the servers (default: localhost:2181)
  -timeout ms                       session timeout (default: 30000)
  -r                                read-only mode
  -waitforconnection                wait for the session before running the command
  --jaas file [--jaas-section name] SASL DIGEST-MD5 as the JAAS file's Client section's user (default:
                                    -Djava.security.auth.login.config in CLIENT_JVMFLAGS, as zkCli.sh)

Environment:
  ENSEMBLE_CLI_HISTORY  the interactive shell's history file (default: ~/.ensemble_cli_history)
`);

  passThrough('cluster', '[options]', clusterCommand, true)
    .summary('an ensemble of N members on this machine, as child processes; prints the connect string')
    .description('An ensemble of N members on this machine, as child processes with their own zoo.cfg; prints the ' +
      'connect string. Ctrl-C stops them all. Ports for member k (from 0): client PORT+k, quorum PORT+10+k, ' +
      'election PORT+20+k.')
    .option('-n, --size <n>', 'members, odd, 1 to 9 (default: 3)')
    .option('--base-port <port>', `the first client port (default: ${DEFAULTS.clientPort})`)
    .option('--dir <dir>', 'keep the members\' zoo.cfg, myid and data there (default: a temporary directory, removed at exit)')
    .option('--tick-time <ms>', `tickTime (default: ${DEFAULTS.tickTimeMs})`)
    .addOption(logOptions()[0])
    .addHelpText('after', LOG_ENV);

  passThrough('demo', '[options]', demoCommand, true)
    .summary('the leader/worker cluster example')
    .description('The leader/worker cluster example: an embedded server (or the given one, or N members as ' +
      'processes) and workers that elect a leader, register, and share a word count.')
    .option('--scenario', 'play four failure scenarios (with --ensemble, members killed mid-job); exit 0 only if all held')
    .option('--herd <n>', 'count the watch notifications a leader\'s death causes among N workers')
    .option('--connect <host:port>', 'use that server (Ensemble or Apache ZooKeeper) (default: an embedded server)')
    .option('--ensemble <n>', 'start a replicated ensemble of N members (odd, at least 3) instead')
    .option('--workers <n>', 'workers (default: 4)')
    .option('--documents <dir>', 'the documents counted (default: the example\'s own)')
    .option('--session-timeout <ms>', 'the workers\' session timeout (default: 4000)');

  passThrough('logs', 'DIR|SEGMENT [options]', logsCommand, false)
    .summary('print the txns of the log segments in DIR (or one segment)')
    .description('Prints every txn of the log segments (log.<zxid>) in DIR, or of one segment, in zxid order, and ' +
      'how each segment ends. Exit 1 if a segment is damaged, 2 on bad input.')
    .option('--from <zxid>', 'first zxid, hex with 0x or decimal (default: the first)')
    .option('--to <zxid>', 'last zxid (default: the last)')
    .option('--json', 'one JSON object per txn');

  passThrough('snapshot', 'DIR|FILE [options]', snapshotCommand, false)
    .summary('summarise the newest snapshot in DIR (or the given one)')
    .description('Summarises the newest snapshot (snapshot.<zxid>) in DIR, or the given one. Exit 1 if it is ' +
      'damaged, 2 on bad input.')
    .option('--json', 'as JSON')
    .option('--nodes', 'list every znode with its stat');

  passThrough('purge', 'DATA_DIR [LOG_DIR] -n COUNT', purgeCommand, false)
    .summary('keep the newest COUNT (>= 3) snapshots and the log they need')
    .description('Keeps the newest COUNT snapshots of DATA_DIR and the log segments of LOG_DIR (default: DATA_DIR) ' +
      'needed to replay from the oldest of them; removes the rest. Exit 2 on bad input.')
    .option('-n, --count <count>', 'snapshots to keep, at least 3 (required)');

  return program;
}

async function main(argv: string[]): Promise<void> {
  const program = buildProgram(argv);
  if (argv.length === 0) {
    program.outputHelp();
    return;
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help and --version end here too, with exit code 0; usage errors exit 2.
    process.exitCode = err.exitCode === 0 ? 0 : 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`ensemble: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
