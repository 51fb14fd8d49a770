/**
 * What the demo prints: the cluster seen from outside, through two recipes — a tree cache of the
 * election path (the lowest candidate leads) and service discovery of the registry.
 */
import { EventEmitter } from 'node:events';
import { connect, type ZooKeeperClient } from 'ensemble';
import { ServiceDiscovery, TreeCache, sortBySequence, type RegisteredInstance } from 'ensemble/recipes';
import { ELECTION_PATH, REGISTRY_PATH, type Identity } from './layout.ts';

export class Observer extends EventEmitter {
  leader: string | null = null;
  candidates: string[] = [];
  registered: string[] = [];

  private constructor(
    private readonly zk: ZooKeeperClient,
    private readonly election: TreeCache,
    private readonly discovery: ServiceDiscovery,
    private readonly print: (line: string) => void,
  ) {
    super();
  }

  static async start(connectString: string, print: (line: string) => void): Promise<Observer> {
    const zk = await connect(connectString);
    const observer = new Observer(zk, new TreeCache(zk, ELECTION_PATH, { maxDepth: 1 }), new ServiceDiscovery(zk, { root: REGISTRY_PATH }), print);
    for (const event of ['nodeAdded', 'nodeUpdated', 'nodeRemoved', 'initialized'] as const) observer.election.on(event, () => observer.electionChanged());
    observer.discovery.on('change', (instances: RegisteredInstance[]) => observer.registryChanged(instances));
    await observer.election.start();
    observer.electionChanged();
    observer.registryChanged(await observer.discovery.start());
    return observer;
  }

  private electionChanged(): void {
    const nodes = sortBySequence(this.election.children(ELECTION_PATH));
    const names = nodes.map((n) => identityOf(this.election.get(`${ELECTION_PATH}/${n}`)?.data ?? null)?.name ?? n);
    const leader = names[0] ?? null;
    if (leader !== this.leader) this.print(`» leader: ${leader ?? 'none'}`);
    if (names.join() !== this.candidates.join()) this.print(`» candidates in order: ${names.join(', ') || 'none'}`);
    this.leader = leader;
    this.candidates = names;
    this.emit('change');
  }

  private registryChanged(instances: RegisteredInstance[]): void {
    const names = instances.map((i) => String(i.metadata?.name ?? i.id)).sort();
    if (names.join() === this.registered.join()) return;
    this.registered = names;
    this.print(`» registry: ${names.join(', ') || 'empty'}`);
    this.emit('change');
  }

  async close(): Promise<void> {
    await this.discovery.close();
    await this.election.close();
    await this.zk.close();
  }
}

function identityOf(data: Buffer | null): Identity | null {
  try {
    return data ? (JSON.parse(data.toString('utf8')) as Identity) : null;
  } catch {
    return null;
  }
}
