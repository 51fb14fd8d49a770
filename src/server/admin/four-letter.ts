/**
 * Four-letter words: sent instead of a handshake as the first four bytes of a client-port
 * connection; the server answers in text and closes. Only whitelisted words run.
 */
import { hostname } from 'node:os';
import type { ServerConfig } from '../config.ts';
import type { Clock } from '../env/environment.ts';
import type { SessionTracker } from '../session/session-tracker.ts';
import type { ServerStats } from '../stats.ts';
import { filesSize } from '../storage/files.ts';
import type { DataTree } from '../tree/data-tree.ts';
import { VERSION } from '../version.ts';
import type { Watches } from '../watches/watches.ts';

/** What the words report on a connection. */
export interface ConnectionView {
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly outstanding: number;
  readonly sessionId: bigint;
  readonly sessionTimeoutMs: number;
  readonly connectedAtMs: number;
  readonly packetsReceived: number;
  readonly packetsSent: number;
  readonly lastOp: string;
  readonly lastCxid: number;
  readonly lastZxid: number;
  readonly lastLatencyMs: number;
  readonly minLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly totalLatencyMs: number;
  readonly latencyCount: number;
}

/** What the words report on the server. */
export interface ServerView {
  readonly config: ServerConfig;
  readonly stats: ServerStats;
  readonly tree: DataTree;
  readonly sessions: SessionTracker;
  readonly watches: Watches;
  readonly connections: ReadonlySet<ConnectionView>;
  readonly startedAtMs: number;
  readonly clock: Clock;
  readonly address: { host: string; port: number };
  /** Set for a member of an ensemble. */
  readonly quorumStatus?: QuorumStatus;
}

/** An ensemble member's part, as ZooKeeper's words report it. */
export interface QuorumStatus {
  mode: 'leader' | 'follower';
  serverId: number;
  /** It knows a leader, and so takes clients. */
  serving: boolean;
  /** The leader's: followers (voters and learners), and those in step with its log. */
  followers: number;
  syncedFollowers: number;
  /** The leader's: syncs (read barriers) it has not yet confirmed with a quorum. */
  pendingSyncs: number;
}

type Command = (s: ServerView) => string;

const hex = (n: bigint | number): string => '0x' + (typeof n === 'bigint' ? BigInt.asUintN(64, n) : n).toString(16);

function summary(s: ServerView): string[] {
  const st = s.stats;
  const min = st.latencyCount === 0 ? 0 : st.minLatencyMs;
  return [
    `Latency min/avg/max: ${min}/${st.avgLatencyMs.toFixed(4)}/${st.maxLatencyMs}`,
    `Received: ${st.packetsReceived}`,
    `Sent: ${st.packetsSent}`,
    `Connections: ${s.connections.size}`,
    `Outstanding: ${[...s.connections].reduce((n, c) => n + c.outstanding, 0)}`,
    `Zxid: ${hex(s.tree.lastProcessedZxid)}`,
    `Mode: ${s.quorumStatus?.mode ?? 'standalone'}`,
    `Node count: ${s.tree.nodeCount}`,
  ];
}

function connectionLine(c: ConnectionView, full: boolean, nowMs: number): string {
  const base = ` /${c.remoteAddress}:${c.remotePort}[1](queued=${c.outstanding},recved=${c.packetsReceived},sent=${c.packetsSent}`;
  if (!full) return base + ')';
  const avg = c.latencyCount === 0 ? 0 : Math.floor(c.totalLatencyMs / c.latencyCount);
  return base + `,sid=${hex(c.sessionId)},lop=${c.lastOp},est=${c.connectedAtMs},to=${c.sessionTimeoutMs},lcxid=${hex(c.lastCxid)},lzxid=${hex(c.lastZxid)},lresp=${nowMs},llat=${c.lastLatencyMs},minlat=${c.latencyCount === 0 ? 0 : c.minLatencyMs},avglat=${avg},maxlat=${c.maxLatencyMs})`;
}

