/**
 * A seeded simulation of a Raft cluster: N cores, each behind a shell that takes a Ready, makes it
 * durable some time later (a sync), and only then sends its messages and applies; a network that
 * drops, delays, duplicates and reorders messages and can be partitioned; members that crash
 * (what was not yet synced is lost) and restart from their disks; ticks that reach members at
 * different rates. One seed, one run.
 *
 * Checked after every event: at most one leader per term; logs that match at an index match
 * before it; every member applies the same payload at each index; an entry once applied by any
 * member is in the log of every later leader (leader completeness); a read point (ReadIndex) is at
 * or after every index committed anywhere when the read was asked. The run ends with a liveness
 * phase: the network healed and every member up, a leader must be elected and commit a proposal
 * within a bound of ticks.
 */
import { Raft, type RaftOptions } from '../../src/server/quorum/core/raft.ts';
import { prng } from '../support/prng.ts';
import { NONE, type Entry, type HardState, type Message, type NodeId, type Ready } from '../../src/server/quorum/core/types.ts';

export const RAFT_BUGS = ['send-before-sync', 'commit-by-counting', 'read-without-quorum'] as const;
export type RaftBug = (typeof RAFT_BUGS)[number];

export interface RaftSimOptions {
  seed: number;
  nodes: number;
  /** Events of the faulty phase. */
  steps: number;
  bug: RaftBug | null;
  /** Trace every delivered message too (for reading a failing seed). */
  verbose?: boolean;
}

export interface RaftSimResult {
  seed: number;
  violation: string | null;
  trace: string[];
  /** Entries committed (applied by the member that applied most). */
  committed: number;
  elections: number;
}

/** Planted bug: a leader commits whatever a quorum holds, whatever its term (figure 8). */
class CountingRaft extends Raft {
  protected override maybeCommit(): boolean {
    const matches = this.voters.map((v) => (v === this.id ? this.log.stable : this.progress.get(v)!.match)).sort((a, b) => b - a);
    const index = matches[this.quorum - 1];
    if (index <= this.log.committed) return false;
    this.log.commitTo(index);
    return true;
  }
}

/** Planted bug: a leader answers a read at once, without a quorum confirming it still leads. */
class UnconfirmedReadRaft extends Raft {
  protected override handleReadIndex(context: string, from: NodeId): void {
    this.answerRead(context, this.log.committed, from);
  }
}

interface Member {
  id: NodeId;
  raft: Raft;
  up: boolean;
  disk: { hardState: HardState; entries: Entry[] };
  /** A Ready taken and not yet synced. */
  pending: Ready | null;
  applied: Entry[];
}

class Violation extends Error {}

