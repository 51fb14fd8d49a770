/**
 * One worker of the demo cluster. It serves HTTP on loopback, joins the leader election and
 * registers in the service registry. As a worker it counts the words of the documents the leader
 * sends it. Elected leader, it takes itself out of the registry, discovers the workers, splits the
 * job over them, merges their counts and serves the result; each change of membership re-runs it.
 *
 *   node --import tsx examples/cluster/worker.ts --connect 127.0.0.1:2181/demo --name worker-1
 *
 * It prints one line per transition. SIGTERM closes its session (its znodes go at once); SIGKILL
 * leaves them to the session timeout, as a crash does.
 */
import { parseArgs } from 'node:util';
import { connect, type ZooKeeperClient } from 'ensemble';
import { ConnectionStateTracker, LeaderElection, ServiceDiscovery, ServiceRegistry, type RegisteredInstance, type Registration, type RevokeReason } from 'ensemble/recipes';
import { call, serve } from './http.ts';
import { ELECTION_PATH, REGISTRY_PATH, type Identity, type JobResult, type Role, type WorkerStatus } from './layout.ts';
import { runJob } from './job.ts';
import { countDocuments, listDocuments, summarise } from './word-count.ts';

interface Options {
  connectString: string;
  name: string;
  documentsDir: string;
  sessionTimeoutMs: number;
  /** Try the connect string's servers in the order given (the client shuffles them by default). */
  hostsInOrder: boolean;
  /** A pause before each count is answered: long jobs, to fail a server in the middle of one. */
  countDelayMs: number;
}

class Worker {
  private role: Role = 'joining';
  private client: ZooKeeperClient | null = null;
  private election: LeaderElection | null = null;
  private registration: Registration | null = null;
  private discovery: ServiceDiscovery | null = null;
  private result: JobResult | null = null;
  private round = 0;
  private running: number | null = null;
  private job: Promise<void> | null = null;
  private rerun = false;
  private port = 0;
  private stopping = false;

  constructor(private readonly options: Options) {}

  private log(message: string): void {
    process.stdout.write(`${this.options.name}: ${message}\n`);
  }

