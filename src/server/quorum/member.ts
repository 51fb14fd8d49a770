/**
 * One member of a replicated ensemble: the server (connections, replica core) with the consensus
 * core between prep and apply. The leader preps its clients' writes and those its followers forward,
 * and proposes the Txns; every member applies committed Txns in log order, each with the zxid its
 * entry's place gives it (entry-zxid.ts), and answers the writes of the clients it holds. Reads are
 * served from the member's own tree; sync, and a client's return to its session, wait for a read
 * barrier (ReadIndex). A member whose leader changes drops its clients' connections: the writes they
 * had in flight may or may not have been committed, which is what a lost connection tells a client.
 *
 * Each Ready is made durable (RaftStorage: entries, then the hard state) before its messages leave;
 * its committed entries, durable already, are applied at once. Every `snapshotEvery` entries
 * applied, the member snapshots its tree (fuzzy, a slice at a time) and compacts its log; a
 * follower behind the compacted log gets the leader's snapshot and installs it (its clients
 * reconnect). A restarted member loads its newest snapshot and replays its committed log after it;
 * it serves nobody until that replay has passed what the fuzzy snapshot may already hold.
 *
 * Not yet: membership is fixed.
 */
import pino, { type Logger } from 'pino';
import { JuteReader } from '../../protocol/jute.ts';
import { OutputBuffer } from '../net/output-buffer.ts';
import type { Id } from '../../protocol/records.ts';
import type { ServerConfig } from '../config.ts';
import type { Environment, Timer } from '../env/environment.ts';
import { realEnvironment } from '../env/real.ts';
import type { CommitStage } from '../pipeline/commit.ts';
import type { QuorumStatus } from '../admin/four-letter.ts';
import { EnsembleServer, type QuorumHooks } from '../server.ts';
import { readTxnEntry, writeTxnEntry } from '../storage/txn-codec.ts';
import type { TxnEntry } from '../tree/txn.ts';
import { SESSION_SECRET_BYTES } from '../tree/settings.ts';
import { epochOf, zxidOf } from '../tree/zxid.ts';
import { Raft } from './core/raft.ts';
import { NONE, type Entry, type Message, type NodeId, type ReadState } from './core/types.ts';
import { EntryZxids } from './entry-zxid.ts';
import type { PeerMessage, PeerTransport } from './peer-messages.ts';
import { MemoryRaftStorage, type RaftStorage } from './raft-storage.ts';
import { MemoryMemberSnapshots, type MemberSnapshots, type StoredSnapshot } from './member-snapshots.ts';
import { decodeSnapshot, encodeSnapshotSliced, SnapshotFormatError, type LoadedSnapshot } from '../storage/snapshot.ts';
import { HardStateFormatError } from '../storage/hard-state.ts';
import { RaftLogFormatError } from './file-raft-storage.ts';
import { MemoryMemberData, type MemberData } from './member-data.ts';

export interface MemberOptions {
  id: NodeId;
  voters: readonly NodeId[];
  config: ServerConfig;
  transport: PeerTransport;
  /** Where the log and hard state are kept (in memory when absent: for tests). */
  storage?: RaftStorage;
  /** Where snapshots of the tree are kept (in memory when absent). */
  snapshots?: MemberSnapshots;
  /** The mark of a member recovering from lost data, and where damaged data goes (in memory when absent). */
  data?: MemberData;
  /** Entries applied between snapshots (default: the config's snapCount). */
  snapshotEvery?: number;
  /** What /zookeeper/config shows: the members' server lines (ZooKeeper's form). */
  serverLines?: readonly string[];
  env?: Environment;
  log?: Logger;
  /** A snapshot larger than this goes to a follower in pieces of this size (default 4 MiB). */
  snapshotChunkBytes?: number;
  /** Each snapshot this member takes of its tree, and how long it took (ms). */
  onSnapshot?: (ms: number) => void;
  /** Consensus ticks per tickTime (default 20): heartbeats every tick, elections after 10 to 20 ticks (half a tickTime to one). */
  ticksPerTickTime?: number;
  /**
   * The operator says this ensemble is new (`ensemble server --new-ensemble`): with no data, this
   * member may elect a first leader with a majority of members that have none either, once it has
   * waited initLimit ticks for the others to answer, instead of waiting for every member.
   */
  newEnsemble?: boolean;
}