export function simulateRaft(options: RaftSimOptions): RaftSimResult {
  const next = prng(options.seed);
  const rng = { next, int: (n: number): number => Math.floor(next() * n) };
  const ids = Array.from({ length: options.nodes }, (_, i) => i + 1);
  const trace: string[] = [];
  const note = (s: string): void => void trace.push(s);
  const net: Message[] = [];
  const cut = new Set<string>();
  const leaders = new Map<number, NodeId>();
  /** Index -> payload applied there (by any member): what every member must apply too. */
  const appliedAt = new Map<number, string>();
  let elections = 0;
  /** Reads asked, by context: the highest index committed anywhere when each was asked. */
  const reads = new Map<string, number>();
  let readCount = 0;
  /** A disk was written since the last log-matching check. */
  let disksChanged = false;
  let proposals = 0;

  // Flow control varies by seed: one entry per append makes some interleavings far likelier.
  const maxEntriesPerMessage = [1, 2, 4][rng.int(3)];
  const maxInflight = [1, 4][rng.int(2)];
  const newRaft = (id: NodeId, disk: Member['disk']): Raft => {
    const o: RaftOptions = {
      id, voters: ids, electionTick: 10, heartbeatTick: 2, preVote: true, checkQuorum: true,
      maxInflight, maxEntriesPerMessage, random: () => rng.next(),
      hardState: disk.hardState, entries: disk.entries,
    };
    if (options.bug === 'commit-by-counting') return new CountingRaft(o);
    if (options.bug === 'read-without-quorum') return new UnconfirmedReadRaft(o);
    return new Raft(o);
  };
  const members = new Map<NodeId, Member>();
  for (const id of ids) {
    const disk = { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] as Entry[] };
    members.set(id, { id, raft: newRaft(id, disk), up: true, disk, pending: null, applied: [] });
  }

  const fail = (what: string): never => {
    throw new Violation(what);
  };

  const send = (msgs: Message[]): void => {
    for (const m of msgs) if (!cut.has(`${m.from}>${m.to}`)) net.push(m);
  };

  /** The shell's sync: persist, then send, then apply, then advance. */
  const sync = (m: Member): void => {
    const r = m.pending;
    if (r === null) return;
    m.pending = null;
    if (r.hardState) m.disk.hardState = r.hardState;
    if (r.entries.length > 0) {
      m.disk.entries.length = r.entries[0].index - 1;
      m.disk.entries.push(...r.entries);
      disksChanged = true;
    }
    if (options.bug !== 'send-before-sync') send(r.messages);
    for (const rs of r.readStates) {
      const floor = reads.get(rs.context);
      if (floor !== undefined && rs.index < floor) fail(`read ${rs.context} at member ${m.id} served at index ${rs.index}, but index ${floor} was committed before it was asked`);
    }
    for (const e of r.committed) {
      m.applied.push(e);
      const payload = e.data === null ? '' : e.data.toString();
      const known = appliedAt.get(e.index);
      if (known !== undefined && known !== payload) fail(`member ${m.id} applied ${JSON.stringify(payload)} at index ${e.index}, another applied ${JSON.stringify(known)}`);
      appliedAt.set(e.index, payload);
    }
    m.raft.advance(r);
  };

  /** The shell takes the next Ready (the buggy shell sends before it is durable). */
  const takeReady = (m: Member): void => {
    if (!m.up || m.pending !== null || !m.raft.hasReady()) return;
    m.pending = m.raft.ready();
    if (options.bug === 'send-before-sync') send(m.pending.messages);
  };

  const check = (): void => {
    for (const m of members.values()) {
      if (!m.up || m.raft.role !== 'leader') continue;
      const r = m.raft;
      const known = leaders.get(r.term);
      if (known !== undefined && known !== r.id) fail(`two leaders in term ${r.term}: ${known} and ${r.id}`);
      if (known === undefined) {
        leaders.set(r.term, r.id);
        elections++;
        note(`member ${r.id} leads term ${r.term}`);
      }
      // Leader completeness: every entry applied anywhere is in this leader's log.
      for (const [index, payload] of appliedAt) {
        const e = r.log.slice(index, index + 1)[0];
        const mine = e === undefined ? undefined : e.data === null ? '' : e.data.toString();
        if (mine !== payload) fail(`leader ${r.id} of term ${r.term} lacks the applied entry ${index} (${JSON.stringify(payload)})`);
      }
    }
    // Log matching over durable logs: same index and term means the same entry.
    if (!disksChanged) return;
    disksChanged = false;
    const disks = [...members.values()].map((m) => m.disk.entries);
    for (let a = 0; a < disks.length; a++) {
      for (let b = a + 1; b < disks.length; b++) {
        const n = Math.min(disks[a].length, disks[b].length);
        for (let i = n - 1; i >= 0; i--) {
          if (disks[a][i].term !== disks[b][i].term) continue;
          for (let j = 0; j <= i; j++) {
            const x = disks[a][j];
            const y = disks[b][j];
            if (x.term !== y.term || String(x.data) !== String(y.data)) fail(`logs of members ${a + 1} and ${b + 1} agree at index ${i + 1} but not at ${j + 1}`);
          }
          break;
        }
      }
    }
  };

  /** The next message: any one in flight when the network reorders, else the oldest. */
  const deliverOne = (reorder: boolean): void => {
    if (net.length === 0) return;
    const [m] = net.splice(reorder ? rng.int(net.length) : 0, 1);
    const to = members.get(m.to)!;
    if (!to.up || cut.has(`${m.from}>${m.to}`)) return;
    if (options.verbose) note(`deliver ${m.type} ${m.from}>${m.to} t${m.term} i${m.index} lt${m.logTerm} n${m.entries?.length ?? '-'} c${m.commit} r${m.reject ?? ''} h${m.rejectHint ?? ''}/${m.rejectHintTerm ?? ''}`);
    to.raft.step(m);
  };

  const crash = (m: Member): void => {
    note(`member ${m.id} crashes${m.pending ? ' (an unsynced Ready lost)' : ''}`);
    m.up = false;
    m.pending = null;
  };

  const restart = (m: Member): void => {
    note(`member ${m.id} restarts at term ${m.disk.hardState.term}`);
    m.up = true;
    m.raft = newRaft(m.id, m.disk);
    m.applied = m.applied.slice(0, m.raft.log.applied);
  };

  const leader = (): Member | null => {
    let best: Member | null = null;
    for (const m of members.values()) if (m.up && m.raft.role === 'leader' && (best === null || m.raft.term > best.raft.term)) best = m;
    return best;
  };

  /** One fault: a message dropped or duplicated, a link cut, the network healed, a crash, a restart. */
  const fault = (): void => {
    const list = [...members.values()];
    const m = list[rng.int(list.length)];
    const roll = rng.next();
    if (roll < 0.3) {
      if (net.length > 0) {
        const i = rng.int(net.length);
        if (rng.next() < 0.5) net.splice(i, 1);
        else net.push(net[i]);
      }
    } else if (roll < 0.5) {
      const a = rng.int(ids.length) + 1;
      const b = rng.int(ids.length) + 1;
      if (a !== b) {
        cut.add(`${a}>${b}`);
        if (rng.next() < 0.7) cut.add(`${b}>${a}`);
        note(`link ${a}-${b} cut`);
      }
    } else if (roll < 0.6) {
      cut.clear();
      note('network healed');
    } else if (roll < 0.7) {
      // Leaders come and go: the interleavings of several terms are where Raft's rules matter.
      const l = leader();
      if (l !== null) crash(l);
    } else if (roll < 0.8) {
      if (m.up) crash(m);
    } else {
      const down = list.filter((x) => !x.up);
      if (down.length > 0) restart(down[rng.int(down.length)]);
    }
  };

  const event = (faulty: boolean): void => {
    if (faulty && rng.next() < 0.03) {
      fault();
      check();
      return;
    }
    const list = [...members.values()];
    const m = list[rng.int(list.length)];
    const roll = rng.next();
    if (roll < 0.35) {
      if (m.up) m.raft.tick();
    } else if (roll < 0.7) {
      deliverOne(faulty);
    } else if (roll < 0.82) {
      takeReady(m);
    } else if (roll < 0.94) {
      sync(m);
    } else if (roll < 0.97) {
      // A read, at any member: it must be served at or after everything committed by now.
      if (m.up) {
        const context = `r${++readCount}`;
        reads.set(context, Math.max(...list.map((x) => x.raft.log.committed)));
        m.raft.readIndex(context);
      }
    } else if (faulty) {
      const l = leader();
      if (l !== null && l.raft.propose(Buffer.from(`p${++proposals}`))) note(`propose p${proposals} at ${l.id}`);
    }
    check();
  };

  try {
    for (let i = 0; i < options.steps; i++) event(true);
    // Liveness: heal everything, restart everyone, deliver in order; a leader must commit a new
    // proposal. Messages of the faulty phase still in flight arrive first.
    cut.clear();
    for (const m of members.values()) if (!m.up) restart(m);
    note('quiet: network healed, every member up');
    const target = `final-${options.seed}`;
    // Proposed again under each new leader: one that loses its leadership may lose the entry.
    let proposedInTerm = -1;
    for (let i = 0; i < 40_000; i++) {
      event(false);
      const l = leader();
      if (l !== null && l.raft.term !== proposedInTerm && l.raft.propose(Buffer.from(target))) proposedInTerm = l.raft.term;
      if ([...members.values()].every((m) => m.applied.some((e) => e.data?.toString() === target))) {
        return { seed: options.seed, violation: null, trace, committed: Math.max(...[...members.values()].map((x) => x.applied.length)), elections };
      }
    }
    const states = [...members.values()].map((m) => `${m.id}: ${m.raft.role} term ${m.raft.term} last ${m.raft.log.lastIndex} committed ${m.raft.log.committed} applied ${m.applied.length}${m.pending ? ' (a Ready unsynced)' : ''}`);
    fail(`liveness: no leader committed a proposal within 40,000 quiet events (${states.join('; ')})`);
  } catch (err) {
    if (!(err instanceof Violation)) throw err;
    return { seed: options.seed, violation: err.message, trace, committed: 0, elections };
  }
  return { seed: options.seed, violation: 'unreachable', trace, committed: 0, elections };
}
