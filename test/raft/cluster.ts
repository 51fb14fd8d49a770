/**
 * Raft cores wired together in memory for tests: each member's Ready is handled as a shell would
 * (persist to its disk, then send, then apply), messages are delivered in order unless a link is
 * cut, and time moves only by tick(). A member can be restarted from what its disk holds.
 */
import { Raft, type RaftOptions } from '../../src/server/quorum/core/raft.ts';
import { prng } from '../support/prng.ts';
import { NONE, type Entry, type HardState, type Message, type NodeId } from '../../src/server/quorum/core/types.ts';

interface Member {
  raft: Raft;
  disk: { hardState: HardState; entries: Entry[] };
  applied: Entry[];
  /** Read states out of its Readys: `context@index`. */
  reads: string[];
}

export class TestCluster {
  readonly members = new Map<NodeId, Member>();
  private readonly inFlight: Message[] = [];
  private readonly cut = new Set<string>();
  /** Every (term, leader) seen: a term with two leaders is a safety violation. */
  private readonly leaders = new Map<number, NodeId>();
  private readonly random = prng(1);
  /** Each leader's commit index as last seen, by member and term. */
  private readonly commits = new Map<string, number>();

  constructor(readonly ids: readonly NodeId[], private readonly overrides: Partial<RaftOptions> = {}) {
    for (const id of ids) this.members.set(id, { raft: this.newRaft(id), disk: { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] }, applied: [], reads: [] });
  }

  private newRaft(id: NodeId, disk?: Member['disk']): Raft {
    return new Raft({
      id, voters: this.ids, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true,
      maxInflight: 8, maxEntriesPerMessage: 16,
      // A fixed sequence per cluster: tests are deterministic.
      random: this.random,
      hardState: disk?.hardState, entries: disk?.entries,
      ...this.overrides,
    });
  }

  raft(id: NodeId): Raft {
    return this.members.get(id)!.raft;
  }

  applied(id: NodeId): Entry[] {
    return this.members.get(id)!.applied;
  }

  /** The leader of the highest term, if any member leads. */
  leader(): NodeId | null {
    let best: Raft | null = null;
    for (const m of this.members.values()) if (m.raft.role === 'leader' && (best === null || m.raft.term > best.term)) best = m.raft;
    return best?.id ?? null;
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}>${other}`);
      this.cut.add(`${other}>${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.raft(id).tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const id of this.ids) this.raft(id).tick();
      this.stabilize();
    }
  }

  propose(id: NodeId, data: string): boolean {
    return this.raft(id).propose(Buffer.from(data));
  }

  /** The member restarts from its disk; what it had not persisted is gone. */
  restart(id: NodeId): void {
    const m = this.members.get(id)!;
    m.raft = this.newRaft(id, m.disk);
    m.applied = m.applied.slice(0, m.disk.hardState.commit);
  }

  /** Handle every Ready and deliver every message until the cluster is quiet. */
  stabilize(): void {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      let busy = false;
      for (const [id, m] of this.members) {
        if (!m.raft.hasReady()) continue;
        busy = true;
        const ready = m.raft.ready();
        if (ready.hardState) m.disk.hardState = ready.hardState;
        if (ready.entries.length > 0) {
          m.disk.entries.length = ready.entries[0].index - 1;
          m.disk.entries.push(...ready.entries);
        }
        for (const msg of ready.messages) if (!this.cut.has(`${id}>${msg.to}`)) this.inFlight.push(msg);
        m.applied.push(...ready.committed);
        for (const r of ready.readStates) m.reads.push(`${r.context}@${r.index}`);
        m.raft.advance(ready);
        this.checkLeader(m.raft);
      }
      const deliver = this.inFlight.splice(0);
      for (const msg of deliver) {
        const to = this.members.get(msg.to)?.raft;
        if (to === undefined) continue;
        to.step(msg);
        this.checkLeader(to);
      }
      if (!busy && deliver.length === 0) return;
    }
    throw new Error('the cluster did not settle');
  }

  /**
   * At most one leader per term, and a leader moves its commit index only onto an entry of its own
   * term (earlier terms' entries commit with it, never by being counted).
   */
  private checkLeader(r: Raft): void {
    if (r.role !== 'leader') return;
    const key = `${r.id}@${r.term}`;
    const before = this.commits.get(key) ?? r.log.committed;
    if (r.log.committed > before && r.log.term(r.log.committed) !== r.term) {
      throw new Error(`leader ${r.id} of term ${r.term} committed index ${r.log.committed} of term ${r.log.term(r.log.committed)}`);
    }
    this.commits.set(key, r.log.committed);
    const known = this.leaders.get(r.term);
    if (known !== undefined && known !== r.id) throw new Error(`two leaders in term ${r.term}: ${known} and ${r.id}`);
    this.leaders.set(r.term, r.id);
  }

  reads(id: NodeId): string[] {
    return this.members.get(id)!.reads;
  }

  /** Payloads applied by a member, in order (no-ops left out). */
  payloads(id: NodeId): string[] {
    return this.applied(id).filter((e) => e.data !== null).map((e) => e.data!.toString());
  }
}