/** The first byte of an entry's payload: a Txn, or the ensemble's session secret. */
const PAYLOAD_TXN = Buffer.from([1]);
const PAYLOAD_SETTINGS = Buffer.from([2]);

/** The log (not empty) goes on from the snapshot: no gap after it, and the same entry where they overlap. */
function logFollows(entries: readonly Entry[], snapshot: StoredSnapshot): boolean {
  const first = entries[0].index;
  if (first > snapshot.index + 1 || entries[entries.length - 1].index < snapshot.index) return false;
  return first > snapshot.index || entries[snapshot.index - first].term === snapshot.term;
}

const EMPTY = Buffer.alloc(0);

/** What a leader sends that depends on no state of its own still being written. */
const leaderOnly = (m: Message): boolean => m.type === 'app' || m.type === 'heartbeat' || m.type === 'snap';

/** Forwarded writes that reached a leader before it could prep (it had not applied its whole log). */
type Forwarded = Extract<PeerMessage, { kind: 'forward' }> & { from: NodeId };

export class Member implements CommitStage {
  readonly id: NodeId;
  readonly server: EnsembleServer;
  readonly raft: Raft;
  private readonly transport: PeerTransport;
  private readonly env: Environment;
  private readonly log: Logger;
  private zxids = new EntryZxids(0, 0);
  private readonly snapshots: MemberSnapshots;
  private readonly snapshotEvery: number;
  private readonly voters: readonly NodeId[];
  private readonly configData: Buffer | null;
  /** The leader this member last acted on (its role follows it). */
  private leader: NodeId = NONE;
  /** As leader: its whole log is applied, so prep may run. */
  private leading = false;
  private waitingForwards: Forwarded[] = [];
  /** Sessions heard from since the last touch sent to the leader. */
  private touches = new Set<bigint>();
  /** Read barriers asked and not yet given a read point, by context. */
  private readonly barriers = new Map<string, () => void>();
  /**
   * Txns this member prepped as leader, by log index, with the payload proposed for each: applied as
   * prepped (as a standalone server applies them), not decoded again, when the entry applied at
   * that index is still that payload. Each goes when its index is applied or a snapshot passes it.
   */
  private readonly prepped = new Map<number, { payload: Buffer; entry: TxnEntry }>();
  /** Proposed payloads, encoded one after another into shared chunks: each a view never written again, none a buffer of its own. */
  private readonly payloads = new OutputBuffer();
  /** Read barriers with a read point, waiting for this member to apply up to it. */
  private readonly readPoints: Array<{ index: number; then: () => void }> = [];
  private readSeq = 0;
  private applied = 0;
  private readyScheduled = false;
  /** Readys handed to the storage and not yet durable (it completes them in order). */
  private persisting = 0;
  /** The last entry handed to the storage: the core hands it out again until its Ready is durable. */
  private lastHanded: Entry | null = null;
  /** The commit index when the last Ready was taken. */
  private readyCommit = 0;
  private readonly storage: RaftStorage;
  private readonly data: MemberData;
  /** The recovering mark is on disk. */
  private marked = false;
  /** Recovering with no data: the members found (by their latest answer) to have none either. */
  private readonly emptyPeers = new Set<NodeId>();
  /** With newEnsemble: consensus ticks to wait for every member's answer before a majority may begin without the rest. */
  private readonly bootstrapAfterTicks: number | null;
  /** While recovering: the term each other member said it had (see recover()). */
  private readonly peerTerms = new Map<NodeId, number>();
  /** While recovering: the newest term of enough other members is known; until then no consensus message is taken. */
  private termLearned = false;
  private ticks = 0;
  /** The tick at which each other member was last heard from (the leader's counts of its followers). */
  private readonly heardAt = new Map<NodeId, number>();
  private readonly onSnapshot: ((ms: number) => void) | undefined;
  private readonly snapshotChunkBytes: number;
  /** A snapshot arriving in pieces, by sender. */
  private readonly pieces = new Map<NodeId, { data: Buffer; received: number }>();
  /** A snapshot is being encoded. */
  private snapshotting = false;
  /**
   * The tree came from a fuzzy snapshot that may hold effects of entries up to this zxid: until it
   * has applied that far, some nodes may be ahead of others, and it serves nobody.
   */
  private fuzzyUntil = 0;
  /** Caught up with what was committed when this member learned of its leader (of `leaderGeneration`). */
  private synced = false;
  private leaderGeneration = 0;
  private readonly timers: Timer[] = [];
  private closed = false;

