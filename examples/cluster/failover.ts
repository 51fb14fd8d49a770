/**
 * `ensemble demo --ensemble 3 --scenario`: the cluster on a replicated Ensemble whose members fail
 * under it, checked from outside as the other scenarios are.
 *
 * 1. 4 workers start and exactly one leads; the job completes. The workers try the members in a
 *    fixed order, a follower first, so their sessions all start on that follower (cons shows it).
 * 2. In the middle of a job, the member holding the workers' sessions is killed (SIGKILL). The
 *    sessions move to another member; the job is done again, with the right count.
 * 3. The killed member restarts from its data dir and rejoins as a follower.
 * 4. In the middle of a job, the Ensemble leader (srvr's Mode) is killed. The members elect another;
 *    the job is done again, with the right count.
 * 5. The old leader restarts; every member, asked alone, holds the same election and registry,
 *    and they match the workers running.
 *
 * Throughout, a monitor samples every worker's role: two leaders at once fail the run.
 */
import { connect } from 'ensemble';
import { sortBySequence } from 'ensemble/recipes';
import { createRoot, deleteTree, Workers } from './cluster.ts';
import type { LocalEnsemble } from './ensemble.ts';
import { ELECTION_PATH, REGISTRY_PATH, type WorkerStatus } from './layout.ts';
import { Observer } from './observer.ts';
import { Failure, LeaderMonitor, settled, Steps, until, type Settled } from './scenarios.ts';
import { countDocuments, listDocuments, summarise } from './word-count.ts';

export interface FailoverOptions {
  ensemble: LocalEnsemble;
  documentsDir: string;
  sessionTimeoutMs: number;
  /** How long each worker takes over its share: a job lasts about that long. */
  countDelayMs: number;
  print: (line: string) => void;
}

