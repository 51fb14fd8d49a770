/**
 * The world a transcript acts on: Raft cores, each with an in-memory disk, and the messages in
 * flight between them. Nothing moves unless a command moves it: no clock, and election timeouts
 * are exactly `electionTick` (the random source returns 0) unless a file asks for a seed.
 * Everything a member persists, sends, applies or becomes is written to the output.
 */
import { Raft, type RaftOptions } from '../../../src/server/quorum/core/raft.ts';
import { NONE, type ConfState, type Entry, type HardState, type Message, type NodeId, type Role, type Snapshot } from '../../../src/server/quorum/core/types.ts';
import { prng } from '../../support/prng.ts';

export interface Member {
  readonly id: NodeId;
  raft: Raft;
  readonly options: RaftOptions;
  /** What survives a restart. */
  readonly disk: Disk;
}

export interface Disk {
  hardState: HardState;
  snapshot?: Snapshot;
  /** The entries after the snapshot. */
  entries: Entry[];
}

export type NodeOptions = Omit<RaftOptions, 'id' | 'voters' | 'random' | 'hardState' | 'snapshot' | 'entries'> & { seed?: number };

export class InteractionEnv {
  readonly members = new Map<NodeId, Member>();
  /** Sent and not yet delivered, in the order sent. */
  queue: Message[] = [];
  /** Links that lose every message, as `from>to`. */
  readonly cut = new Set<string>();
  private out: string[] = [];
  private indent = '';

  // ---- output ----

  print(line: string): void {
    this.out.push(this.indent + line);
  }

  /** Runs `f` with its output indented one level more. */
  nested(f: () => void): void {
    const saved = this.indent;
    this.indent += '  ';
    try {
      f();
    } finally {
      this.indent = saved;
    }
  }

  /** The output since the last call. */
  takeOutput(): string {
    const s = this.out.join('\n');
    this.out = [];
    return s;
  }

  // ---- members ----

  addNodes(ids: readonly NodeId[], voters: readonly NodeId[], options: NodeOptions): void {
    for (const id of ids) {
      if (this.members.has(id)) throw new Error(`member ${id} exists`);
      const { seed, ...rest } = options;
      const raftOptions: RaftOptions = { ...rest, id, voters, random: seed === undefined ? () => 0 : prng(seed * 1000 + id) };
      this.members.set(id, { id, raft: new Raft(raftOptions), options: raftOptions, disk: { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] } });
    }
  }

  member(id: NodeId): Member {
    const m = this.members.get(id);
    if (m === undefined) throw new Error(`no member ${id}`);
    return m;
  }

  /** Every member id, or the given ones (checked), in order. */
  ids(given: readonly NodeId[] = []): NodeId[] {
    if (given.length === 0) return [...this.members.keys()].sort((a, b) => a - b);
    for (const id of given) this.member(id);
    return [...given];
  }

  /**
   * Gives member `id` an input, then prints any change of role, term or leader it caused: the
   * core has no log of its own, so this is how a transcript shows elections happen.
   */
  input(id: NodeId, f: (raft: Raft) => void): void {
    const raft = this.member(id).raft;
    const before = roleOf(raft);
    f(raft);
    const after = roleOf(raft);
    if (before.role !== after.role || before.term !== after.term) {
      const lead = after.lead === NONE || after.lead === id ? '' : `, lead ${after.lead}`;
      this.print(`${id} became ${after.role} in term ${after.term}${lead}`);
    } else if (before.lead !== after.lead) {
      this.print(after.lead === NONE ? `${id} lost its leader` : `${id} follows ${after.lead}`);
    }
  }

  /** The member restarts from its disk: whatever it had not persisted is gone. */
  restart(id: NodeId): void {
    const m = this.member(id);
    const { hardState, snapshot, entries } = m.disk;
    m.raft = new Raft({ ...m.options, hardState: { ...hardState }, snapshot, entries: [...entries] });
  }

  /** The member loses its disk and restarts with nothing, recovering (RaftOptions.recovering). */
  wipe(id: NodeId): void {
    const m = this.member(id);
    m.disk.hardState = { term: 0, vote: NONE, commit: 0 };
    delete m.disk.snapshot;
    m.disk.entries = [];
    m.raft = new Raft({ ...m.options, recovering: true });
  }

  /** The member snapshots its state machine (here: the index it is as of) and compacts its log. */
  compact(id: NodeId, index: number): Snapshot {
    const m = this.member(id);
    const snapshot = m.raft.compact(index, Buffer.from(`state@${index}`));
    m.disk.snapshot = snapshot;
    m.disk.entries = m.disk.entries.filter((e) => e.index > index);
    return snapshot;
  }

  // ---- the shell ----

  /** Handles one Ready as a shell does: persist, send, apply, then advance. False if none. */
  processReady(id: NodeId): boolean {
    const m = this.member(id);
    if (!m.raft.hasReady()) return false;
    const ready = m.raft.ready();
    if (ready.snapshot !== null) {
      m.disk.snapshot = ready.snapshot;
      m.disk.entries = [];
      this.print(`persist ${describeSnapshot(ready.snapshot)}`);
    }
    if (ready.hardState !== null) {
      m.disk.hardState = ready.hardState;
      this.print(`persist ${describeHardState(ready.hardState)}`);
    }
    if (ready.entries.length > 0) {
      const first = ready.entries[0].index;
      m.disk.entries = [...m.disk.entries.filter((e) => e.index < first), ...ready.entries];
      this.print(`persist ${describeEntries(ready.entries)}`);
    }
    for (const msg of ready.messages) {
      if (this.isCut(msg)) {
        this.print(`send ${describeMessage(msg)} (dropped)`);
      } else {
        this.queue.push(msg);
        this.print(`send ${describeMessage(msg)}`);
      }
    }
    if (ready.committed.length > 0) this.print(`apply ${describeEntries(ready.committed)}`);
    for (const r of ready.readStates) this.print(`read ctx=${r.context} index=${r.index}`);
    m.raft.advance(ready);
    return true;
  }

  /**
   * Delivers (or drops) the queued messages to `to` that `filter` accepts, in the order sent.
   * Returns how many were handled.
   */
  deliver(to: NodeId, drop: boolean, filter: (m: Message) => boolean = () => true): number {
    const mine = this.queue.filter((m) => m.to === to && filter(m));
    this.queue = this.queue.filter((m) => !mine.includes(m));
    for (const msg of mine) {
      if (drop || this.isCut(msg)) {
        this.print(`dropped ${describeMessage(msg)}`);
        continue;
      }
      this.print(describeMessage(msg));
      this.nested(() => this.input(to, (r) => r.step(msg)));
    }
    return mine.length;
  }

  /** Ready handling and delivery among `ids` until none of them has anything left to do. */
  stabilize(ids: readonly NodeId[]): void {
    for (let round = 0; round < 10_000; round++) {
      let busy = false;
      for (const id of ids) {
        if (!this.member(id).raft.hasReady()) continue;
        busy = true;
        this.print(`> ${id} ready`);
        this.nested(() => this.processReady(id));
      }
      for (const id of ids) {
        if (!this.queue.some((m) => m.to === id)) continue;
        busy = true;
        this.print(`> ${id} receives`);
        this.nested(() => this.deliver(id, false));
      }
      if (!busy) return;
    }
    throw new Error('did not settle in 10000 rounds');
  }

  // ---- the network ----

  isCut(m: Message): boolean {
    return this.cut.has(`${m.from}>${m.to}`);
  }

  cutLink(a: NodeId, b: NodeId): void {
    this.cut.add(`${a}>${b}`);
    this.cut.add(`${b}>${a}`);
  }
}