  constructor(options: MemberOptions) {
    this.id = options.id;
    this.transport = options.transport;
    this.env = options.env ?? realEnvironment;
    this.log = options.log ?? pino({ name: `ensemble-${options.id}` });
    this.storage = options.storage ?? new MemoryRaftStorage(this.env);
    this.snapshots = options.snapshots ?? new MemoryMemberSnapshots();
    this.snapshotEvery = options.snapshotEvery ?? options.config.snapCount;
    this.snapshotChunkBytes = options.snapshotChunkBytes ?? 4 * 1024 * 1024;
    this.onSnapshot = options.onSnapshot;
    this.voters = options.voters;
    this.configData = options.serverLines === undefined ? null : Buffer.from([...options.serverLines, 'version=0'].join('\n'));
    this.data = options.data ?? new MemoryMemberData();
    const { recovered, snapshot, restored, damaged } = this.loadDurable(options.config.extendedTypesEnabled);
    // A member with no data (new, or wiped) or with damaged data may have voted, and acknowledged
    // entries, that it no longer remembers: it takes no part in elections until a leader has
    // brought it up to date, or, all members found empty, the ensemble is new.
    const recovering = damaged || recovered.lost || this.data.recovering || (snapshot === null && recovered.entries.length === 0);
    if (recovering) {
      this.data.markRecovering(true);
      this.marked = true;
      this.log.warn(`this member has ${damaged ? 'damaged data (set aside)' : recovered.lost ? 'lost entries it knew committed' : 'no data (new, or its data was wiped)'}: it takes no part in elections until a leader has brought it up to date, or every member is found to have no data either (a new ensemble)`);
    }
    this.raft = new Raft({
      recovering,
      id: options.id,
      voters: options.voters,
      electionTick: 10,
      heartbeatTick: 1,
      preVote: true,
      checkQuorum: true,
      shareAcks: true,
      maxInflight: 256,
      maxEntriesPerMessage: 1024,
      maxMessageBytes: 1024 * 1024,
      random: () => this.env.random.float(),
      hardState: recovered.hardState,
      entries: recovered.entries,
      ...(snapshot !== null && { snapshot: { index: snapshot.index, term: snapshot.term, conf: { voters: this.voters, learners: [] }, data: snapshot.data } }),
    });
    if (restored !== null) {
      this.zxids = new EntryZxids(restored.zxid, snapshot!.index);
      this.fuzzyUntil = restored.endZxid;
      this.applied = snapshot!.index;
    }
    const hooks: QuorumHooks = {
      forward: (sessionId, cxid, authInfo, type, body) => this.forward(sessionId, cxid, authInfo, type, body),
      readBarrier: (then) => this.readBarrier(then),
      touched: (sessionId) => void this.touches.add(sessionId),
      reopening: (sessionId) => this.reopening(sessionId),
      serving: () => this.raft.lead !== NONE && this.synced && this.server.tree.lastProcessedZxid >= this.fuzzyUntil,
      status: () => this.status(),
    };
    this.server = new EnsembleServer(options.config, { env: this.env, log: this.log, commit: this, quorum: hooks, tree: restored?.tree, serverId: options.id });
    this.server.replica.follow(false);
    if (this.configData !== null) this.server.tree.setConfigData(this.configData);
    // The core starts as of its commit index: the tree gets there by replaying the log.
    for (const e of recovered.entries) if (e.index > this.applied && e.index <= this.raft.log.committed) this.apply(e);
    this.transport.onMessage((from, m) => this.receive(from, m));
    this.transport.onPeerDown?.((id) => {
      if (this.closed || id !== this.raft.lead) return;
      this.raft.leaderLost();
      this.scheduleReady();
    });
    const ticksPerTickTime = options.ticksPerTickTime ?? 20;
    this.bootstrapAfterTicks = options.newEnsemble === true ? (options.config.ensemble?.initLimit ?? 10) * ticksPerTickTime : null;
    const tickMs = options.config.tickTimeMs / ticksPerTickTime;
    this.timers.push(this.env.scheduler.every(tickMs, () => this.tick()));
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /** The log, the hard state and the newest snapshot; damaged ones are set aside and the member starts empty. */
  private loadDurable(extendedTypes: boolean): { recovered: ReturnType<RaftStorage['load']>; snapshot: StoredSnapshot | null; restored: LoadedSnapshot | null; damaged: boolean } {
    const warn = (msg: string): void => this.log.warn(msg);
    try {
      const snapshot = this.snapshots.newest();
      const restored = snapshot === null ? null : decodeSnapshot(snapshot.data, extendedTypes);
      let recovered = this.storage.load(warn);
      if (snapshot !== null && recovered.entries.length === 0) {
        // Nothing logged after the snapshot: the log starts after it (a leader's snapshot may have
        // been kept, and the log's reset after it not, when the member stopped).
        this.storage.reset(snapshot.index);
      } else if (snapshot !== null && !logFollows(recovered.entries, snapshot)) {
        // A leader's snapshot is kept at once, the log's reset after it with the next write: a crash
        // came in between. The log starts over after the snapshot.
        this.log.warn({ index: snapshot.index }, 'the log does not follow the newest snapshot (a crash while one from the leader was installed): it starts over after it');
        this.storage.reset(snapshot.index);
        recovered = { hardState: { ...recovered.hardState, commit: snapshot.index }, entries: [], lost: false };
      }
      return { recovered, snapshot, restored, damaged: false };
    } catch (err) {
      if (!(err instanceof RaftLogFormatError || err instanceof HardStateFormatError || err instanceof SnapshotFormatError)) throw err;
      const aside = this.data.setAside();
      this.log.error({ err: err.message, aside }, 'this member\'s data is damaged: set aside, the member starts empty and is brought up to date by the leader');
      return { recovered: this.storage.load(warn), snapshot: null, restored: null, damaged: true };
    }
  }

  async listen(): Promise<{ host: string; port: number }> {
    return this.server.listen();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) t.cancel();
    await this.server.close();
    await this.transport.close();
    await this.storage.close();
  }