/** Plays the failover scenarios; resolves true only if every check held. */
export async function runFailover(options: FailoverOptions): Promise<boolean> {
  const { ensemble, documentsDir, sessionTimeoutMs, countDelayMs, print } = options;
  const ids = ensemble.members.map((m) => m.id);
  const root = await createRoot(ensemble.connectString());
  const first = await ensemble.leader();
  const followers = ids.filter((id) => id !== first);
  // A follower first, then the leader: the workers start on a follower and move to the leader when it dies.
  const order = [followers[0], first, ...followers.slice(1)];
  const documents = await listDocuments(documentsDir);
  const expected = summarise(await countDocuments(documentsDir, documents));
  print(`cluster root ${root}; session timeout ${sessionTimeoutMs} ms; each share takes ${countDelayMs} ms to count`);
  await printMembers(ensemble, print);
  print(`workers try the members in the order ${order.join(', ')}`);
  print(`expected: ${documents.length} documents, ${expected.totalWords} words, ${expected.distinctWords} distinct`);

  const observer = await Observer.start(`${ensemble.connectString()}${root}`, print);
  const workers = new Workers(`${ensemble.connectString(order)}${root}`, documentsDir, sessionTimeoutMs, (line) => print(`  ${line}`), { hostsInOrder: true, countDelayMs });
  const monitor = new LeaderMonitor(workers);
  const steps = new Steps(print);
  const jobTimeoutMs = 2 * sessionTimeoutMs + 4 * countDelayMs + 20_000;
  const settle = (size: number, after = 0): Promise<Settled> =>
    until(jobTimeoutMs, `one leader, ${size - 1} registered workers, a job after round ${after} done over them`, async () => {
      const s = settled(await workers.statuses(), observer, size, expected, documents);
      if (typeof s !== 'string' && s.result.round <= after) return `the last job done is round ${s.result.round}`;
      return s;
    });

  /** Once the leader is idle, starts a worker, waits until the leader runs the job its joining causes, then kills the member. */
  const killMidJob = async (joining: string, member: number, before: Settled): Promise<{ killedAt: number; sessions: Map<string, string | null> }> => {
    await until(jobTimeoutMs, `${before.leader} idle`, async () => ((await workers.status(before.leader)).job == null ? true : 'a job is running'));
    await workers.start(joining);
    const round = await until(jobTimeoutMs, `${before.leader} running the job ${joining} joining causes`, async () => (await workers.status(before.leader)).job ?? 'no job yet');
    const sessions = new Map((await workers.statuses()).map((s) => [s.name, s.sessionId]));
    const mode = await ensemble.mode(member);
    const pid = ensemble.pid(member);
    await ensemble.kill(member);
    print(`${before.leader} is running job ${round}: killed member ${member} (${mode}, pid ${pid}) with SIGKILL`);
    return { killedAt: Date.now(), sessions };
  };

  /** After the kill: how long until the job was done, which sessions lived on, and where they are. */
  const aftermath = async (killedAt: number, sessions: Map<string, string | null>, state: Settled): Promise<void> => {
    print(`${state.leader} leads; job round ${state.result.round} done over ${state.workers.join(', ')}, ${Date.now() - killedAt} ms after the kill`);
    const now = await workers.statuses();
    const had = now.filter((s) => sessions.get(s.name) != null);
    const kept = had.filter((s) => sessions.get(s.name) === s.sessionId).map((s) => s.name);
    const renewed = had.filter((s) => !kept.includes(s.name)).map((s) => s.name);
    print(`sessions kept: ${kept.length} of ${had.length}${renewed.length > 0 ? ` (new sessions: ${renewed.join(', ')})` : ''}`);
    print(await placement(ensemble, now));
  };

  const rejoin = async (member: number): Promise<void> => {
    ensemble.startMember(member);
    await until(30_000, `member ${member} back as a follower`, async () => ((await ensemble.mode(member)) === 'follower' ? true : 'not yet'));
    print(`member ${member} (pid ${ensemble.pid(member)}) is a follower again`);
  };

  try {
    let state: Settled | undefined;
    let holder = 0;
    await steps.run('1. four workers start and exactly one leads', async () => {
      for (const name of ['worker-1', 'worker-2', 'worker-3', 'worker-4']) await workers.start(name);
      monitor.start();
      state = await settle(4);
      print(`leader ${state.leader}; workers ${state.workers.join(', ')}; job round ${state.result.round} complete`);
      const statuses = await workers.statuses();
      print(await placement(ensemble, statuses));
      holder = (await membersHolding(ensemble, statuses)).get(state.leader) ?? 0;
      if (holder === 0) throw new Failure(`no member's cons lists ${state.leader}'s session`);
    });

    await steps.run('2. the member holding the workers\' sessions dies in the middle of a job', async () => {
      if (!state || holder === 0) throw new Failure('no settled cluster from step 1');
      const { killedAt, sessions } = await killMidJob('worker-5', holder, state);
      state = await settle(5, state.result.round);
      await aftermath(killedAt, sessions, state);
    });

    await steps.run('3. the killed member restarts and rejoins', async () => {
      if (holder === 0) throw new Failure('no member was killed');
      await rejoin(holder);
    });

    let killedLeader = 0;
    await steps.run('4. the Ensemble leader dies in the middle of a job', async () => {
      if (!state) throw new Failure('no settled cluster');
      killedLeader = await ensemble.leader();
      const on = [...(await membersHolding(ensemble, await workers.statuses())).entries()].filter(([, m]) => m === killedLeader).map(([w]) => w);
      print(`member ${killedLeader} leads the Ensemble and holds the sessions of ${on.join(', ') || 'no worker'}`);
      const { killedAt, sessions } = await killMidJob('worker-6', killedLeader, state);
      const next = await ensemble.leader();
      print(`member ${next} leads the Ensemble, ${Date.now() - killedAt} ms after the kill`);
      state = await settle(6, state.result.round);
      await aftermath(killedAt, sessions, state);
    });

    await steps.run('5. the old leader restarts; every member holds the same election and registry', async () => {
      if (!state || killedLeader === 0) throw new Failure('no settled cluster');
      await rejoin(killedLeader);
      const want = { election: observer.candidates, registry: state.workers };
      if (want.election[0] !== state.leader || [...want.election].sort().join() !== workers.names().join()) {
        throw new Failure(`candidates ${want.election.join(', ')}: not every running worker, led by ${state.leader}`);
      }
      for (const id of ids) {
        const view = await until(30_000, `member ${id} answering`, () => layoutOn(ensemble.member(id).address, root));
        print(`member ${id} (${await ensemble.mode(id)}): candidates ${view.election.join(', ')}; registry ${view.registry.join(', ')}`);
        if (view.election.join() !== want.election.join()) throw new Failure(`member ${id} has the candidates ${view.election.join(', ')}, expected ${want.election.join(', ')}`);
        if (view.registry.join() !== want.registry.join()) throw new Failure(`member ${id} has the registry ${view.registry.join(', ')}, expected ${want.registry.join(', ')}`);
      }
    });

    await steps.run('never two leaders at once', async () => {
      monitor.stop();
      if (monitor.violations.length > 0) throw new Failure(monitor.violations.slice(0, 3).join('; '));
      print(`${monitor.samples} samples of every worker's role, at most one leader in each`);
    });
  } finally {
    monitor.stop();
    await workers.stopAll();
    await observer.close();
    const zk = await connect(ensemble.connectString());
    await deleteTree(zk, root);
    await zk.close();
  }
  const passed = steps.report();
  if (!passed) {
    for (const m of ensemble.members) print(`--- member ${m.id}, last lines:\n${m.lastLines.join('\n')}`);
  }
  return passed;
}