function roleOf(r: Raft): { role: Role; term: number; lead: NodeId } {
  return { role: r.role, term: r.term, lead: r.lead };
}

// ---- rendering ----

export function describeEntry(e: Entry): string {
  const what = e.conf !== undefined ? `conf ${describeConf(e.conf)}` : e.data === null ? 'noop' : JSON.stringify(e.data.toString());
  return `${e.term}/${e.index} ${what}`;
}

export function describeConf(c: ConfState): string {
  return `voters=(${c.voters.join(',')})${c.learners.length > 0 ? ` learners=(${c.learners.join(',')})` : ''}`;
}

export function describeSnapshot(s: Snapshot): string {
  return `snapshot index=${s.index} term=${s.term} ${describeConf(s.conf)}`;
}

export function describeEntries(es: readonly Entry[]): string {
  return `[${es.map(describeEntry).join(', ')}]`;
}

export function describeHardState(hs: HardState): string {
  return `term=${hs.term} vote=${hs.vote} commit=${hs.commit}`;
}

/** `1->2 app term=1 index=3 logTerm=1 entries=[1/4 "a"] commit=3`: only the fields set. */
export function describeMessage(m: Message): string {
  const parts = [`${m.from}->${m.to} ${m.type} term=${m.term}`];
  if (m.index !== undefined) parts.push(`index=${m.index}`);
  if (m.logTerm !== undefined) parts.push(`logTerm=${m.logTerm}`);
  if (m.entries !== undefined && m.entries.length > 0) parts.push(`entries=${describeEntries(m.entries)}`);
  if (m.commit !== undefined) parts.push(`commit=${m.commit}`);
  if (m.reject !== undefined) parts.push(m.reject ? 'rejected' : 'granted');
  if (m.rejectHint !== undefined) parts.push(`hint=${m.rejectHint}`);
  if (m.rejectHintTerm !== undefined) parts.push(`hintTerm=${m.rejectHintTerm}`);
  if (m.context !== undefined) parts.push(`ctx=${m.context}`);
  if (m.snapshot !== undefined) parts.push(describeSnapshot(m.snapshot));
  return parts.join(' ');
}