  /** The process dies: nothing more happens, nothing more is made durable (the simulator's crash). */
  crash(): void {
    this.closed = true;
    for (const t of this.timers) t.cancel();
    void this.server.close();
    void this.transport.close();
  }

  /**
   * As ZooKeeper's leader counts the followers connected to it: a follower counts while it answers
   * (heard from within an election timeout, ten heartbeats), and is synced when it also holds the
   * leader's log or is being sent it as it grows.
   */
  private status(): QuorumStatus {
    let followers = 0;
    let synced = 0;
    for (const f of this.raft.followers()) {
      const heard = this.heardAt.get(f.id);
      if (heard === undefined || this.ticks - heard > 10) continue;
      followers++;
      if (f.match === this.raft.log.lastIndex || f.state === 'replicate') synced++;
    }
    return { mode: this.leading ? 'leader' : 'follower', serverId: this.id, serving: this.raft.lead !== NONE, followers, syncedFollowers: synced, pendingSyncs: this.raft.pendingReadCount };
  }

  // ---- the commit stage of the leader's replica ----

  submit(entry: TxnEntry): void {
    const epoch = epochOf(entry.header.zxid);
    // Prepped for an earlier term (the core moved on before this member acted on it): lost, as the
    // change of leader drops the connections that wait on it.
    if (epoch < this.raft.term) return;
    if (epoch > this.raft.term) {
      // Prep numbered past the last zxid of this term (2^32 Txns in it): a new term must begin, as
      // ZooKeeper forces an election then. The write is lost with the leadership.
      this.log.warn({ term: this.raft.term }, 'this term\'s zxids are spent: stepping down for a new term');
      this.raft.stepDown();
      this.scheduleReady();
      return;
    }
    // Lost if leadership went meanwhile; the change of leader drops the connections that wait on it.
    this.payloads.raw(PAYLOAD_TXN);
    writeTxnEntry(this.payloads, entry);
    const payload = this.payloads.take();
    if (!this.raft.propose(payload)) return;
    this.prepped.set(this.raft.log.lastIndex, { payload, entry });
    this.scheduleReady();
  }

  // ---- inputs ----

  private tick(): void {
    if (this.closed) return;
    this.raft.tick();
    this.ticks++;
    if (this.marked) this.recover();
    if (!this.leading && this.raft.lead !== NONE && this.raft.lead !== this.id) this.sendTouches();
    this.scheduleReady();
  }

