/**
 * Raft cores wired together in memory for tests: each member's Ready is handled as a shell would
 * (persist to its disk, then send, then apply), messages are delivered in order unless a link is
 * cut or a filter drops them, and time moves only by tick(). The state machine is the list of
 * payloads applied; a snapshot is that list. A member can be restarted from what its disk holds,
 * compact its log, or join the cluster knowing no members.
 */
import { Raft, type RaftOptions } from '../../src/server/quorum/core/raft.ts';
import { prng } from '../support/prng.ts';
import { NONE, type Entry, type HardState, type Message, type NodeId, type Snapshot } from '../../src/server/quorum/core/types.ts';

interface Disk {
  hardState: HardState;
  snapshot?: Snapshot;
  /** The entries after the snapshot. */
  entries: Entry[];
}

interface Member {
  raft: Raft;
  /** The membership it started with. */
  voters: readonly NodeId[];
  disk: Disk;
  /** Entries applied since it started or installed a snapshot. */
  applied: Entry[];
  /** The state machine: payloads applied, no-ops and configuration entries left out. */
  state: string[];
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
  /** Messages for which this returns true are lost. */
  drop: (m: Message) => boolean = () => false;

  constructor(readonly ids: readonly NodeId[], private readonly overrides: Partial<RaftOptions> = {}) {
    for (const id of ids) this.addMember(id, ids);
  }

  /** A member starts; one joining an existing cluster starts knowing no members. */
  addMember(id: NodeId, voters: readonly NodeId[] = []): void {
    const disk: Disk = { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] };
    this.members.set(id, { raft: this.newRaft(id, voters, disk), voters, disk, applied: [], state: [], reads: [] });
  }

  private newRaft(id: NodeId, voters: readonly NodeId[], disk: Disk, recovering = false): Raft {
    return new Raft({
      recovering,
      id, voters, electionTick: 10, heartbeatTick: 1, preVote: true, checkQuorum: true,
      maxInflight: 8, maxEntriesPerMessage: 16,
      // A fixed sequence per cluster: tests are deterministic.
      random: this.random,
      hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries,
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
    for (const other of this.members.keys()) {
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
      for (const m of this.members.values()) m.raft.tick();
      this.stabilize();
    }
  }

  propose(id: NodeId, data: string): boolean {
    return this.raft(id).propose(Buffer.from(data));
  }

  /** The member restarts from its disk; what it had not persisted is gone. It replays what it committed. */
  restart(id: NodeId): void {
    const m = this.members.get(id)!;
    m.raft = this.newRaft(id, m.voters, m.disk);
    m.state = m.disk.snapshot === undefined ? [] : JSON.parse(m.disk.snapshot.data.toString());
    m.applied = m.disk.entries.filter((e) => e.index <= m.disk.hardState.commit);
    for (const e of m.applied) if (e.data !== null) m.state.push(e.data.toString());
  }

  /** The member loses its disk and restarts empty, recovering (RaftOptions.recovering). */
  wipe(id: NodeId): void {
    const m = this.members.get(id)!;
    m.disk = { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] };
    m.raft = this.newRaft(id, m.voters, m.disk, true);
    m.state = [];
    m.applied = [];
  }

  /** The member snapshots its state machine as of what it applied and compacts its log. */
  compact(id: NodeId): Snapshot {
    const m = this.members.get(id)!;
    const snapshot = m.raft.compact(m.raft.log.applied, Buffer.from(JSON.stringify(m.state)));
    m.disk.snapshot = snapshot;
    m.disk.entries = m.disk.entries.filter((e) => e.index > snapshot.index);
    return snapshot;
  }

  /** Handle every Ready and deliver every message until the cluster is quiet. */
  stabilize(): void {
    for (let rounds = 0; rounds < 10_000; rounds++) {
      let busy = false;
      for (const [id, m] of this.members) {
        if (!m.raft.hasReady()) continue;
        busy = true;
        const ready = m.raft.ready();
        if (ready.snapshot) {
          m.disk.snapshot = ready.snapshot;
          m.disk.entries = [];
          m.state = JSON.parse(ready.snapshot.data.toString());
          m.applied = [];
        }
        if (ready.hardState) m.disk.hardState = ready.hardState;
        if (ready.entries.length > 0) {
          const first = ready.entries[0].index;
          m.disk.entries = m.disk.entries.filter((e) => e.index < first);
          m.disk.entries.push(...ready.entries);
        }
        for (const msg of ready.messages) if (!this.cut.has(`${id}>${msg.to}`) && !this.drop(msg)) this.inFlight.push(msg);
        m.applied.push(...ready.committed);
        for (const e of ready.committed) if (e.data !== null) m.state.push(e.data.toString());
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

  /** Payloads applied by a member, in order (no-ops left out), through snapshots and restarts. */
  payloads(id: NodeId): string[] {
    return this.members.get(id)!.state;
  }
}
