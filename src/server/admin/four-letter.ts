/**
 * Four-letter words: sent instead of a handshake as the first four bytes of a client-port
 * connection; the server answers in text and closes. Only whitelisted words run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname, release, userInfo } from 'node:os';
import { getHeapStatistics } from 'node:v8';
import type { ServerConfig } from '../config.ts';
import { memberDir } from '../ensemble-config.ts';
import type { Clock } from '../env/environment.ts';
import type { ConnectionLimits } from '../net/limits.ts';
import type { SessionTracker } from '../session/session-tracker.ts';
import type { ServerStats } from '../stats.ts';
import type { ClientCounters } from './client-counters.ts';
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
  readonly clientCounters: ClientCounters;
  readonly limits: Pick<ConnectionLimits, 'connectionsRejected' | 'sessionlessExpired' | 'resetCounts'>;
  readonly tree: DataTree;
  readonly sessions: SessionTracker;
  readonly watches: Watches;
  readonly connections: ReadonlySet<ConnectionView>;
  readonly startedAtMs: number;
  readonly clock: Clock;
  readonly address: { host: string; port: number };
  /** The secure client port's address (secureClientPort), if there is one. */
  readonly secureAddress?: { host: string; port: number };
  /** The server's logger: its level, whichever of --log-level, ENSEMBLE_LOG_LEVEL or a default set it. */
  readonly log: { readonly level: string };
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

/** A double as Java prints it (Double.toString): "0.0", "1.3846", "5.0E-4". */
export function javaDouble(x: number): string {
  if (Number.isInteger(x)) return x.toFixed(1);
  if (Math.abs(x) >= 1e-3 && Math.abs(x) < 1e7) return String(x);
  const [mantissa, exponent] = x.toExponential().split('e');
  return `${mantissa.includes('.') ? mantissa : mantissa + '.0'}E${Number(exponent)}`;
}

/**
 * Request latency as ZooKeeper's ServerStats reports it: whole ms from a request's arrival to its
 * answer; the average rounded to 4 decimals (half up); 0 for all three before any request.
 */
export function latencySummary(st: ServerStats): { min: number; avg: number; max: number } {
  if (st.latencyCount === 0) return { min: 0, avg: 0, max: 0 };
  return { min: st.minLatencyMs, avg: Math.round(st.avgLatencyMs * 1e4) / 1e4, max: st.maxLatencyMs };
}

/** ZooKeeper's node table holds the root twice (under "" and "/"), and its count says so. */
export const znodeCount = (s: ServerView): number => s.tree.nodeCount + 1;
export const outstandingRequests = (s: ServerView): number => [...s.connections].reduce((n, c) => n + c.outstanding, 0);
export function ephemeralsCount(s: ServerView): number {
  let n = 0;
  for (const set of s.tree.ephemerals.values()) n += set.size;
  return n;
}
/** Bytes of paths and data, as ZooKeeper's approximate data size. */
export function approximateDataSize(s: ServerView): number {
  let bytes = 0;
  for (const [p, n] of s.tree.nodes) bytes += p.length + (n.data?.length ?? 0);
  return bytes;
}
export const serverState = (s: ServerView): string => s.quorumStatus?.mode ?? 'standalone';
export const versionString = (): string => `${VERSION.zookeeperCompatible}, built on ${VERSION.builtOn}`;
/** Bytes of snapshots and of log: a member's are its own files (memberDir), a standalone server's in its dirs. */
export function dataDirSize(c: ServerConfig): number {
  return c.ensemble ? filesSize(memberDir(c.dataDir, c.dataLogDir), 'snapshot') : filesSize(c.dataDir, 'snapshot');
}
export function logDirSize(c: ServerConfig): number {
  return c.ensemble ? filesSize(memberDir(c.dataDir, c.dataLogDir), 'raft-log') : filesSize(c.dataLogDir ?? c.dataDir, 'log');
}

/** Open descriptors and their limit (Linux's /proc; undefined elsewhere, where ZooKeeper omits them too). */
function fileDescriptors(): { open: number; max: number } | undefined {
  try {
    const open = readdirSync('/proc/self/fd').length;
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    if (!m) return undefined;
    return { open, max: m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]) };
  } catch {
    return undefined;
  }
}

