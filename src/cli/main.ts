/** The `ensemble` command. */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadZooCfg, parseZooCfg, type ServerConfig } from '../server/config.ts';
import { startServer } from '../server/index.ts';
import { startMember } from '../server/quorum/start-member.ts';
import { clusterCommand } from './cluster-command.ts';
import { demoCommand } from './demo-command.ts';
import { cliCommand } from './shell/cli-command.ts';
import { logsCommand, purgeCommand, snapshotCommand } from './storage-tools.ts';

const USAGE = `usage: ensemble <command> [options]

commands:
  cli [-server host:port[,host:port...][/chroot]] [-timeout ms] [-r] [command args...]
                                  zkCli's shell: run one command, or read commands (interactive
                                  on a terminal; "ensemble cli help" lists them)
  server [--port N] [--data-dir DIR] [--config zoo.cfg] [--property key=value]...
                                  run a server: standalone, or a member of the ensemble that
                                  the zoo.cfg's server.N lines describe
  cluster [--size N] [--base-port PORT] [--dir DIR] [--tick-time MS]
                                  an ensemble of N members (odd, default 3) on this machine, as
                                  child processes with their own zoo.cfg; prints the connect
                                  string; Ctrl-C stops them all
  demo [--scenario | --herd N] [--connect host:port | --ensemble N] [--workers N]
                                  the leader/worker cluster example: an embedded server (or the
                                  given one, or N members as processes) and 4 workers that elect
                                  a leader, register, and share a word count; --scenario checks
                                  four failure scenarios (with --ensemble, members killed mid-job)
  logs DIR|SEGMENT [--from ZXID] [--to ZXID] [--json]
                                  print the txns of the log segments in DIR (or one segment)
  snapshot DIR|FILE [--json] [--nodes]
                                  summarise the newest snapshot in DIR (or the given one)
  purge DATA_DIR [LOG_DIR] -n COUNT
                                  keep the newest COUNT (>= 3) snapshots and the log they need

logs, snapshot and purge exit with 1 when they find damage, 2 on bad input.
`;

async function runServer(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      port: { type: 'string', short: 'p' },
      'data-dir': { type: 'string' },
      config: { type: 'string', short: 'c' },
      property: { type: 'string', short: 'D', multiple: true },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const log = pino({ name: 'ensemble', level: process.env.ENSEMBLE_LOG_LEVEL ?? 'info' });
  let partial: Partial<ServerConfig> = {};
  if (values.config) {
    const parsed = loadZooCfg(values.config);
    for (const w of parsed.warnings) log.warn(w);
    partial = parsed.config;
  }
  if (values.property) {
    const parsed = parseZooCfg(values.property.join('\n'), '--property');
    for (const w of parsed.warnings) log.warn(w);
    partial = { ...partial, ...parsed.config };
  }
  if (values.port !== undefined) {
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${values.port}"`);
    partial.clientPort = port;
  }
  if (values['data-dir'] !== undefined) partial.dataDir = values['data-dir'];
  const { host, port, close } = partial.ensemble ? await startMember(partial, { log }) : await startServer(partial, { log });
  log.info(`ensemble listening on ${host.includes(':') ? `[${host}]` : host}:${port}`);
  const stop = (signal: string) => {
    log.info(`${signal}: shutting down`);
    close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'server':
      return runServer(rest);
    case 'cli':
    case 'shell':
      process.exit(await cliCommand(rest));
    case 'cluster':
      process.exit(await clusterCommand(rest));
    case 'demo':
      process.exit(await demoCommand(rest));
    case 'logs':
      process.exitCode = logsCommand(rest);
      return;
    case 'snapshot':
      process.exitCode = snapshotCommand(rest);
      return;
    case 'purge':
      process.exitCode = purgeCommand(rest);
      return;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return;
    default:
      process.stderr.write(`ensemble: unknown command "${command}"\n${USAGE}`);
      process.exitCode = 2;
  }
}

main(process.argv.slice(2)).catch((e: unknown) => {
  process.stderr.write(`ensemble: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