const commands: Record<string, Command> = {
  ruok: () => 'imok',
  isro: () => 'rw',
  srvr: (s) => [`Zookeeper version: ${VERSION.zookeeperCompatible}, built on ${VERSION.builtOn}`, ...summary(s), ''].join('\n'),
  stat: (s) => [
    `Zookeeper version: ${VERSION.zookeeperCompatible}, built on ${VERSION.builtOn}`,
    'Clients:',
    ...[...s.connections].map((c) => connectionLine(c, false, s.clock.now())),
    '',
    ...summary(s),
    '',
  ].join('\n'),
  cons: (s) => [...[...s.connections].map((c) => connectionLine(c, true, s.clock.now())), '', ''].join('\n'),
  conf: (s) => {
    const c = s.config;
    return [
      `clientPort=${s.address.port}`,
      'secureClientPort=-1',
      `dataDir=${c.dataDir}`,
      `dataDirSize=${filesSize(c.dataDir, 'snapshot')}`,
      `dataLogDir=${c.dataLogDir ?? c.dataDir}`,
      `dataLogSize=${filesSize(c.dataLogDir ?? c.dataDir, 'log')}`,
      `tickTime=${c.tickTimeMs}`,
      `maxClientCnxns=${c.maxClientCnxns}`,
      `minSessionTimeout=${c.minSessionTimeoutMs}`,
      `maxSessionTimeout=${c.maxSessionTimeoutMs}`,
      'clientPortListenBacklog=-1',
      `serverId=${s.quorumStatus?.serverId ?? 0}`,
      '',
    ].join('\n');
  },
  envi: () => [
    'Environment:',
    `zookeeper.version=${VERSION.zookeeperCompatible}, built on ${VERSION.builtOn}`,
    `host.name=${hostname()}`,
    `ensemble.version=${VERSION.ensemble}`,
    `node.version=${process.version}`,
    `os.name=${process.platform}`,
    `os.arch=${process.arch}`,
    `user.dir=${process.cwd()}`,
    `os.memory.free=${Math.floor((process.memoryUsage().heapTotal - process.memoryUsage().heapUsed) / 1048576)}MB`,
    `os.memory.total=${Math.floor(process.memoryUsage().heapTotal / 1048576)}MB`,
    '',
  ].join('\n'),
  mntr: (s) => {
    const st = s.stats;
    let ephemerals = 0;
    for (const set of s.tree.ephemerals.values()) ephemerals += set.size;
    let dataSize = 0;
    for (const [p, n] of s.tree.nodes) dataSize += p.length + (n.data?.length ?? 0);
    const rows: Array<[string, string | number]> = [
      ['zk_version', `${VERSION.zookeeperCompatible}, built on ${VERSION.builtOn}`],
      ['zk_server_state', s.quorumStatus?.mode ?? 'standalone'],
      ['zk_avg_latency', st.avgLatencyMs.toFixed(4)],
      ['zk_max_latency', st.maxLatencyMs],
      ['zk_min_latency', st.latencyCount === 0 ? 0 : st.minLatencyMs],
      ['zk_packets_received', st.packetsReceived],
      ['zk_packets_sent', st.packetsSent],
      ['zk_num_alive_connections', s.connections.size],
      ['zk_outstanding_requests', [...s.connections].reduce((n, c) => n + c.outstanding, 0)],
      ['zk_znode_count', s.tree.nodeCount],
      ['zk_watch_count', s.watches.watchCount],
      ['zk_ephemerals_count', ephemerals],
      ['zk_approximate_data_size', dataSize],
      ['zk_global_sessions', s.sessions.size],
      ['zk_local_sessions', 0],
      ['zk_uptime', s.clock.now() - s.startedAtMs],
    ];
    const q = s.quorumStatus;
    if (q?.mode === 'leader') rows.push(['zk_followers', q.followers], ['zk_synced_followers', q.syncedFollowers], ['zk_pending_syncs', q.pendingSyncs]);
    return rows.map(([k, v]) => `${k}\t${v}`).join('\n') + '\n';
  },
  // ZooKeeper 3.8 reports its data-watch table only (exists, getData, persistent and recursive
  // watches): a getChildren watch shows in none of the three words.
  wchs: (s) => {
    const watches = s.watches.data;
    return `${watches.bySession().size} connections watching ${watches.pathCount} paths\nTotal watches:${watches.watchCount}\n`;
  },
  wchc: (s) => {
    let out = '';
    for (const [id, paths] of s.watches.data.bySession()) out += `${hex(id)}\n` + [...paths].map((p) => `\t${p}\n`).join('');
    return out;
  },
  wchp: (s) => {
    let out = '';
    for (const [p, ids] of s.watches.data.byPathSessions()) out += `${p}\n` + [...ids].map((id) => `\t${hex(id)}\n`).join('');
    return out;
  },
  dump: (s) => {
    const lines = ['SessionTracker dump:', `Global Sessions(${s.sessions.size}):`];
    for (const sess of s.sessions.all()) lines.push(`${hex(sess.id)}\t${sess.timeoutMs}ms`);
    lines.push('ephemeral nodes dump:', `Sessions with Ephemerals (${s.tree.ephemerals.size}):`);
    for (const [id, paths] of s.tree.ephemerals) {
      lines.push(`${hex(id)}:`);
      for (const p of paths) lines.push(`\t${p}`);
    }
    lines.push('Connections dump:', `Connections Sets (1)/(${s.connections.size}):`);
    for (const c of s.connections) lines.push(`\t${hex(c.sessionId)}`);
    return lines.join('\n') + '\n';
  },
  dirs: (s) => `datadir_size: ${filesSize(s.config.dataDir, 'snapshot')}\nlogdir_size: ${filesSize(s.config.dataLogDir ?? s.config.dataDir, 'log')}\n`,
};

/** The 4-byte code of each word, as ZooKeeper reads it (a big-endian int). */
const byCode = new Map<number, string>(Object.keys(commands).map((w) => [Buffer.from(w, 'ascii').readInt32BE(0), w]));

/**
 * If `code` is a four-letter word, the text to answer with (a refusal when not whitelisted);
 * null when it is not one, so the bytes are a normal frame length.
 */
export function fourLetterWord(code: number, server: ServerView): string | null {
  const word = byCode.get(code);
  if (word === undefined) return null;
  const allowed = server.config.fourLetterWhitelist;
  if (!allowed.includes('*') && !allowed.includes(word)) return `${word} is not executed because it is not in the whitelist.\n`;
  // A member that knows no leader serves nothing, as ZooKeeper's words say; ruok and envi still answer.
  if (server.quorumStatus?.serving === false && word !== 'ruok' && word !== 'envi') return 'This ZooKeeper instance is not currently serving requests\n';
  return commands[word](server);
}