/** ZooKeeper's "<role> - <zab phase>": a member that serves is in its broadcast phase. */
export const peerState = (q: QuorumStatus): string => `${q.mode === 'leader' ? 'leading' : 'following'} - ${zabState(q)}`;
export const zabState = (q: QuorumStatus): string => (q.serving ? 'broadcast' : 'synchronization');

/** Values that ZooKeeper reports as doubles (printed "0.0" in mntr's text). */
export const DOUBLE_FIELDS: ReadonlySet<string> = new Set(['avg_latency']);

/** What mntr (as zk_<name>) and the admin server's monitor command report, in one place. */
export function monitorFields(s: ServerView): Array<[string, string | number]> {
  const st = s.stats;
  const latency = latencySummary(st);
  const rows: Array<[string, string | number]> = [
    ['version', versionString()],
    ['server_state', serverState(s)],
    ['avg_latency', latency.avg],
    ['max_latency', latency.max],
    ['min_latency', latency.min],
    ['packets_received', st.packetsReceived],
    ['packets_sent', st.packetsSent],
    ['num_alive_connections', s.connections.size],
    ['outstanding_requests', outstandingRequests(s)],
    ['znode_count', znodeCount(s)],
    ['watch_count', s.watches.watchCount],
    ['ephemerals_count', ephemeralsCount(s)],
    ['approximate_data_size', approximateDataSize(s)],
    ['global_sessions', s.sessions.size],
    ['local_sessions', 0],
    ['uptime', s.clock.now() - s.startedAtMs],
    ['last_client_response_size', s.clientCounters.lastResponseBytes],
    ['min_client_response_size', s.clientCounters.minResponseBytes],
    ['max_client_response_size', s.clientCounters.maxResponseBytes],
    ['connection_rejected', s.limits.connectionsRejected],
    ['sessionless_connections_expired', s.limits.sessionlessExpired],
  ];
  const fds = fileDescriptors();
  if (fds) rows.push(['open_file_descriptor_count', fds.open], ['max_file_descriptor_count', fds.max]);
  const q = s.quorumStatus;
  if (q !== undefined) rows.push(['peer_state', peerState(q)], ['quorum_size', s.config.ensemble?.members.length ?? 0]);
  if (q?.mode === 'leader') {
    rows.push(['learners', q.followers], ['synced_followers', q.syncedFollowers], ['synced_non_voting_followers', 0],
      ['synced_observers', 0], ['pending_syncs', q.pendingSyncs]);
  }
  return rows;
}

/** What conf (camelCase) and the configuration command (snake_case) report. */
export function configurationFields(s: ServerView): Array<[text: string, json: string, value: string | number]> {
  const c = s.config;
  return [
    ['clientPort', 'client_port', s.address.port],
    ['dataDir', 'data_dir', c.dataDir],
    ['dataLogDir', 'data_log_dir', c.dataLogDir ?? c.dataDir],
    ['tickTime', 'tick_time', c.tickTimeMs],
    ['maxClientCnxns', 'max_client_cnxns', c.maxClientCnxns],
    ['minSessionTimeout', 'min_session_timeout', c.minSessionTimeoutMs],
    ['maxSessionTimeout', 'max_session_timeout', c.maxSessionTimeoutMs],
    ['serverId', 'server_id', s.quorumStatus?.serverId ?? 0],
    ['clientPortListenBacklog', 'client_port_listen_backlog', -1],
  ];
}

/** The user this process runs as; a uid with no passwd entry (some containers) has no name. */
function userName(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? '';
  }
}

/** What envi and the environment command report: ZooKeeper's entries where Node has them, and Node's own. */
export function environmentFields(): Array<[string, string]> {
  const mem = process.memoryUsage();
  const mb = (n: number): string => `${Math.floor(n / 1048576)}MB`;
  return [
    ['zookeeper.version', versionString()],
    ['host.name', hostname()],
    ['ensemble.version', VERSION.ensemble],
    ['node.version', process.version],
    ['node.exec_path', process.execPath],
    ['os.name', process.platform],
    ['os.arch', process.arch],
    ['os.version', release()],
    ['user.name', userName()],
    ['user.home', homedir()],
    ['user.dir', process.cwd()],
    ['os.memory.free', mb(mem.heapTotal - mem.heapUsed)],
    ['os.memory.max', mb(getHeapStatistics().heap_size_limit)],
    ['os.memory.total', mb(mem.heapTotal)],
  ];
}

