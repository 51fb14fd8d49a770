/**
 * A seeded simulation of a Raft cluster: N cores, each behind a shell that takes a Ready, makes it
 * durable some time later (a sync), and only then sends its messages and applies; a network that
 * drops, delays, duplicates and reorders messages and can be partitioned; members that crash and
 * restart from their disks, or pause (a stopped process: no ticks, no syncs, messages to it held
 * until it goes on); ticks that reach members at different rates (each member's clock runs at its
 * own rate, drawn from the seed). A member whose disk was wiped learns the newest term of enough
 * other members before it takes any message, as an Ensemble member does. A crash during a sync
 * may tear it: some of the Ready reached the disk, none of its messages left (see tear()). Clients
 * run a key-value workload (sim/kv.ts) against the cluster. One seed, one run.
 *
 * Checked after every event: at most one leader per term; logs that match at an index match
 * before it; every member applies the same payload at each index; an entry committed in a term is
 * in the log of every leader of a later term (leader completeness); a read point (ReadIndex) is at
 * or after every index committed anywhere when the read was asked. The run ends with a liveness
 * phase: the network healed and every member up, a leader must be elected and commit a proposal
 * within a bound of events. Then the clients' history must be linearizable.
 */
import type { Raft, RaftOptions } from '../../src/server/quorum/core/raft.ts';
import { prng } from '../support/prng.ts';
import { checkLinearizable } from '../support/linearizability.ts';
import { NONE, type ConfChange, type ConfState, type Entry, type HardState, type Message, type NodeId, type Ready, type Snapshot } from '../../src/server/quorum/core/types.ts';
import { newRaft as plantedRaft, RAFT_BUGS, type RaftBug } from './sim/plants.ts';
import { KEYS, applyWrite, decodeWrite, describeCall, encodeWrite, history, readContext, type Call } from './sim/kv.ts';

export { RAFT_BUGS, type RaftBug };

export interface RaftSimOptions {
  seed: number;
  nodes: number;
  /** Events of the faulty phase. */
  steps: number;
  /** Instead: the faulty phase lasts until this many ticks have reached members. */
  ticks?: number;
  bug: RaftBug | null;
  /** Clock skew: each member's tick rate is drawn from [1 - skew, 1 + skew]. Default 0.5. */
  skew?: number;
  /** Client ops per run (the linearizability check's size). Default 60. */
  ops?: number;
  /** Trace every delivered message too (for reading a failing seed). */
  verbose?: boolean;
  /**
   * Some crashes also lose the member's whole disk: it restarts recovering (RaftOptions.recovering).
   * One member at a time lacks its data.
   */
  wipes?: boolean;
}

export interface RaftSimResult {
  seed: number;
  violation: string | null;
  trace: string[];
  /** Entries committed (applied by the member that applied most). */
  committed: number;
  elections: number;
  /** Client ops answered, of those issued. */
  answered: number;
  issued: number;
  /** The checker gave up on the history (too many overlapping ops): not a violation, not a pass. */
  undecided: boolean;
}

interface Disk {
  hardState: HardState;
  /** The state machine as of an index, and the log up to it dropped. */
  snapshot?: Snapshot;
  /** The entries after the snapshot, in order. */
  entries: Entry[];
  /** The member lost its data and has not been brought up to date since (the shell's marker). */
  recovering?: boolean;
}

/** Entries on disk from index `first` on are replaced by `entries` (and what follows them goes). */
function writeEntries(disk: Disk, entries: readonly Entry[]): void {
  if (entries.length === 0) return;
  disk.entries.length = Math.max(0, entries[0].index - (disk.snapshot?.index ?? 0) - 1);
  disk.entries.push(...entries);
}

const encodeState = (kv: Map<string, string>): Buffer => Buffer.from(JSON.stringify([...kv]));
const decodeState = (data: Buffer): Map<string, string> => new Map(JSON.parse(data.toString()) as Array<[string, string]>);

interface Member {
  id: NodeId;
  raft: Raft;
  up: boolean;
  disk: Disk;
  /** A Ready taken and not yet synced, and whether its member was out of recovery when it was taken. */
  pending: Ready | null;
  pendingRecovered: boolean;
  /** The last index its state machine has applied. */
  applied: number;
  /** The key-value state machine. */
  kv: Map<string, string>;
  /** Client ops this member has taken and not yet answered, by op id. */
  calls: Map<number, Call>;
  /** This member's clock rate, and the part of a tick it has accumulated. */
  rate: number;
  clock: number;
  /** Stopped (SIGSTOP): it neither ticks nor syncs, and messages to it wait in the network. */
  paused: boolean;
  /**
   * While recovering, the newest term each other member answered with; until enough have answered
   * (termLearned), it takes no message.
   */
  peerTerms: Map<NodeId, number>;
  termLearned: boolean;
}

