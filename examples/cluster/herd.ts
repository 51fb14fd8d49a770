/**
 * `ensemble demo --herd N`: the herd effect, measured. N candidates elect a leader two ways and the
 * leader's session then ends; we count the watch notifications its death delivers.
 *
 * - predecessor watches (the LeaderElection recipe): each candidate watches only the candidate
 *   just before it, so the leader's death wakes exactly one, its successor;
 * - the naive way: every candidate watches the leader's node, so its death wakes all N - 1, who
 *   all list the election at once to find out who is next.
 */
import { connect, type ZooKeeperClient } from 'ensemble';
import { LeaderElection, sortBySequence } from 'ensemble/recipes';
import { createRoot, deleteTree } from './cluster.ts';

export interface HerdResult {
  candidates: number;
  /** Notifications the leader's death caused with predecessor watches. */
  predecessor: number;
  /** Notifications the leader's death caused when every candidate watches the leader. */
  naive: number;
  predecessorTakeoverMs: number;
  naiveTakeoverMs: number;
}

/** Time for stray notifications to arrive before counting. */
const SETTLE_MS = 1000;

export async function measureHerd(address: string, candidates: number, print: (line: string) => void): Promise<HerdResult> {
  if (!Number.isInteger(candidates) || candidates < 2) throw new Error('--herd needs at least 2 candidates');
  const root = await createRoot(address);
  let clients: ZooKeeperClient[] = [];
  // One set of sessions at a time: a server allows 60 connections from one address by default.
  const open = async (): Promise<ZooKeeperClient[]> => {
    await Promise.all(clients.map((c) => c.close()));
    clients = await Promise.all(Array.from({ length: candidates }, () => connect(address)));
    return clients;
  };
  try {
    print(`${candidates} candidates, predecessor watches (the LeaderElection recipe)`);
    const a = await open();
    const elections = a.map((zk, i) => new LeaderElection(zk, `${root}/predecessor`, { id: `candidate-${i}` }));
    for (const e of elections) await e.start();
    await elections[0].waitForLeadership({ timeoutMs: 10_000 });
    const p = await killLeader(a[0], () => elections.slice(1).reduce((n, e) => n + e.watchNotifications, 0), () => elections[1].isLeader);
    print(`  the leader's death caused ${p.notifications} watch notification(s); candidate-1 led ${p.takeoverMs} ms after it`);

    print(`${candidates} candidates, every one watching the leader (the naive way)`);
    const b = await open();
    const naive = b.map((zk) => new NaiveCandidate(zk, `${root}/naive`));
    for (const c of naive) await c.start();
    await until(() => naive[0].isLeader);
    const n = await killLeader(b[0], () => naive.slice(1).reduce((sum, c) => sum + c.watchNotifications, 0), () => naive[1].isLeader);
    print(`  the leader's death caused ${n.notifications} watch notification(s); candidate-1 led ${n.takeoverMs} ms after it`);
    return { candidates, predecessor: p.notifications, naive: n.notifications, predecessorTakeoverMs: p.takeoverMs, naiveTakeoverMs: n.takeoverMs };
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    const zk = await connect(address);
    await deleteTree(zk, root);
    await zk.close();
  }
}

/** Lets the candidates settle, closes the leader's session, waits for the successor, counts. */
async function killLeader(leader: ZooKeeperClient, notifications: () => number, successorLeads: () => boolean): Promise<{ notifications: number; takeoverMs: number }> {
  await delay(SETTLE_MS);
  const before = notifications();
  const t0 = Date.now();
  await leader.close();
  await until(successorLeads);
  const takeoverMs = Date.now() - t0;
  await delay(SETTLE_MS);
  return { notifications: notifications() - before, takeoverMs };
}

/** The election that herds: every follower sets a watch on the leader's node. */
class NaiveCandidate {
  isLeader = false;
  watchNotifications = 0;
  private name = '';

  constructor(
    private readonly zk: ZooKeeperClient,
    private readonly dir: string,
  ) {}

  async start(): Promise<void> {
    await this.zk.create(this.dir).catch(() => {});
    const path = await this.zk.create(`${this.dir}/n_`, null, { mode: 'ephemeral_sequential' });
    this.name = path.slice(this.dir.length + 1);
    await this.look();
  }

  private async look(): Promise<void> {
    const leader = sortBySequence(await this.zk.getChildren(this.dir))[0];
    if (leader === this.name) {
      this.isLeader = true;
      return;
    }
    const stat = await this.zk.exists(`${this.dir}/${leader}`, {
      watch: () => {
        this.watchNotifications++;
        void this.look().catch(() => {});
      },
    });
    if (stat === null) await this.look();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function until(condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms`);
    await delay(10);
  }
}