async function printMembers(ensemble: LocalEnsemble, print: (line: string) => void): Promise<void> {
  for (const m of ensemble.members) print(`member ${m.id}: ${m.address}, pid ${ensemble.pid(m.id)}, ${(await ensemble.mode(m.id)) ?? 'not answering'}`);
}

/** Each worker's member: the one whose cons lists the worker's session. */
async function membersHolding(ensemble: LocalEnsemble, statuses: WorkerStatus[]): Promise<Map<string, number>> {
  const holding = new Map<string, number>();
  for (const m of ensemble.members) {
    const sessions = new Set(await ensemble.sessions(m.id));
    for (const s of statuses) if (s.sessionId !== null && sessions.has(s.sessionId)) holding.set(s.name, m.id);
  }
  return holding;
}

async function placement(ensemble: LocalEnsemble, statuses: WorkerStatus[]): Promise<string> {
  const holding = await membersHolding(ensemble, statuses);
  const on = ensemble.members.map((m) => {
    const names = statuses.filter((s) => holding.get(s.name) === m.id).map((s) => s.name);
    return `member ${m.id}: ${names.join(', ') || '-'}`;
  });
  return `sessions (from cons): ${on.join('; ')}`;
}

/** The candidates in election order and the registered names, read through that member alone after a sync. */
async function layoutOn(address: string, root: string): Promise<{ election: string[]; registry: string[] }> {
  const zk = await connect(`${address}${root}`);
  try {
    const names = async (path: string, key: (data: Record<string, unknown>) => unknown): Promise<string[]> => {
      await zk.sync(path);
      const out: string[] = [];
      for (const child of path === ELECTION_PATH ? sortBySequence(await zk.getChildren(path)) : (await zk.getChildren(path)).sort()) {
        const { data } = await zk.getData(`${path}/${child}`);
        out.push(String(key(JSON.parse(data?.toString('utf8') ?? '{}') as Record<string, unknown>)));
      }
      return out;
    };
    const election = await names(ELECTION_PATH, (d) => d.name);
    const registry = (await names(REGISTRY_PATH, (d) => (d.metadata as { name?: string } | undefined)?.name)).sort();
    return { election, registry };
  } finally {
    await zk.close();
  }
}
