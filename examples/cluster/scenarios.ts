/**
 * `ensemble demo --scenario`: the four scenarios the cluster must play out, checked from outside
 * (the workers' HTTP status and the znodes), each printed as it happens.
 *
 * 1. 4 workers start and exactly one leads; the others are in the registry; the job completes.
 * 2. The leader is killed (SIGKILL: its session lingers until it expires); exactly one successor
 *    takes over, within the session timeout of the old session's end, and the job completes.
 * 3. The old leader rejoins and becomes a worker; the job is re-split over three.
 * 4. A worker is killed; it vanishes from the registry and the job is re-split over the others.
 *
 * Throughout, a monitor samples every worker's role: two leaders at once fail the run.
 */
import { connect } from 'ensemble';
import { createRoot, deleteTree, Workers } from './cluster.ts';
import type { JobResult, WorkerStatus } from './layout.ts';
import { Observer } from './observer.ts';
import { countDocuments, listDocuments, summarise, type Summary } from './word-count.ts';

export interface ScenarioOptions {
  /** host:port of the server (Ensemble or Apache ZooKeeper). */
  address: string;
  documentsDir: string;
  sessionTimeoutMs: number;
  print: (line: string) => void;
}

const POLL_MS = 100;

export class Failure extends Error {}

/** Runs checked steps one after another, printing ✓ or ✗ for each, and counts them. */
export class Steps {
  passed = 0;
  failed = 0;

  constructor(private readonly print: (line: string) => void) {}

  async run(title: string, body: () => Promise<void>): Promise<void> {
    this.print(`\n== ${title}`);
    try {
      await body();
      this.passed++;
      this.print(`✓ ${title}`);
    } catch (err) {
      this.failed++;
      this.print(`✗ ${title}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  /** Prints the tally; true if every step held. */
  report(): boolean {
    this.print(`\n${this.passed} passed, ${this.failed} failed`);
    return this.failed === 0;
  }
}

/** Plays the four scenarios; resolves true only if every check held. */
export async function runScenarios(options: ScenarioOptions): Promise<boolean> {
  const { address, documentsDir, sessionTimeoutMs, print } = options;
  const root = await createRoot(address);
  const connectString = `${address}${root}`;
  print(`cluster root ${root} on ${address}; session timeout ${sessionTimeoutMs} ms`);
  const documents = await listDocuments(documentsDir);
  const expected = summarise(await countDocuments(documentsDir, documents));
  print(`expected: ${documents.length} documents, ${expected.totalWords} words, ${expected.distinctWords} distinct`);

  const observer = await Observer.start(connectString, print);
  const workers = new Workers(connectString, documentsDir, sessionTimeoutMs, (line) => print(`  ${line}`));
  const monitor = new LeaderMonitor(workers);
  const steps = new Steps(print);
  const scenario = (title: string, body: () => Promise<void>): Promise<void> => steps.run(title, body);
  const jobTimeoutMs = 2 * sessionTimeoutMs + 10_000;

  try {
    let leader = '';
    let oldLeader = '';
    await scenario('1. four workers start and exactly one leads', async () => {
      for (const name of ['worker-1', 'worker-2', 'worker-3', 'worker-4']) await workers.start(name);
      monitor.start();
      const state = await until(jobTimeoutMs, 'one leader, three registered workers, the job done over them', async () => settled(await workers.statuses(), observer, 4, expected, documents));
      leader = state.leader;
      print(`leader ${leader}; workers ${state.workers.join(', ')}; job round ${state.result.round} complete`);
    });

    await scenario('2. the leader is killed and exactly one successor takes over', async () => {
      if (!leader) throw new Failure('no leader from scenario 1');
      const old = leader;
      const killedAt = Date.now();
      let goneAt = 0;
      const onChange = (): void => {
        if (goneAt === 0 && !observer.candidates.includes(old)) goneAt = Date.now();
      };
      observer.on('change', onChange);
      await workers.kill(old);
      print(`killed ${old} (SIGKILL)`);
      const state = await until(jobTimeoutMs, 'a new leader, the job done over the two workers left', async () => settled(await workers.statuses(), observer, 3, expected, documents));
      observer.off('change', onChange);
      const electedAt = Date.now();
      leader = state.leader;
      if (goneAt === 0) goneAt = electedAt;
      print(`${old}'s session ended ${goneAt - killedAt} ms after the kill; ${leader} led and finished the job ${electedAt - goneAt} ms later`);
      if (electedAt - goneAt > sessionTimeoutMs) throw new Failure(`the takeover took ${electedAt - goneAt} ms after the old session ended, more than the session timeout`);
      oldLeader = old;
    });

    await scenario('3. the old leader rejoins and becomes a worker', async () => {
      const old = oldLeader;
      if (!old || !leader) throw new Failure('no earlier leader');
      await workers.start(old);
      const state = await until(jobTimeoutMs, `${old} a worker, the job done over three workers`, async () => {
        const s = settled(await workers.statuses(), observer, 4, expected, documents);
        if (typeof s === 'string') return s;
        if (s.leader !== leader) return `the leader changed to ${s.leader}`;
        if (!s.workers.includes(old)) return `${old} is not among the job's workers yet`;
        return s;
      });
      print(`${old} is a worker under ${state.leader}; job round ${state.result.round} over ${state.workers.join(', ')}`);
    });

    await scenario('4. a worker dies, leaves the registry, and the job is re-split over the others', async () => {
      const victim = workers.names().find((n) => n !== leader && n !== oldLeader);
      if (!victim) throw new Failure('no worker to kill');
      await workers.kill(victim);
      print(`killed ${victim} (SIGKILL)`);
      const state = await until(jobTimeoutMs, `${victim} gone from the registry and the job re-split`, async () => {
        const s = settled(await workers.statuses(), observer, 3, expected, documents);
        if (typeof s === 'string') return s;
        if (s.leader !== leader) return `the leader changed to ${s.leader}`;
        return s;
      });
      print(`registry ${observer.registered.join(', ')}; job round ${state.result.round} over ${state.workers.join(', ')}`);
    });

    await scenario('never two leaders at once', async () => {
      monitor.stop();
      if (monitor.violations.length > 0) throw new Failure(monitor.violations.slice(0, 3).join('; '));
      print(`${monitor.samples} samples of every worker's role, at most one leader in each`);
    });
  } finally {
    monitor.stop();
    await workers.stopAll();
    await observer.close();
    const zk = await connect(address);
    await deleteTree(zk, root);
    await zk.close();
  }
  return steps.report();
}