function summary(s: ServerView): string[] {
  const latency = latencySummary(s.stats);
  return [
    `Latency min/avg/max: ${latency.min}/${javaDouble(latency.avg)}/${latency.max}`,
    `Received: ${s.stats.packetsReceived}`,
    `Sent: ${s.stats.packetsSent}`,
    `Connections: ${s.connections.size}`,
    `Outstanding: ${outstandingRequests(s)}`,
    `Zxid: ${hex(s.tree.lastProcessedZxid)}`,
    `Mode: ${serverState(s)}`,
    `Node count: ${znodeCount(s)}`,
  ];
}

/** A connection's figures, as cons and the connections command report them. */
export function connectionStats(c: ConnectionView): { minLatencyMs: number; avgLatencyMs: number; maxLatencyMs: number } {
  if (c.latencyCount === 0) return { minLatencyMs: 0, avgLatencyMs: 0, maxLatencyMs: 0 };
  return { minLatencyMs: c.minLatencyMs, avgLatencyMs: Math.floor(c.totalLatencyMs / c.latencyCount), maxLatencyMs: c.maxLatencyMs };
}

function connectionLine(c: ConnectionView, full: boolean, nowMs: number): string {
  const base = ` /${c.remoteAddress}:${c.remotePort}[1](queued=${c.outstanding},recved=${c.packetsReceived},sent=${c.packetsSent}`;
  if (!full) return base + ')';
  const l = connectionStats(c);
  return base + `,sid=${hex(c.sessionId)},lop=${c.lastOp},est=${c.connectedAtMs},to=${c.sessionTimeoutMs},lcxid=${hex(c.lastCxid)},lzxid=${hex(c.lastZxid)},lresp=${nowMs},llat=${c.lastLatencyMs},minlat=${l.minLatencyMs},avglat=${l.avgLatencyMs},maxlat=${l.maxLatencyMs})`;
}

/** srst and stat_reset: latency and request figures, response sizes and the limits' counters start again (ZooKeeper's ServerStats.reset). */
export function resetServerStats(s: ServerView): void {
  s.stats.reset();
  s.clientCounters.resetResponses();
  s.limits.resetCounts();
}

const commands: Record<string, Command> = {
  ruok: () => 'imok',
  srst: (s) => {
    resetServerStats(s);
    return 'Server stats reset.\n';
  },
  isro: () => 'rw',
  srvr: (s) => [`Zookeeper version: ${versionString()}`, ...summary(s), ''].join('\n'),
  stat: (s) => [
    `Zookeeper version: ${versionString()}`,
    'Clients:',
    ...[...s.connections].map((c) => connectionLine(c, false, s.clock.now())),
    '',
    ...summary(s),
    '',
  ].join('\n'),
  cons: (s) => [...[...s.connections].map((c) => connectionLine(c, true, s.clock.now())), '', ''].join('\n'),
  conf: (s) => {
    const rows = configurationFields(s).map(([key, , value]) => `${key}=${value}`);
    // The text form also has the secure port and the directories' sizes, as ZooKeeper's.
    rows.splice(1, 0, `secureClientPort=${s.secureAddress?.port ?? -1}`);
    rows.splice(3, 0, `dataDirSize=${dataDirSize(s.config)}`);
    rows.splice(5, 0, `dataLogSize=${logDirSize(s.config)}`);
    return rows.join('\n') + '\n';
  },
  envi: () => ['Environment:', ...environmentFields().map(([k, v]) => `${k}=${v}`), ''].join('\n'),
  mntr: (s) => monitorFields(s).map(([k, v]) => `zk_${k}\t${DOUBLE_FIELDS.has(k) ? javaDouble(Number(v)) : v}`).join('\n') + '\n',
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
  dirs: (s) => `datadir_size: ${dataDirSize(s.config)}\nlogdir_size: ${logDirSize(s.config)}\n`,
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