  async run(): Promise<void> {
    const { port } = await serve({
      'GET /status': () => this.status(),
      'GET /result': () => this.result,
      'POST /count': (body) => this.count(body),
    });
    this.port = port;
    this.log(`listening on 127.0.0.1:${port}`);
    while (!this.stopping) {
      try {
        await this.session();
      } catch (err) {
        if (this.stopping) break;
        this.log(`session failed (${err instanceof Error ? err.message : String(err)}); joining again`);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** One session: join, then serve until it is lost. */
  private async session(): Promise<void> {
    const client = await connect(this.options.connectString, { sessionTimeoutMs: this.options.sessionTimeoutMs, shuffleHosts: !this.options.hostsInOrder });
    this.client = client;
    const ended = new Promise<string>((resolve) => client.on('state', (s) => (s === 'Expired' || s === 'Closed' || s === 'AuthFailed') && resolve(s)));
    client.on('state', (s) => {
      if (s === 'Disconnected') this.log('connection lost; session suspended');
      if (s === 'SyncConnected') this.log(`connected (session 0x${client.sessionId.toString(16)})`);
    });
    // Cut off for longer than the session timeout, the session is as good as expired (and our
    // election over): start over with a new one even if this one were to come back.
    const states = new ConnectionStateTracker(client);
    states.on('change', (state) => {
      if (state === 'LOST' && !this.stopping) void client.close();
    });
    const identity: Identity = { name: this.options.name, host: '127.0.0.1', port: this.port };
    this.registration = await new ServiceRegistry(client, { root: REGISTRY_PATH }).register({ host: identity.host, port: identity.port, metadata: { name: identity.name } });
    this.role = 'worker';
    this.log(`registered as ${this.registration.id}`);
    const election = new LeaderElection(client, ELECTION_PATH, { id: JSON.stringify(identity) });
    this.election = election;
    election.on('elected', () => void this.lead(client));
    election.on('revoked', (reason: RevokeReason) => void this.follow(client, reason));
    election.on('error', (err: unknown) => this.log(`election error: ${err instanceof Error ? err.message : String(err)}`));
    await election.start();
    this.log(`candidate ${election.ourPath}`);
    const how = await ended;
    if (this.stopping) return;
    states.close();
    this.log(`session ${how === 'Expired' ? 'expired' : 'lost'}; joining again with a new session`);
    this.role = 'joining';
    await this.discovery?.close().catch(() => {});
    this.discovery = null;
    this.registration = null;
    this.election = null;
  }

  private async lead(client: ZooKeeperClient): Promise<void> {
    this.role = 'leader';
    this.log('elected leader');
    await this.registration?.unregister();
    this.registration = null;
    this.log('left the registry to lead');
    const discovery = new ServiceDiscovery(client, { root: REGISTRY_PATH });
    this.discovery = discovery;
    discovery.on('change', (instances: RegisteredInstance[]) => {
      this.log(`workers: ${names(instances).join(', ') || 'none'}`);
      this.schedule();
    });
    const instances = await discovery.start();
    this.log(`workers: ${names(instances).join(', ') || 'none'}`);
    this.schedule();
  }

  private async follow(client: ZooKeeperClient, reason: RevokeReason): Promise<void> {
    this.log(`no longer leader (${reason})`);
    this.role = 'worker';
    const discovery = this.discovery;
    this.discovery = null;
    await discovery?.close();
    // Suspended, the session may return with our node still first, and we lead again; lost, the
    // session is over. Only a leader that gave way (stepped down, node deleted) registers again.
    if ((reason !== 'stepped_down' && reason !== 'deleted') || this.registration !== null) return;
    this.registration = await new ServiceRegistry(client, { root: REGISTRY_PATH }).register({ host: '127.0.0.1', port: this.port, metadata: { name: this.options.name } });
    this.log(`registered as ${this.registration.id}`);
  }

  /** Runs the job now, or once more after the one running. */
  private schedule(): void {
    if (this.job) {
      this.rerun = true;
      return;
    }
    this.job = this.runJob()
      .catch((err: unknown) => this.log(`job failed: ${err instanceof Error ? err.message : String(err)}`))
      .finally(() => {
        this.job = null;
        if (this.rerun && this.role === 'leader') {
          this.rerun = false;
          this.schedule();
        }
      });
  }

  private async runJob(): Promise<void> {
    const round = ++this.round;
    this.running = round;
    try {
      await this.countRound(round);
    } finally {
      this.running = null;
    }
  }

  private async countRound(round: number): Promise<void> {
    const documents = await listDocuments(this.options.documentsDir);
    const outcome = await runJob(documents, this.discovery?.instances ?? [], {
      name: nameOf,
      count: async (w, share) => new Map((await call<{ counts: [string, number][] }>(w.host, w.port, '/count', { documents: share })).counts),
      failed: (w, share, err) => this.log(`job ${round}: ${nameOf(w)} failed (${err instanceof Error ? err.message : String(err)}); its ${share.length} documents go to the others`),
      proceed: () => this.role === 'leader',
    });
    if (this.role !== 'leader') {
      this.log(`job ${round} abandoned: no longer leading`);
      return;
    }
    if (outcome === null) {
      this.log(`job ${round}: no workers left to run it`);
      return;
    }
    this.result = { round, documents: documents.length, assignments: outcome.assignments, ...summarise(outcome.counts) };
    const workers = Object.keys(outcome.assignments).sort();
    const top = this.result.top.slice(0, 3).map(([w, n]) => `${w} ${n}`).join(', ');
    this.log(`job ${round} done: ${documents.length} documents over ${workers.length} workers (${workers.join(', ')}): ${this.result.totalWords} words, ${this.result.distinctWords} distinct; top ${top}`);
  }

  private async count(body: unknown): Promise<{ worker: string; counts: [string, number][] }> {
    const requested = (body as { documents?: unknown })?.documents;
    if (!Array.isArray(requested)) throw new Error('expected { documents: string[] }');
    const known = new Set(await listDocuments(this.options.documentsDir));
    const unknown = requested.filter((d) => typeof d !== 'string' || !known.has(d));
    if (unknown.length > 0) throw new Error(`unknown documents: ${unknown.join(', ')}`);
    if (this.options.countDelayMs > 0) await new Promise((r) => setTimeout(r, this.options.countDelayMs));
    const counts = await countDocuments(this.options.documentsDir, requested as string[]);
    this.log(`counted ${requested.length} documents for the leader`);
    return { worker: this.options.name, counts: [...counts] };
  }

  private status(): WorkerStatus {
    const id = this.client?.sessionId;
    return { name: this.options.name, pid: process.pid, role: this.role, sessionId: id ? `0x${id.toString(16)}` : null, job: this.running, result: this.role === 'leader' ? this.result : null };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    await this.discovery?.close().catch(() => {});
    await this.election?.close().catch(() => {});
    await this.client?.close();
  }
}

function nameOf(instance: RegisteredInstance): string {
  return String(instance.metadata?.name ?? instance.id);
}

function names(instances: RegisteredInstance[]): string[] {
  return instances.map(nameOf).sort();
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      connect: { type: 'string' },
      name: { type: 'string' },
      documents: { type: 'string' },
      'session-timeout': { type: 'string', default: '4000' },
      'hosts-in-order': { type: 'boolean', default: false },
      'count-delay': { type: 'string', default: '0' },
    },
    strict: true,
  });
  if (!values.connect || !values.name || !values.documents) throw new Error('usage: worker.ts --connect host:port[/root] --name NAME --documents DIR [--session-timeout MS] [--hosts-in-order] [--count-delay MS]');
  const worker = new Worker({ connectString: values.connect, name: values.name, documentsDir: values.documents, sessionTimeoutMs: Number(values['session-timeout']), hostsInOrder: values['hosts-in-order'], countDelayMs: Number(values['count-delay']) });
  const stop = (): void => void worker.stop().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Started by the demo: stop when it is gone.
  process.on('disconnect', stop);
  await worker.run();
}

main().catch((err: unknown) => {
  process.stderr.write(`worker: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