  private receive(from: NodeId, m: PeerMessage): void {
    if (this.closed) return;
    this.heardAt.set(from, this.ticks);
    switch (m.kind) {
      case 'raft': {
        // A recovering member that does not yet know the newest term could follow a leader of an
        // older one, cut off from the others, and be brought "up to date" with a stale log.
        if (this.raft.recovering && !this.termLearned) return;
        const message = m.message.type === 'snap' && m.message.snapshot!.data.length === 0 ? this.assembled(from, m.message) : m.message;
        if (message === null) return;
        this.raft.step(message);
        this.scheduleReady();
        return;
      }
      case 'snapChunk':
        this.snapshotPiece(from, m.offset, m.total, m.bytes);
        return;
      case 'forward':
        // Sent to the leader of another term: lost, as the change of leader tells its member.
        if (m.term !== this.raft.term) return;
        if (this.leading) {
          // A write is word from its client too.
          this.server.replica.touchFrom(m.sessionId);
          this.server.replica.submitForwarded(from, m.sessionId, m.cxid, m.auth, m.opcode, m.body);
        }
        else if (this.raft.role === 'leader') this.waitingForwards.push({ ...m, from });
        // Anywhere else the write is lost: its member drops the connection when it learns the leader changed.
        return;
      case 'touch':
        if (this.raft.role === 'leader') for (const s of m.sessions) this.server.replica.touchFrom(s);
        return;
      case 'reopened':
        if (this.raft.role === 'leader') this.server.replica.reopenedOn(from, m.sessionId);
        return;
      case 'askEmpty':
        this.transport.send(from, { kind: 'empty', empty: this.raft.pristine, term: this.raft.term });
        return;
      case 'empty':
        if (m.empty) this.emptyPeers.add(from);
        else this.emptyPeers.delete(from);
        this.peerTerms.set(from, Math.max(this.peerTerms.get(from) ?? 0, m.term));
        return;
    }
  }

  /**
   * While recovering: with no leader and no data, ask the others whether they have none either;
   * once every one has answered so, the ensemble is new and this member votes. Once out of recovery
   * (a leader brought it up to date), the mark goes, after the vote it counts as cast is durable.
   */
  private recover(): void {
    if (this.raft.recovering) {
      const others = this.voters.filter((id) => id !== this.id);
      this.learnTerm(others);
      const maybeNew = this.raft.pristine && this.raft.lead === NONE;
      if (maybeNew && others.every((id) => this.emptyPeers.has(id))) {
        this.log.info('every member has no data: a new ensemble');
        this.raft.endRecovery();
      } else if (maybeNew && this.newWithoutTheRest(others)) {
        const absent = others.filter((id) => !this.emptyPeers.has(id));
        this.log.warn({ members: [this.id, ...this.emptyPeers], absent }, 'a majority of members has no data and this is a new ensemble (--new-ensemble): it begins without the others, which join when they start');
        this.raft.endRecovery();
      } else if ((maybeNew || !this.termLearned) && this.ticks % 2 === 1) {
        for (const id of others) if (!this.emptyPeers.has(id)) this.transport.send(id, { kind: 'askEmpty' });
      }
      return;
    }
    this.marked = false;
    const { term, vote } = this.raft;
    this.storage.persist([], { term, vote, commit: Math.min(this.raft.log.committed, this.raft.log.stable) }, () => {
      if (this.closed) return;
      this.data.markRecovering(false);
      this.log.info({ term, leader: this.raft.lead }, 'recovered: this member takes part in elections again');
    });
  }

  /** Voters that make a quorum. */
  private get majority(): number {
    return Math.floor(this.voters.length / 2) + 1;
  }

  /**
   * With newEnsemble, a member with no data begins the ensemble with a majority of members that
   * have none either, once it has asked for initLimit ticks and no member has answered that it holds
   * data. Only the operator can know the ensemble is new: the same answers come from members whose
   * data was wiped while the members that held it are down.
   */
  private newWithoutTheRest(others: readonly NodeId[]): boolean {
    if (this.bootstrapAfterTicks === null || this.ticks < this.bootstrapAfterTicks) return false;
    const withData = others.some((id) => this.peerTerms.has(id) && !this.emptyPeers.has(id));
    return !withData && 1 + this.emptyPeers.size >= this.majority;
  }