export interface Settled {
  leader: string;
  workers: string[];
  result: JobResult;
}

/**
 * The cluster at rest with `size` workers running: exactly one leader (the lowest candidate), every
 * other worker registered and not leading, and the leader's latest job run over exactly them, with
 * the right counts. A string says what is not there yet.
 */
export function settled(statuses: WorkerStatus[], observer: Pick<Observer, 'leader' | 'registered'>, size: number, expected: Summary, documents: string[]): Settled | string {
  if (statuses.length !== size) return `${statuses.length} of ${size} workers answer`;
  const leaders = statuses.filter((s) => s.role === 'leader');
  if (leaders.length !== 1) return `${leaders.length} workers say they lead`;
  const leader = leaders[0].name;
  if (observer.leader !== leader) return `${leader} leads but the lowest candidate is ${observer.leader}`;
  const others = statuses.filter((s) => s.name !== leader).map((s) => s.name).sort();
  if (statuses.some((s) => s.role === 'joining')) return 'a worker is still joining';
  if (observer.registered.join() !== others.join()) return `registry ${observer.registered.join(', ')}, expected ${others.join(', ')}`;
  const result = leaders[0].result;
  if (!result) return 'no job result yet';
  const workers = Object.keys(result.assignments).sort();
  if (workers.join() !== others.join()) return `job round ${result.round} ran over ${workers.join(', ')}, expected ${others.join(', ')}`;
  const counted = Object.values(result.assignments).flat().sort();
  if (counted.join() !== documents.join()) return `job round ${result.round} counted ${counted.length} documents, not each of ${documents.length} once`;
  if (result.totalWords !== expected.totalWords || result.distinctWords !== expected.distinctWords || JSON.stringify(result.top) !== JSON.stringify(expected.top)) {
    return `job round ${result.round} counted ${result.totalWords} words (${result.distinctWords} distinct), expected ${expected.totalWords} (${expected.distinctWords})`;
  }
  return { leader, workers, result };
}

/** Re-evaluates check until it returns a value, or fails after timeoutMs with what was missing last. */
export async function until<T>(timeoutMs: number, what: string, check: () => Promise<T | string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const outcome = await check().catch((err: unknown) => (err instanceof Error ? err.message : String(err)));
    if (typeof outcome !== 'string') return outcome;
    last = outcome;
    if (Date.now() > deadline) throw new Failure(`not within ${timeoutMs} ms: ${what} (last: ${last})`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Samples every worker's role in the background; more than one leader in a sample is a violation. */
export class LeaderMonitor {
  samples = 0;
  readonly violations: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(private readonly workers: Workers) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), POLL_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const leaders = (await this.workers.statuses()).filter((s) => s.role === 'leader').map((s) => s.name);
      this.samples++;
      if (leaders.length > 1) this.violations.push(`${leaders.join(' and ')} both led at ${new Date().toISOString()}`);
    } finally {
      this.busy = false;
    }
  }
}
