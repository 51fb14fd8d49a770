/**
 * `ensemble demo`: the leader/worker cluster.
 *
 *   ensemble demo                         an embedded server and 4 workers; prints each change of
 *                                         leadership and membership until Ctrl-C
 *   ensemble demo --scenario              plays the four scenarios; exit status 0 only if all held
 *   ensemble demo --herd 50               counts the watch notifications a leader's death causes,
 *                                         predecessor watches against everyone watching the leader
 *   --connect host:port                   use that server (Ensemble or Apache ZooKeeper) instead
 *   --ensemble N                          start a replicated Ensemble of N members (processes)
 *                                         instead; with --scenario, kill members under the cluster
 *   --workers N  --documents DIR  --session-timeout MS
 */
import { parseArgs } from 'node:util';
import { connect } from 'ensemble';
import { createRoot, DEFAULT_DOCUMENTS, deleteTree, openServer, Workers } from './cluster.ts';
import { LocalEnsemble } from './ensemble.ts';
import { runFailover } from './failover.ts';
import { measureHerd } from './herd.ts';
import { Observer } from './observer.ts';
import { runScenarios } from './scenarios.ts';

/** Each worker's pause over its share in the failover scenarios: long enough to kill a member mid-job. */
const FAILOVER_COUNT_DELAY_MS = 1500;

const print = (line: string): void => void process.stdout.write(`${line}\n`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      connect: { type: 'string' },
      ensemble: { type: 'string' },
      scenario: { type: 'boolean', default: false },
      herd: { type: 'string' },
      workers: { type: 'string', default: '4' },
      documents: { type: 'string', default: DEFAULT_DOCUMENTS },
      'session-timeout': { type: 'string', default: '4000' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    print('usage: ensemble demo [--scenario | --herd N] [--connect host:port | --ensemble N] [--workers N] [--documents DIR] [--session-timeout MS]');
    return 0;
  }
  const sessionTimeoutMs = positive(values['session-timeout'], '--session-timeout');
  if (values.ensemble !== undefined && values.connect !== undefined) throw new Error('--ensemble and --connect exclude each other');
  const size = values.ensemble === undefined ? 0 : positive(values.ensemble, '--ensemble');
  if (values.ensemble !== undefined && (size < 3 || size % 2 === 0)) throw new Error(`--ensemble needs an odd number of members, at least 3, got ${size}`);
  const ensemble = size > 0 ? await LocalEnsemble.start(size) : null;
  const server = ensemble ? { address: ensemble.connectString(), close: () => ensemble.close() } : await openServer(values.connect);
  if (ensemble) {
    print(`Ensemble of ${size} members on ${server.address}, tickTime ${ensemble.tickTimeMs} ms; member ${await ensemble.leader()} leads`);
  } else {
    print(values.connect ? `using the server at ${server.address}` : `embedded Ensemble server on ${server.address}`);
  }
  try {
    if (values.herd !== undefined) {
      const result = await measureHerd(server.address, positive(values.herd, '--herd'), print);
      print(`herd: ${result.candidates} candidates; leader's death → ${result.predecessor} notification(s) with predecessor watches, ${result.naive} when everyone watches the leader`);
      return result.predecessor === 1 && result.naive === result.candidates - 1 ? 0 : 1;
    }
    if (values.scenario && ensemble) {
      return (await runFailover({ ensemble, documentsDir: values.documents, sessionTimeoutMs, countDelayMs: FAILOVER_COUNT_DELAY_MS, print })) ? 0 : 1;
    }
    if (values.scenario) {
      return (await runScenarios({ address: server.address, documentsDir: values.documents, sessionTimeoutMs, print })) ? 0 : 1;
    }
    await runUntilInterrupted(server.address, positive(values.workers, '--workers'), values.documents, sessionTimeoutMs);
    return 0;
  } finally {
    await server.close();
  }
}

async function runUntilInterrupted(address: string, count: number, documentsDir: string, sessionTimeoutMs: number): Promise<void> {
  const root = await createRoot(address);
  const connectString = `${address}${root}`;
  print(`cluster root ${root}; ${count} workers; Ctrl-C stops`);
  const observer = await Observer.start(connectString, print);
  const workers = new Workers(connectString, documentsDir, sessionTimeoutMs, (line) => print(`  ${line}`));
  const interrupted = new Promise<void>((resolve) => {
    // `on`, not `once`: from a terminal Ctrl-C arrives twice (directly and through `ensemble demo`).
    process.on('SIGINT', () => resolve());
    process.on('SIGTERM', () => resolve());
  });
  try {
    for (let i = 1; i <= count; i++) await workers.start(`worker-${i}`);
    await interrupted;
    print('stopping');
  } finally {
    await workers.stopAll();
    await observer.close();
    const zk = await connect(address);
    await deleteTree(zk, root);
    await zk.close();
  }
}

function positive(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} needs a positive whole number, got "${text}"`);
  return n;
}

// Started by `ensemble demo`: a run that outlives it would leave its workers behind.
process.once('disconnect', () => process.exit(1));

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`ensemble demo: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