  /**
   * Before it takes any consensus message, a recovering member learns the newest term of enough
   * other members: all but a majority's worth less one, so that among them is one that took part
   * in every election this member may have voted in, and in every commit it may have acknowledged,
   * before it lost its data (any two majorities share a member). It takes that term: a leader of an
   * older one, cut off from the others, can then neither bring it up to date with a stale log nor
   * count it toward a commit. (Found by the simulator: a wiped member brought "up to date" by such
   * a leader voted it into a new term that lacked writes committed in the term it had missed.)
   */
  private learnTerm(others: readonly NodeId[]): void {
    if (this.termLearned) return;
    if (this.peerTerms.size < Math.min(others.length, this.voters.length - this.majority + 1)) return;
    const term = Math.max(0, ...this.peerTerms.values());
    this.termLearned = true;
    this.raft.learnTerm(term);
    this.log.info({ term, from: [...this.peerTerms.keys()] }, 'learned the newest term of the other members: no leader of an older one is followed');
    this.scheduleReady();
  }

  /** A follower's client write goes to the leader, which preps it (and takes it as word from the session's client). */
  private forward(sessionId: bigint, cxid: number, authInfo: readonly Id[], opcode: number, body: Buffer): void {
    const leader = this.raft.lead;
    if (leader === this.id) {
      // Held until it leads: a copy, as the body is a view of the client's socket read.
      this.waitingForwards.push({ kind: 'forward', from: this.id, term: this.raft.term, sessionId, cxid, opcode, body: Buffer.from(body), auth: authInfo });
    } else if (leader === NONE) {
      // Nowhere to send it: the clients find another member.
      this.loseClients();
    } else {
      // The leader takes the write as a touch of its session: no touch of its own needs to go.
      this.touches.delete(sessionId);
      this.transport.send(leader, { kind: 'forward', term: this.raft.term, sessionId, cxid, opcode, body, auth: authInfo });
    }
  }

  /** A consensus message to another member; a large snapshot goes in pieces ahead of it. */
  private sendRaft(m: Message): void {
    const data = m.snapshot?.data;
    if (data === undefined || data.length <= this.snapshotChunkBytes) {
      this.transport.send(m.to, { kind: 'raft', message: m });
      return;
    }
    for (let offset = 0; offset < data.length; offset += this.snapshotChunkBytes) {
      this.transport.send(m.to, { kind: 'snapChunk', offset, total: data.length, bytes: data.subarray(offset, offset + this.snapshotChunkBytes) });
    }
    this.transport.send(m.to, { kind: 'raft', message: { ...m, snapshot: { ...m.snapshot!, data: EMPTY } } });
  }

  /** A piece of a snapshot from `from`: pieces arrive in order, a first one starts over. */
  private snapshotPiece(from: NodeId, offset: number, total: number, bytes: Buffer): void {
    let piece = this.pieces.get(from);
    if (offset === 0) this.pieces.set(from, (piece = { data: Buffer.allocUnsafe(total), received: 0 }));
    if (piece === undefined || piece.data.length !== total || piece.received !== offset) {
      // A piece lost on the way (its connection dropped): the leader sends the snapshot again.
      this.pieces.delete(from);
      return;
    }
    bytes.copy(piece.data, offset);
    piece.received += bytes.length;
  }

  /** The snapshot of a snap message sent after its pieces; null when they did not all arrive. */
  private assembled(from: NodeId, m: Message): Message | null {
    const piece = this.pieces.get(from);
    this.pieces.delete(from);
    if (piece === undefined || piece.received !== piece.data.length) return null;
    return { ...m, snapshot: { ...m.snapshot!, data: piece.data } };
  }

  /** A client reopens its session here: the leader learns this member holds it, before the client can move on. */
  private reopening(sessionId: bigint): void {
    const leader = this.raft.lead;
    if (leader !== NONE && leader !== this.id) this.transport.send(leader, { kind: 'reopened', sessionId });
  }

  private sendTouches(): void {
    if (this.touches.size === 0) return;
    this.transport.send(this.raft.lead, { kind: 'touch', sessions: [...this.touches] });
    this.touches.clear();
  }

  /** Runs `then` once this member has applied everything committed before now. */
  private readBarrier(then: () => void): void {
    const context = `${this.id}.${++this.readSeq}`;
    this.barriers.set(context, then);
    this.raft.readIndex(context);
    this.scheduleReady();
  }

  // ---- the consensus core's output ----