class Violation extends Error {}

const CLIENTS = 3;
/** Events a client waits for an answer before it goes on to its next op. */
const CALL_TIMEOUT = 400;

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
  /** Index -> the term of the leader that first committed it, and its payload. */
  const committedAt = new Map<number, { term: number; payload: string }>();
  let elections = 0;
  /** Reads asked, by context: the highest index committed anywhere when each was asked. */
  const reads = new Map<string, number>();
  let readCount = 0;
  /** A paused leader waiting for the stale-leader scenario (staleLeaderScenario). */
  let staleLeader: { id: NodeId; since: number } | null = null;
  let calmUntil = 0;
  /** A disk was written since the last log-matching check. */
  let disksChanged = false;
  let proposals = 0;
  /** The clock of the client history: one per event. */
  let now = 0;
  const calls: Call[] = [];
  /** Each client's op awaiting its answer. */
  const busy = new Map<number, Call>();
  /** Values written to each key, so that a cas can expect one that may be current. */
  const written = new Map<string, string[]>(KEYS.map((k) => [k, []]));
  const bug = options.bug;
  const skew = options.skew ?? 0.5;
  const maxOps = options.ops ?? 60;

  // Flow control varies by seed: one entry per append makes some interleavings far likelier.
  const maxEntriesPerMessage = [1, 2, 4][rng.int(3)];
  const maxInflight = [1, 4][rng.int(2)];
  // And bytes: entries are a few dozen bytes, so the small bounds bite.
  const maxMessageBytes = [Infinity, 64][rng.int(2)];
  const maxInflightBytes = [Infinity, 150][rng.int(2)];
  // So does the pace of the clock against the shells and the network: with ticks rarer, a disk
  // sync or a round trip takes a smaller part of an election timeout, and more gets committed.
  const tickShare = [0.33, 0.2, 0.1][rng.int(3)];
  // And how often faults strike: a calmer run answers more client ops, a stormier one
  // interleaves more terms.
  const faultRate = [0.03, 0.01, 0.003][rng.int(3)];
  // How often members snapshot their state machine and drop their log (never, often, now and then).
  const compactEvery = [0, 4, 16][rng.int(3)];
  // CheckQuorum's lease keeps disruptive elections away; without it elections race more, which is
  // where a vote lost in a crash shows, and a deposed leader may go on as one for long.
  const checkQuorum = rng.next() < 0.7;
  // Followers that share their acknowledgements commit without the leader's word (as members do).
  const shareAcks = rng.next() < 0.5;
  const newRaft = (id: NodeId, disk: Disk): Raft => {
    const o: RaftOptions = {
      id, voters: ids, electionTick: 10, heartbeatTick: 2, preVote: true, checkQuorum, shareAcks,
      maxInflight, maxEntriesPerMessage, maxMessageBytes, maxInflightBytes, random: () => rng.next(),
      hardState: disk.hardState, snapshot: disk.snapshot, entries: disk.entries,
      recovering: disk.recovering === true && bug !== 'wiped-votes',
    };
    return plantedRaft(o, bug);
  };
  const members = new Map<NodeId, Member>();
  for (const id of ids) {
    const disk: Disk = { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [] };
    const rate = 1 + skew * (2 * rng.next() - 1);
    members.set(id, { id, raft: newRaft(id, disk), up: true, disk, pending: null, pendingRecovered: true, applied: 0, kv: new Map(), calls: new Map(), rate, clock: 0, paused: false, peerTerms: new Map(), termLearned: true });
  }
  note(`compact every ${compactEvery || 'never'}; checkQuorum ${checkQuorum}; shareAcks ${shareAcks}; tick share ${tickShare}; fault rate ${faultRate}; clock rates ${[...members.values()].map((m) => m.rate.toFixed(2)).join(' ')}`);

  const fail = (what: string): never => {
    throw new Violation(what);
  };

  const send = (msgs: Message[]): void => {
    for (const m of msgs) if (!cut.has(`${m.from}>${m.to}`)) net.push(m);
  };

  const answer = (m: Member, c: Call, value: string | null, swapped: boolean): void => {
    c.answer = { at: now, value, swapped };
    m.calls.delete(c.id);
    if (busy.get(c.client) === c) busy.delete(c.client);
    note(`${describeCall(c)} -> ${c.request.kind === 'get' ? JSON.stringify(value) : c.request.kind === 'cas' ? swapped : 'ok'}`);
  };


  /** Applies an entry to the member's state machine; for a client's write, whether a cas swapped. */
  const apply = (m: Member, e: Entry): boolean | null => {
    m.applied = e.index;
    const payload = e.data === null ? '' : e.data.toString();
    const known = appliedAt.get(e.index);
    if (known !== undefined && known !== payload) fail(`member ${m.id} applied ${JSON.stringify(payload)} at index ${e.index}, another applied ${JSON.stringify(known)}`);
    appliedAt.set(e.index, payload);
    const w = decodeWrite(e.data);
    return w === null ? null : applyWrite(m.kv, w);
  };

  /**
   * The member's pending Ready is one whose loss or tearing is most telling: it replaces entries
   * its disk holds, or it records a vote for another member.
   */
  const overwrites = (m: Member): boolean => {
    const first = m.pending?.entries[0]?.index;
    return first !== undefined && first <= (m.disk.snapshot?.index ?? 0) + m.disk.entries.length;
  };
  const votes = (m: Member): boolean => {
    const hs = m.pending?.hardState;
    return hs != null && hs.vote !== NONE && hs.vote !== m.id && hs.vote !== m.disk.hardState.vote;
  };
  const risky = (m: Member): boolean => overwrites(m) || votes(m);

  /** The shell's sync: persist, then send, then apply, then advance. */
  const sync = (m: Member): void => {
    const r = m.pending;
    if (r === null || m.paused) return;
    m.pending = null;
    // A leader's snapshot replaces the log and the state machine; the log is written before the
    // hard state, whose commit index may cover the entries (a planted shell does it the other way).
    if (r.snapshot !== null) {
      m.disk.snapshot = r.snapshot;
      m.disk.entries = [];
      m.kv = decodeState(r.snapshot.data);
      m.applied = r.snapshot.index;
      disksChanged = true;
    }
    writeEntries(m.disk, r.entries);
    if (r.entries.length > 0) disksChanged = true;
    if (r.hardState) m.disk.hardState = r.hardState;
    // Out of recovery once the Ready taken after it (with the vote it counts as cast) is durable.
    if (m.pendingRecovered) m.disk.recovering = false;
    send(r.messages);
    for (const rs of r.readStates) {
      const floor = reads.get(rs.context);
      if (floor !== undefined && rs.index < floor) fail(`read ${rs.context} at member ${m.id} served at index ${rs.index}, but index ${floor} was committed before it was asked`);
      const c = rs.context.startsWith('kv') ? m.calls.get(Number(rs.context.slice(2))) : undefined;
      if (c === undefined) continue;
      c.readIndex = rs.index;
      if (bug === 'stale-read') answer(m, c, m.kv.get(c.request.key) ?? null, false);
    }
    for (const e of r.committed) {
      const swapped = apply(m, e);
      const c = swapped === null ? undefined : m.calls.get(decodeWrite(e.data)!.id);
      if (c !== undefined) answer(m, c, null, swapped!);
    }
    for (const c of m.calls.values()) {
      if (c.readIndex !== null && c.readIndex <= m.applied) answer(m, c, m.kv.get(c.request.key) ?? null, false);
    }
    m.raft.advance(r);
    if (compactEvery > 0 && m.applied - m.raft.log.snapshotIndex >= compactEvery) {
      const snapshot = m.raft.compact(m.applied, encodeState(m.kv));
      m.disk.snapshot = snapshot;
      m.disk.entries = m.disk.entries.filter((e) => e.index > snapshot.index);
    }
  };

  /** Messages a buggy shell sends before the Ready is durable. */
  const early = (msg: Message): boolean =>
    (bug === 'vote-before-sync' && (msg.type === 'voteResp' || msg.type === 'preVoteResp')) ||
    (bug === 'ack-before-sync' && msg.type === 'appResp');

  const takeReady = (m: Member): void => {
    if (!m.up || m.paused || m.pending !== null || !m.raft.hasReady()) return;
    const r = m.raft.ready();
    if (bug === 'vote-before-sync' || bug === 'ack-before-sync') {
      send(r.messages.filter(early));
      r.messages = r.messages.filter((msg) => !early(msg));
    }
    m.pending = r;
    m.pendingRecovered = !m.raft.recovering;
  };

  /**
   * A crash during the sync of `r`: what of it reached the disk. A snapshot is a file renamed into
   * place, there or not. The log is a sequence of checksummed records, so recovery drops a torn
   * record and all after it: a prefix of the entries survives (the first of them replaces the tail
   * it conflicts with, as in the full write). The hard state is a file of its own, written after
   * the log, so new only if every entry made it (the planted `state-before-log` shell writes it
   * first: new with any prefix). Nothing was sent: sends follow the sync.
   */
  const tear = (m: Member, r: Ready): string => {
    const n = r.entries.length;
    if (rng.next() < 0.3 || (n === 0 && r.hardState === null && r.snapshot === null)) return 'an unsynced Ready lost';
    const snapshot = r.snapshot !== null && rng.next() < 0.5;
    let kept = r.snapshot !== null && !snapshot ? 0 : rng.int(n + 1);
    let newState = r.hardState !== null && rng.next() < 0.5;
    if (bug === 'state-before-log') {
      if (r.hardState !== null && !newState) kept = 0;
    } else if (kept < n || (r.snapshot !== null && !snapshot)) {
      newState = false;
    }
    if (snapshot) {
      m.disk.snapshot = r.snapshot!;
      m.disk.entries = [];
    }
    if (newState) m.disk.hardState = r.hardState!;
    writeEntries(m.disk, r.entries.slice(0, kept));
    if (kept > 0 || snapshot) disksChanged = true;
    return `a sync torn: ${snapshot ? 'the snapshot and ' : ''}${kept} of ${n} entries, the ${newState ? 'new' : 'old'} hard state`;
  };

  /** The payload at an index of a member's log; undefined past its end or compacted away. */
  const payloadAt = (r: Raft, index: number): string | undefined => {
    const e = r.log.entry(index);
    return e === undefined ? undefined : e.data === null ? (e.conf === undefined ? '' : `conf ${JSON.stringify(e.conf)}`) : e.data.toString();
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
      for (let i = r.log.committed; i > r.log.snapshotIndex && !committedAt.has(i); i--) committedAt.set(i, { term: r.term, payload: payloadAt(r, i)! });
      // Leader completeness: every entry committed in an earlier term is in this leader's log (a
      // deposed leader that does not know it yet may lack what later ones commit), or in its
      // snapshot (only committed entries are).
      for (const [index, c] of committedAt) {
        if (c.term < r.term && index > r.log.snapshotIndex && payloadAt(r, index) !== c.payload) fail(`leader ${r.id} of term ${r.term} lacks entry ${index} (${JSON.stringify(c.payload)}), committed in term ${c.term}`);
      }
    }
    // Log matching over durable logs: same index and term means the same entry.
    if (!disksChanged) return;
    disksChanged = false;
    // Over the indexes both still hold (snapshots hold committed entries only).
    const disks = [...members.values()].map((m) => m.disk);
    const at = (d: Disk, i: number): Entry => d.entries[i - (d.snapshot?.index ?? 0) - 1];
    for (let a = 0; a < disks.length; a++) {
      for (let b = a + 1; b < disks.length; b++) {
        const from = Math.max(disks[a].snapshot?.index ?? 0, disks[b].snapshot?.index ?? 0) + 1;
        const to = Math.min((disks[a].snapshot?.index ?? 0) + disks[a].entries.length, (disks[b].snapshot?.index ?? 0) + disks[b].entries.length);
        for (let i = to; i >= from; i--) {
          if (at(disks[a], i).term !== at(disks[b], i).term) continue;
          for (let j = from; j <= i; j++) {
            const x = at(disks[a], j);
            const y = at(disks[b], j);
            if (x.term !== y.term || String(x.data) !== String(y.data)) fail(`logs of members ${a + 1} and ${b + 1} agree at index ${i} but not at ${j}`);
          }
          break;
        }
      }
    }
  };

  /** The next message: any one in flight when the network reorders, else the oldest; none to a paused member. */
  const deliverOne = (reorder: boolean): void => {
    if (net.length === 0) return;
    const at = reorder ? rng.int(net.length) : net.findIndex((x) => !members.get(x.to)!.paused);
    if (at < 0 || members.get(net[at].to)!.paused) return;
    const [m] = net.splice(at, 1);
    const to = members.get(m.to)!;
    if (!to.up || cut.has(`${m.from}>${m.to}`)) return;
    // Until it knows the newest term, a recovering member could follow a stale leader (see learnTerm).
    if (to.raft.recovering && !to.termLearned) return;
    if (options.verbose) note(`deliver ${m.type} ${m.from}>${m.to} t${m.term} i${m.index} lt${m.logTerm} n${m.entries?.length ?? '-'} c${m.commit} r${m.reject ?? ''} h${m.rejectHint ?? ''}/${m.rejectHintTerm ?? ''}${m.context === undefined ? '' : ` ${m.context}`}`);
    to.raft.step(m);
  };

  /** A member's clock advances by its rate: a fast one ticks more often, a slow one less. */
  let ticks = 0;
  const tick = (m: Member): void => {
    if (!m.up || m.paused) return;
    for (m.clock += m.rate; m.clock >= 1; m.clock--) {
      m.raft.tick();
      ticks++;
      if (m.raft.recovering && !m.termLearned) learnTerm(m);
    }
  };

  /**
   * A recovering member asks the others for their term (a round trip each: both links whole, the
   * other up and running, and then lost now and then) and takes the newest, once enough have
   * answered that every quorum of every membership in sight has one among them (Member.learnTerm).
   */
  const learnTerm = (m: Member): void => {
    for (const o of members.values()) {
      if (o === m || !o.up || o.paused || cut.has(`${m.id}>${o.id}`) || cut.has(`${o.id}>${m.id}`) || rng.next() < 0.2) continue;
      m.peerTerms.set(o.id, Math.max(m.peerTerms.get(o.id) ?? 0, o.raft.term));
    }
    const smallest = Math.min(...memberships().map((c) => c.voters.length));
    const quorum = Math.floor(smallest / 2) + 1;
    if (m.peerTerms.size < Math.min(ids.length - 1, ids.length - quorum + 1)) return;
    const term = Math.max(...m.peerTerms.values());
    m.termLearned = true;
    m.raft.learnTerm(term);
    note(`member ${m.id} learns term ${term} from members ${[...m.peerTerms.keys()].join(',')}`);
  };

  const crash = (m: Member): void => {
    note(`member ${m.id} crashes${m.pending ? ` (${tear(m, m.pending)})` : ''}`);
    m.up = false;
    m.paused = false;
    m.pending = null;
    // Its clients learn nothing more: those ops' outcomes stay unknown.
    for (const c of m.calls.values()) if (busy.get(c.client) === c) busy.delete(c.client);
    m.calls.clear();
  };

  const restart = (m: Member): void => {
    note(`member ${m.id} restarts at term ${m.disk.hardState.term}`);
    m.up = true;
    m.raft = newRaft(m.id, m.disk);
    m.peerTerms = new Map();
    m.termLearned = !m.raft.recovering || bug === 'wiped-trusts-stale-leader';
    // The core starts applied up to the commit index it recovered: the shell loads its snapshot and
    // replays its log to there.
    m.kv = m.disk.snapshot === undefined ? new Map() : decodeState(m.disk.snapshot.data);
    m.applied = m.disk.snapshot?.index ?? 0;
    for (const e of m.disk.entries) if (e.index <= m.raft.log.applied) apply(m, e);
  };

  /** The member loses its disk (replaced, or wiped by mistake) and comes back empty, recovering. */
  const wipe = (w: Member): void => {
    if (w.up) crash(w);
    w.disk = { hardState: { term: 0, vote: NONE, commit: 0 }, entries: [], recovering: true };
    note(`member ${w.id} wiped`);
    restart(w);
  };

  /** Cuts every link between members on different sides; the split, as the trace shows it. */
  const split = (side: ReadonlyMap<NodeId, boolean>): string => {
    for (const a of ids) for (const b of ids) if (side.get(a) !== side.get(b)) cut.add(`${a}>${b}`);
    return `${ids.filter((id) => side.get(id)).join(',')} | ${ids.filter((id) => !side.get(id)).join(',')}`;
  };

  /**
   * Every membership in sight: each member's as it runs, and as its disk has it (what it comes back
   * with after a crash, an uncommitted change its log held before a sync that was lost).
   */
  const memberships = (): ConfState[] => [...members.values()].flatMap((m) => (m.up ? [m.raft.conf, diskConf(m.disk)] : [diskConf(m.disk)]));
  const diskConf = (d: Disk): ConfState => {
    for (let i = d.entries.length - 1; i >= 0; i--) if (d.entries[i].conf !== undefined) return d.entries[i].conf!;
    return d.snapshot?.conf ?? { voters: ids, learners: [] };
  };

  const anyRecovering = (): boolean => [...members.values()].some((x) => x.disk.recovering === true || (x.up && x.raft.recovering));

  /** The running leader of the newest term (a paused one acts on nothing). */
  const leader = (): Member | null => {
    let best: Member | null = null;
    for (const m of members.values()) if (m.up && !m.paused && m.raft.role === 'leader' && (best === null || m.raft.term > best.raft.term)) best = m;
    return best;
  };

  /**
   * A client issues its next op, unless it is still waiting for an answer. It stops waiting after a
   * while and goes on; an answer that comes later still counts.
   */
  const client = (): void => {
    const id = rng.int(CLIENTS);
    const waiting = busy.get(id);
    if (waiting !== undefined && now - waiting.invokedAt <= CALL_TIMEOUT) return;
    if (calls.length >= maxOps) return;
    const key = KEYS[rng.int(KEYS.length)];
    const roll = rng.next();
    const up = [...members.values()].filter((m) => m.up && !m.paused);
    // Reads go to any member that knows a leader (another turns the client away), writes to a
    // member that believes it leads (perhaps a deposed one).
    const to = up.filter((m) => (roll < 0.4 ? m.raft.lead !== NONE : m.raft.role === 'leader'));
    if (to.length === 0) return;
    const m = to[rng.int(to.length)];
    const opId = calls.length + 1;
    const values = written.get(key)!;
    const value = `v${opId}`;
    let request: Call['request'];
    if (roll < 0.4) request = { kind: 'get', key };
    else if (roll < 0.65) request = { kind: 'put', key, value };
    else if (roll < 0.75) request = { kind: 'delete', key };
    else request = { kind: 'cas', key, expected: values.length === 0 || rng.next() < 0.2 ? null : values[values.length - 1 - rng.int(Math.min(2, values.length))], value };
    const c: Call = { id: opId, client: id, member: m.id, invokedAt: now, request, readIndex: null, answer: null };
    calls.push(c);
    busy.set(id, c);
    m.calls.set(opId, c);
    note(describeCall(c));
    if (request.kind === 'get') {
      reads.set(readContext(opId), Math.max(...[...members.values()].map((x) => x.raft.log.committed)));
      m.raft.readIndex(readContext(opId));
    } else {
      if (request.kind !== 'delete') values.push(value);
      m.raft.propose(encodeWrite({ ...request, id: opId }));
    }
  };

  /**
   * The leader hands over to another voter, or changes the membership by one: a voter removed (a
   * majority of the members stay voters), a non-member added as a learner, a learner promoted.
   */
  const reconfigure = (): void => {
    const l = leader();
    if (l === null) return;
    const { voters, learners } = l.raft.conf;
    // Members out of the voters come back (as learners, then voters) more often than a random pick
    // would bring them: removals alone would shrink the cluster to its floor.
    const out = ids.filter((id) => !voters.includes(id));
    const pool = learners.length > 0 && rng.next() < 0.5 ? learners : out.length > 0 && rng.next() < 0.7 ? out : ids;
    const node = pool[rng.int(pool.length)];
    if (rng.next() < 0.3) {
      if (l.raft.transferLeadership(node)) note(`member ${l.id} hands leadership to ${node}`);
      return;
    }
    let change: ConfChange | null = null;
    // With a member recovering (it takes no part in elections), a smaller membership could be left without a quorum.
    if (voters.includes(node)) change = voters.length > Math.ceil(ids.length / 2) && !anyRecovering() ? { type: 'remove', node } : null;
    else change = learners.includes(node) ? { type: 'addVoter', node } : { type: 'addLearner', node };
    if (change !== null && l.raft.proposeConfChange(change)) note(`member ${l.id} proposes ${change.type} ${node}`);
  };

  /** One fault: a message dropped or duplicated, a link cut, the network healed, a crash, a restart. */
  const fault = (): void => {
    const list = [...members.values()];
    const m = list[rng.int(list.length)];
    const roll = rng.next();
    if (roll < 0.02) {
      // A process stopped (SIGSTOP), the leader most often: one that knows nothing of the terms
      // after it when it goes on. Or a stopped one goes on.
      const paused = list.filter((x) => x.paused);
      if (paused.length > 0 && rng.next() < 0.6) {
        const p = paused[rng.int(paused.length)];
        p.paused = false;
        note(`member ${p.id} goes on`);
      } else {
        const l = leader();
        const p = l !== null && !l.paused && rng.next() < 0.7 ? l : m.up && !m.paused ? m : null;
        if (p !== null) {
          p.paused = true;
          note(`member ${p.id} paused`);
          if (p === l && options.wipes === true && staleLeader === null) staleLeader = { id: p.id, since: now };
        }
      }
    } else if (roll < 0.3) {
      if (net.length > 0) {
        const i = rng.int(net.length);
        if (rng.next() < 0.5) net.splice(i, 1);
        else net.push(net[i]);
      }
    } else if (roll < 0.4) {
      const a = rng.int(ids.length) + 1;
      const b = rng.int(ids.length) + 1;
      if (a !== b) {
        cut.add(`${a}>${b}`);
        if (rng.next() < 0.7) cut.add(`${b}>${a}`);
        note(`link ${a}-${b} cut`);
      }
    } else if (roll < 0.45) {
      // One member cut off from all the others.
      const a = ids[rng.int(ids.length)];
      for (const b of ids) {
        if (b === a) continue;
        cut.add(`${a}>${b}`);
        cut.add(`${b}>${a}`);
      }
      note(`member ${a} isolated`);
    } else if (roll < 0.5) {
      // The members split in two random halves.
      note(`partition ${split(new Map(ids.map((id) => [id, rng.next() < 0.5])))}`);
    } else if (roll < 0.6) {
      cut.clear();
      note('network healed');
    } else if (roll < 0.7) {
      // Leaders come and go: the interleavings of several terms are where Raft's rules matter.
      const l = leader();
      if (l !== null) crash(l);
    } else if (roll < 0.72 && options.wipes === true) {
      // A member loses its disk (replaced, or wiped by mistake) and comes back empty. One at a time:
      // two members without their data at once is more than a majority can make up for.
      // And only while every membership in sight has a member to spare.
      if (anyRecovering() || memberships().some((c) => c.voters.length < 3)) return;
      // Most telling: a follower of the newest leader, whose acknowledgements its commits rest on.
      const l = leader();
      const followers = l === null ? [] : list.filter((x) => x !== l && x.up && !x.paused && x.raft.lead === l.id);
      const w = followers.length > 0 && rng.next() < 0.5 ? followers[rng.int(followers.length)] : m;
      wipe(w);
      // Often it comes back in the aftermath of whatever took the disk: stopped processes go on
      // (perhaps a leader of an older term, still sure it leads), and the network splits anew, at
      // worst with the wiped member among those that know only older terms.
      if (rng.next() < 0.5) {
        for (const x of list) x.paused = false;
        const newest = Math.max(...list.map((x) => x.raft.term));
        const stale = rng.next() < 0.5;
        note(`stopped members go on; partition ${split(new Map(ids.map((id) => [id, id === w.id || (stale ? members.get(id)!.raft.term < newest : rng.next() < 0.5)])))}`);
      }
    } else if (roll < 0.8) {
      // Crashes mid-sync are the ones that test what a Ready may send before it is durable; a
      // member back at once (a process restarted) takes part again before the others move on.
      // The riskiest of those (see risky()) are favoured too.
      const syncing = list.filter((x) => x.up && x.pending !== null);
      const riskiest = syncing.filter(risky);
      const pool = riskiest.length > 0 && rng.next() < 0.5 ? riskiest : syncing;
      const victim = pool.length > 0 && rng.next() < 0.5 ? pool[rng.int(pool.length)] : m.up ? m : null;
      if (victim !== null) {
        crash(victim);
        if (rng.next() < 0.5) restart(victim);
      }
    } else {
      const down = list.filter((x) => !x.up);
      if (down.length > 0) restart(down[rng.int(down.length)]);
    }
  };

  /**
   * A leader paused as `staleLeader` sets the worst case for a wiped member up: once a newer leader
   * has committed in its term, one of that leader's followers loses its disk and comes back cut off
   * with the paused one, which goes on still sure it leads (the ensemble simulator's seed 2354189).
   * Given up if the paused member crashes or goes on meanwhile, or nothing comes of it for long.
   */
  const staleLeaderScenario = (): void => {
    const stale = members.get(staleLeader!.id)!;
    if (!stale.up || !stale.paused || now - staleLeader!.since > 3000) {
      staleLeader = null;
      return;
    }
    const n = leader();
    if (n === null || n.raft.term <= stale.raft.term || n.raft.log.term(n.raft.log.committed) !== n.raft.term) return;
    if (anyRecovering() || memberships().some((c) => c.voters.length < 3)) return;
    const followers = [...members.values()].filter((x) => x !== n && x !== stale && x.up && !x.paused && x.raft.lead === n.id);
    if (followers.length === 0) return;
    const w = followers[rng.int(followers.length)];
    staleLeader = null;
    wipe(w);
    stale.paused = false;
    split(new Map(ids.map((id) => [id, id === w.id || id === stale.id])));
    cut.delete(`${w.id}>${stale.id}`);
    cut.delete(`${stale.id}>${w.id}`);
    note(`member ${stale.id} goes on, cut off with wiped member ${w.id}`);
    // A while without other faults, for what the stale leader does next to play out.
    calmUntil = now + 400;
  };

  const event = (faulty: boolean): void => {
    now++;
    if (faulty && staleLeader !== null) staleLeaderScenario();
    // No faults for a while after the stale-leader scenario: crashes, torn syncs and handovers.
    const faults = faulty && now >= calmUntil;
    if (faults && rng.next() < faultRate) {
      fault();
      check();
      return;
    }
    const list = [...members.values()];
    const m = list[rng.int(list.length)];
    // Raft is live only while a round trip takes well under an election timeout (with skew, on the
    // fastest clock): the quiet phase ticks slowly.
    const ticks = faulty ? tickShare : 0.1;
    const roll = rng.next();
    if (roll < ticks) {
      tick(m);
      check();
      return;
    }
    const rest = (roll - ticks) / (1 - ticks);
    if (rest < 0.52) {
      deliverOne(faulty);
    } else if (rest < 0.7) {
      takeReady(m);
    } else if (rest < 0.88) {
      // A process dies most harmfully while rewriting its log's tail or recording a vote: such a
      // sync tears now and then.
      if (faults && ((overwrites(m) && rng.next() < 0.5) || (votes(m) && rng.next() < 0.1))) crash(m);
      else sync(m);
    } else if (rest < 0.91) {
      // A read, at any member: it must be served at or after everything committed by now.
      if (m.up && !m.paused) {
        const context = `r${++readCount}`;
        reads.set(context, Math.max(...list.map((x) => x.raft.log.committed)));
        m.raft.readIndex(context);
      }
    } else if (rest < 0.94) {
      const l = leader();
      if (faulty && l !== null && l.raft.propose(Buffer.from(`p${++proposals}`))) note(`propose p${proposals} at ${l.id}`);
    } else if (rest < 0.955) {
      if (faults) reconfigure();
    } else {
      client();
    }
    check();
  };

  /** The target is committed, and every member of the leader's membership has applied it. */
  const converged = (l: Member, target: string): boolean => {
    let index = 0;
    for (const [i, payload] of appliedAt) if (payload === target) index = i;
    if (index === 0) return false;
    const { voters, learners } = l.raft.conf;
    return [...voters, ...learners].every((id) => !members.get(id)!.up || members.get(id)!.applied >= index);
  };

  const result = (violation: string | null, committed: number, undecided = false): RaftSimResult => ({
    seed: options.seed, violation, trace, committed, elections, answered: calls.filter((c) => c.answer !== null).length, issued: calls.length, undecided,
  });

  try {
    if (options.ticks !== undefined) while (ticks < options.ticks) event(true);
    else for (let i = 0; i < options.steps; i++) event(true);
    // Liveness: heal the network, restart everyone but perhaps one member whose absence leaves a
    // quorum of every membership in sight, deliver in order; a leader must commit a new proposal.
    // Messages of the faulty phase still in flight arrive first.
    cut.clear();
    for (const m of members.values()) {
      m.paused = false;
      if (!m.up) restart(m);
    }
    // A member still recovering takes no part in elections: no other member may be missing then.
    const spare = anyRecovering() ? [] : ids.filter((id) => memberships().every((c) => c.voters.length >= 3 || !c.voters.includes(id)));
    if (spare.length > 0 && rng.next() < 0.5) {
      const down = members.get(spare[rng.int(spare.length)])!;
      crash(down);
      note(`quiet: network healed, every member up but ${down.id}`);
    } else {
      note('quiet: network healed, every member up');
    }
    const target = `final-${options.seed}`;
    // Proposed again under each new leader: one that loses its leadership may lose the entry.
    let proposedInTerm = -1;
    for (let i = 0; i < 40_000; i++) {
      event(false);
      const l = leader();
      if (l !== null && l.raft.term !== proposedInTerm && l.raft.propose(Buffer.from(target))) proposedInTerm = l.raft.term;
      if (l !== null && converged(l, target)) {
        const committed = Math.max(...[...members.values()].map((x) => x.applied));
        const lin = checkLinearizable(history(calls), { maxSteps: 200_000 });
        if (lin.ok === false) fail(`the clients' history is not linearizable: ${lin.explanation}`);
        return result(null, committed, lin.ok === 'unknown');
      }
    }
    const states = [...members.values()].map((m) => `${m.id}: ${m.raft.role} term ${m.raft.term} last ${m.raft.log.lastIndex} (term ${m.raft.log.term(m.raft.log.lastIndex)}) committed ${m.raft.log.committed} applied ${m.applied} voters ${m.raft.conf.voters.join(',')}${m.raft.recovering ? ' recovering' : ''}${m.pending ? ' (a Ready unsynced)' : ''}`);
    fail(`liveness: no leader committed a proposal within 40,000 quiet events (${states.join('; ')})`);
  } catch (err) {
    if (!(err instanceof Violation)) throw err;
    return result(err.message, 0);
  }
  return result('unreachable', 0);
}