  private scheduleReady(): void {
    if (this.readyScheduled || this.closed) return;
    this.readyScheduled = true;
    this.env.scheduler.soon(() => {
      this.readyScheduled = false;
      this.processReady();
    });
  }

  /**
   * A Ready's committed entries are durable already (the core hands out only those): they are
   * applied at once. Its entries and hard state go to the storage, and its messages leave once they
   * are durable. While earlier Readys are being written, the next is taken only when the commit
   * index moved (a leader tells its followers at once, whose copies may be durable before its own)
   * or there are entries to apply: commits are not held up by a write, new entries queue behind it.
   */
  private processReady(): void {
    if (this.closed) return;
    this.followLeader();
    if (this.persisting > 0 && !this.raft.log.hasToApply && this.raft.log.committed === this.readyCommit) return;
    if (!this.raft.hasReady()) return;
    const ready = this.raft.ready();
    this.readyCommit = this.raft.log.committed;
    this.persisting++;
    if (ready.snapshot !== null) {
      // A leader's snapshot replaces the log: kept first, then the log starts over after it.
      this.snapshots.save(ready.snapshot);
      this.storage.reset(ready.snapshot.index);
      this.lastHanded = null;
      this.install(ready.snapshot.index, ready.snapshot.data);
    }
    // A leader's appends rest on nothing it is writing now (its own copy counts once durable), so
    // they leave at once and the followers write in parallel with it; everything else waits.
    const leading = this.raft.role === 'leader';
    const later: Message[] = [];
    for (const m of ready.messages) {
      if (leading && leaderOnly(m)) this.sendRaft(m);
      else later.push(m);
    }
    for (const e of ready.committed) this.apply(e);
    for (const rs of ready.readStates) this.readPoint(rs);
    this.raft.advance({ snapshot: null, hardState: null, entries: [], messages: [], committed: ready.committed, readStates: [] });
    this.storage.persist(this.unhanded(ready.entries), ready.hardState, () => {
      this.persisting--;
      if (this.closed) return;
      for (const m of later) this.sendRaft(m);
      this.raft.advance({ ...ready, committed: [] });
      this.followLeader();
      if (this.applied - this.raft.log.snapshotIndex >= this.snapshotEvery) this.snapshot();
      this.scheduleReady();
    });
  }

  /**
   * A Ready's entries less those already handed to the storage: a Ready taken while an earlier one
   * is written repeats its entries, unless the log was cut since (then all go, and the storage cuts).
   */
  private unhanded(entries: Entry[]): Entry[] {
    const last = this.lastHanded;
    if (entries.length === 0) return entries;
    this.lastHanded = entries[entries.length - 1];
    const i = last === null ? -1 : last.index - entries[0].index;
    // The last one handed is still in the log: so is everything before it (log matching).
    return i >= 0 && i < entries.length && entries[i].term === last!.term ? entries.slice(i + 1) : entries;
  }

  /** The tree as of what is applied goes to a snapshot; the log before it is dropped. */
  private snapshot(): void {
    if (this.snapshotting) return;
    this.snapshotting = true;
    const tree = this.server.tree;
    const index = this.applied;
    const term = this.raft.log.term(index);
    const started = this.env.clock.monotonic();
    // Fuzzy, as the standalone server's: a slice at a time while entries go on being applied, so it
    // may hold effects of entries after `index`; replaying them over it sets the same values again.
    // Meanwhile the member may have stopped, or installed a leader's snapshot past this one.
    const stale = (): boolean => this.closed || this.server.tree !== tree || index <= this.raft.log.snapshotIndex;
    encodeSnapshotSliced(tree, { index, term, zxid: this.zxids.last, timeMs: this.env.clock.now() }, this.env).then(async (data) => {
      if (stale()) return;
      const ms = this.env.clock.monotonic() - started;
      // Written in the thread pool: the log before it is dropped only once the snapshot is durable.
      await this.snapshots.saveInBackground({ index, term, data }, ms);
      if (stale()) return;
      this.onSnapshot?.(ms);
      this.raft.compact(index, data);
      this.storage.compact(index);
    }).catch((err: Error) => {
      this.log.error({ err: err.message }, 'snapshot failed');
    }).finally(() => {
      this.snapshotting = false;
    });
  }

  /** A leader's snapshot replaces the tree: applied up to its index, its clients reconnect. */
  private install(index: number, data: Buffer): void {
    if (index <= this.applied) return;
    const restored = decodeSnapshot(data, this.server.config.extendedTypesEnabled);
    this.log.info({ index, zxid: restored.zxid }, 'installing a snapshot from the leader');
    this.prepped.clear();
    this.server.replaceTree(restored.tree);
    if (this.configData !== null) this.server.tree.setConfigData(this.configData);
    this.server.replica.follow(true);
    this.zxids = new EntryZxids(restored.zxid, index);
    this.fuzzyUntil = restored.endZxid;
    this.applied = index;
    while (this.readPoints.length > 0 && this.readPoints[0].index <= this.applied) this.readPoints.shift()!.then();
  }

  private apply(e: Entry): void {
    const zxid = this.zxids.next(e);
    this.applied = e.index;
    if (e.data !== null && e.data[0] === PAYLOAD_TXN[0]) {
      const prepped = this.prepped.get(e.index);
      if (prepped !== undefined) this.prepped.delete(e.index);
      const entry = prepped?.payload === e.data ? prepped.entry : readTxnEntry(new JuteReader(e.data, 1));
      if (entry.header.zxid !== zxid) throw new Error(`entry ${e.index} carries zxid ${entry.header.zxid}, its place gives ${zxid}`);
      this.server.replica.committed(entry);
    } else if (e.data !== null) {
      const tree = this.server.tree;
      tree.applySettings(zxid, { ...tree.settings, sessionSecret: e.data.subarray(1) });
    } else {
      this.server.tree.advance(zxid);
      if (e.conf === undefined && this.raft.role === 'leader' && e.term === this.raft.term && e.index === this.raft.termStart) this.startLeading();
    }
    while (this.readPoints.length > 0 && this.readPoints[0].index <= this.applied) this.readPoints.shift()!.then();
  }

  private readPoint(rs: ReadState): void {
    const then = this.barriers.get(rs.context);
    if (then === undefined) return;
    this.barriers.delete(rs.context);
    if (rs.index <= this.applied) {
      then();
      return;
    }
    let i = this.readPoints.length;
    while (i > 0 && this.readPoints[i - 1].index > rs.index) i--;
    this.readPoints.splice(i, 0, { index: rs.index, then });
  }

  /** Its own no-op is applied, so is all of its log: the leader preps from here on. */
  private startLeading(): void {
    this.leading = true;
    let lastZxid = zxidOf(this.raft.term, 0);
    if (this.server.tree.settings.sessionSecret.length === 0) {
      // The ensemble's first leader: the secret every member derives session passwords from.
      this.raft.propose(Buffer.concat([PAYLOAD_SETTINGS, this.env.random.bytes(SESSION_SECRET_BYTES)]));
      lastZxid++;
    }
    this.server.replica.lead(lastZxid);
    this.log.info({ term: this.raft.term }, 'leading');
    const waiting = this.waitingForwards;
    this.waitingForwards = [];
    for (const f of waiting) this.server.replica.submitForwarded(f.from, f.sessionId, f.cxid, f.auth, f.opcode, f.body);
  }

  /**
   * The leader changed: the writes in flight may never commit, so the clients that sent them lose
   * their connections (their sessions live on); read barriers are asked of the new leader.
   */
  private followLeader(): void {
    const lead = this.raft.lead;
    if (lead === this.leader) return;
    const before = this.leader;
    this.leader = lead;
    this.log.info({ leader: lead, previous: before, term: this.raft.term }, lead === NONE ? 'no leader' : lead === this.id ? 'elected' : 'following');
    if (this.leading || before !== NONE) this.loseClients();
    // Touches gathered for another leader (or as leader) are old news to the next, which renews every session anyway.
    this.touches.clear();
    this.leading = false;
    this.waitingForwards = [];
    if (lead !== NONE) for (const context of this.barriers.keys()) this.raft.readIndex(context);
    // Clients wait until this member has applied what was committed when it learned of its leader,
    // as a ZooKeeper follower serves once it has synced with its leader: a member back after a long
    // absence does not answer reads from far in the past meanwhile.
    const generation = ++this.leaderGeneration;
    this.synced = false;
    if (lead !== NONE) this.readBarrier(() => void (this.synced = generation === this.leaderGeneration));
  }

  private loseClients(): void {
    this.server.replica.follow(true);
    this.server.dropConnections();
  }
}
