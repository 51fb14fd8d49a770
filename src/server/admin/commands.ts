/**
 * The admin server's commands, as Apache ZooKeeper 3.8's AdminServer names and answers them: each is
 * a JSON object with ZooKeeper's field names, then `command` (the primary name) and `error`. The
 * figures come from the same functions as the four-letter words'.
 */
import { statSync } from 'node:fs';
import { memberDir } from '../ensemble-config.ts';
import { listFiles } from '../storage/files.ts';
import type { AdminHttpOptions, AdminRoute } from './admin-http.ts';
import { sendJson } from './admin-http.ts';
import {
  configurationFields, connectionStats, dataDirSize, environmentFields, latencySummary, logDirSize, monitorFields,
  outstandingRequests, resetServerStats, serverState, versionString, zabState, znodeCount, type ConnectionView, type ServerView,
} from './four-letter.ts';

type Fields = Record<string, unknown>;

interface AdminCommand {
  names: readonly string[];
  /** false: answers even while an ensemble member knows no leader, as ZooKeeper's does. */
  serverRequired?: false;
  run(o: AdminHttpOptions): Fields;
}

/** A session id as ZooKeeper's JSON gives it: a signed 64-bit number. */
const sessionNumber = (id: bigint): number => Number(BigInt.asIntN(64, id));

function connectionBrief(c: ConnectionView): Fields {
  return {
    remote_socket_address: `${c.remoteAddress}:${c.remotePort}`,
    interest_ops: 1,
    outstanding_requests: c.outstanding,
    packets_received: c.packetsReceived,
    packets_sent: c.packetsSent,
  };
}

function connectionFull(c: ConnectionView, nowMs: number): Fields {
  // Before its handshake is answered a connection has no session, and ZooKeeper gives the brief form.
  if (c.sessionId === 0n) return connectionBrief(c);
  const l = connectionStats(c);
  return {
    ...connectionBrief(c),
    session_id: sessionNumber(c.sessionId),
    last_operation: c.lastOp,
    established: c.connectedAtMs,
    session_timeout: c.sessionTimeoutMs,
    last_cxid: c.lastCxid,
    last_zxid: c.lastZxid,
    last_response_time: nowMs,
    last_latency: c.lastLatencyMs,
    min_latency: l.minLatencyMs,
    avg_latency: l.avgLatencyMs,
    max_latency: l.maxLatencyMs,
  };
}

function serverStats(s: ServerView): Fields {
  const latency = latencySummary(s.stats);
  const responses = { last_buffer_size: s.clientCounters.lastResponseBytes, min_buffer_size: s.clientCounters.minResponseBytes, max_buffer_size: s.clientCounters.maxResponseBytes };
  return {
    version: versionString(),
    read_only: false,
    server_stats: {
      packets_sent: s.stats.packetsSent,
      packets_received: s.stats.packetsReceived,
      client_response_stats: responses,
      data_dir_size: dataDirSize(s.config),
      log_dir_size: logDirSize(s.config),
      server_state: serverState(s),
      last_processed_zxid: s.tree.lastProcessedZxid,
      outstanding_requests: outstandingRequests(s),
      avg_latency: latency.avg,
      max_latency: latency.max,
      min_latency: latency.min,
      num_alive_client_connections: s.connections.size,
      uptime: s.clock.now() - s.startedAtMs,
      non_mtlsremote_conn_count: 0,
      non_mtlslocal_conn_count: 0,
    },
    client_response: responses,
    node_count: znodeCount(s),
  };
}

function mapOfSets<K>(entries: Iterable<[K, Iterable<unknown>]>, key: (k: K) => string, value: (v: unknown) => unknown = (v) => v): Fields {
  const out: Fields = {};
  for (const [k, vs] of entries) out[key(k)] = [...vs].map(value);
  return out;
}

/** The newest snapshot in the data dir: its zxid (hex, no prefix, as ZooKeeper) and when it was written (s). */
function lastSnapshot(s: ServerView): Fields {
  const c = s.config;
  const files = listFiles(c.ensemble ? memberDir(c.dataDir, c.dataLogDir) : c.dataDir, 'snapshot');
  const newest = files.at(-1);
  if (newest === undefined) return { zxid: '0', timestamp: 0 };
  return { zxid: newest.index.toString(16), timestamp: Math.floor(statSync(newest.path).mtimeMs / 1000) };
}

/** What Node's process runs with, in place of ZooKeeper's JVM system properties. */
function processSettings(s: ServerView): Fields {
  return {
    'node.version': process.version,
    'node.exec_path': process.execPath,
    'node.exec_argv': process.execArgv.join(' '),
    'node.options': process.env.NODE_OPTIONS ?? '',
    'process.argv': process.argv.join(' '),
    'process.pid': String(process.pid),
    'ensemble.log_level': s.log.level,
    'os.name': process.platform,
    'os.arch': process.arch,
    'user.dir': process.cwd(),
    'user.timezone': Intl.DateTimeFormat().resolvedOptions().timeZone,
    'zookeeper.4lw.commands.whitelist': s.config.fourLetterWhitelist.join(','),
    'zookeeper.admin.enableServer': String(s.config.adminEnableServer),
    'zookeeper.admin.serverAddress': s.config.adminServerAddress,
    'zookeeper.admin.serverPort': String(s.config.adminServerPort),
    'zookeeper.forceSync': s.config.forceSync ? 'yes' : 'no',
  };
}

/** The resolved settings in zoo.cfg's form (the file itself is not kept). */
function initialConfiguration(s: ServerView): string {
  const c = s.config;
  const lines = configurationFields(s).filter(([key]) => !['serverId', 'clientPortListenBacklog'].includes(key)).map(([key, , v]) => `${key}=${v}`);
  if (c.clientPortAddress !== undefined) lines.push(`clientPortAddress=${c.clientPortAddress}`);
  lines.push(`4lw.commands.whitelist=${c.fourLetterWhitelist.join(',')}`, `admin.enableServer=${c.adminEnableServer}`,
    `admin.serverAddress=${c.adminServerAddress}`, `admin.serverPort=${c.adminServerPort}`);
  for (const m of c.ensemble?.members ?? []) lines.push(`server.${m.id}=${m.host}:${m.quorumPort}:${m.electionPort};${m.clientPort}`);
  return lines.join('\n') + '\n';
}

/** An address as ZooKeeper's MultipleAddresses appears in its JSON (one address here). */
function multipleAddresses(host: string, port: number): Fields {
  const one = `${host}:${port}`;
  return {
    empty: false, all_addresses: [one], all_reachable_addresses: [one], one, reachable_address: one,
    wildcard_addresses: [`0.0.0.0:${port}`], all_ports: [port], all_host_strings: [host],
    all_reachable_addresses_or_all: [one], reachable_or_one: one,
  };
}

const ownClientAddress = (s: ServerView): string => `${s.address.host}:${s.address.port}`;

/** Each member as ZooKeeper's voting view gives it; another member's client address only if its line names one. */
function votingView(s: ServerView): Fields {
  const e = s.config.ensemble;
  return Object.fromEntries((e?.members ?? []).map((m) => [String(m.id), {
    server_addresses: [`${m.host}:${m.quorumPort}`],
    election_addresses: [`${m.host}:${m.electionPort}`],
    client_address: m.id === e?.myid ? ownClientAddress(s) : m.clientPort === undefined ? '' : `${m.clientHost ?? '0.0.0.0'}:${m.clientPort}`,
    learner_type: m.role,
  }]));
}

/** A member's place in the protocol; a standalone server, or a member that knows no leader, is not voting. */
function zabStateFields(s: ServerView): Fields {
  const q = s.quorumStatus;
  const self = s.config.ensemble?.members.find((m) => m.id === s.config.ensemble?.myid);
  if (q === undefined || !q.serving || self === undefined) return { voting: false, zabstate: '' };
  const zxid = s.tree.lastProcessedZxid;
  return {
    myid: q.serverId,
    is_leader: q.mode === 'leader',
    quorum_address: multipleAddresses(self.host, self.quorumPort),
    election_address: multipleAddresses(self.host, self.electionPort),
    client_address: ownClientAddress(s),
    voting: true,
    last_zxid: `0x${zxid.toString(16)}`,
    zab_epoch: Math.floor(zxid / 2 ** 32),
    zab_counter: zxid % 2 ** 32,
    zabstate: zabState(q),
  };
}

const COMMANDS: readonly AdminCommand[] = [
  { names: ['configuration', 'conf', 'config'], run: ({ server }) => Object.fromEntries(configurationFields(server).map(([, k, v]) => [k, v])) },
  {
    names: ['connection_stat_reset', 'crst'],
    run: ({ server }) => {
      for (const c of server.connections) c.resetStats();
      return {};
    },
  },
  {
    names: ['connections', 'cons'],
    run: ({ server }) => ({ connections: [...server.connections].map((c) => connectionFull(c, server.clock.now())), secure_connections: [] }),
  },
  { names: ['dirs'], run: ({ server }) => ({ datadir_size: dataDirSize(server.config), logdir_size: logDirSize(server.config) }) },
  {
    names: ['dump'],
    run: ({ server }) => {
      const byExpiry = new Map<number, bigint[]>();
      for (const sess of server.sessions.all()) byExpiry.set(sess.expiresAtMs, [...(byExpiry.get(sess.expiresAtMs) ?? []), sess.id]);
      return {
        expiry_time_to_session_ids: mapOfSets([...byExpiry].sort(([a], [b]) => a - b), String, (id) => sessionNumber(id as bigint)),
        session_id_to_ephemeral_paths: mapOfSets(server.tree.ephemerals, (id) => String(sessionNumber(id))),
      };
    },
  },
  { names: ['environment', 'env', 'envi'], serverRequired: false, run: () => Object.fromEntries(environmentFields()) },
  // Ensemble writes no trace log: no trace category is on.
  { names: ['get_trace_mask', 'gtmk'], serverRequired: false, run: () => ({ tracemask: 0 }) },
  // ZooKeeper's tree digests (digest.enabled) are not kept.
  { names: ['hash'], run: () => ({ digests: [] }) },
  // As ZooKeeper's, a member (QuorumPeerMain) has none to show.
  {
    names: ['initial_configuration', 'icfg'],
    run: ({ server }) => ({ initial_configuration: server.config.ensemble === undefined ? initialConfiguration(server) : null }),
  },
  { names: ['is_read_only', 'isro'], run: () => ({ read_only: false }) },
  { names: ['last_snapshot', 'lsnp'], run: ({ server }) => lastSnapshot(server) },
  {
    names: ['leader', 'lead'],
    run: ({ server, member }) => {
      const q = server.quorumStatus;
      if (member === undefined || q === undefined) return { error: 'server is not initialized' };
      const leader = server.config.ensemble?.members.find((m) => m.id === member.raft.lead);
      return { is_leader: q.mode === 'leader', leader_id: leader?.id ?? -1, leader_ip: leader?.host ?? '' };
    },
  },
  { names: ['monitor', 'mntr'], run: ({ server }) => Object.fromEntries(monitorFields(server)) },
  { names: ['observer_connection_stat_reset', 'orst'], run: () => ({}) },
  { names: ['observers', 'obsr'], run: () => ({ synced_observers: 0, observers: [] }) },
  { names: ['ruok'], run: () => ({}) },
  { names: ['server_stats', 'srvr'], run: ({ server }) => serverStats(server) },
  {
    names: ['stat_reset', 'srst'],
    run: ({ server }) => {
      resetServerStats(server);
      return {};
    },
  },
  {
    names: ['stats', 'stat'],
    run: ({ server }) => ({ ...serverStats(server), connections: [...server.connections].map(connectionBrief), secure_connections: [] }),
  },
  { names: ['system_properties', 'sysp'], serverRequired: false, run: ({ server }) => processSettings(server) },
  { names: ['voting_view'], run: ({ server }) => ({ current_config: votingView(server) }) },
  {
    names: ['watch_summary', 'wchs'],
    run: ({ server }) => {
      const w = server.watches.data;
      return { num_connections: w.bySession().size, num_paths: w.pathCount, num_total_watches: w.watchCount };
    },
  },
  {
    names: ['watches', 'wchc'],
    run: ({ server }) => ({ session_id_to_watched_paths: mapOfSets(server.watches.data.bySession(), (id) => String(sessionNumber(id))) }),
  },
  {
    names: ['watches_by_path', 'wchp'],
    run: ({ server }) => ({ path_to_session_ids: mapOfSets(server.watches.data.byPathSessions(), String, (id) => sessionNumber(id as bigint)) }),
  },
  { names: ['zabstate'], serverRequired: false, run: ({ server }) => zabStateFields(server) },
];

const byName = new Map<string, AdminCommand>(COMMANDS.flatMap((c) => c.names.map((n) => [n, c] as const)));

/**
 * `GET <commandURL>` lists the commands (links, as ZooKeeper's page); `GET <commandURL>/<name>` runs
 * one by its name or an alias. An unknown name is a 404 with ZooKeeper's JSON body; methods other
 * than GET and HEAD are refused (405).
 */
export function commandRoute(options: AdminHttpOptions): AdminRoute {
  const base = options.config.adminCommandUrl.replace(/\/+$/, '');
  return (req, res, url) => {
    const path = url.pathname;
    if (path !== base && !path.startsWith(base + '/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { error: `HTTP method ${req.method} is not supported by this URL` }, { Allow: 'GET, HEAD' });
      return true;
    }
    let name: string;
    try {
      name = decodeURIComponent(path.slice(base.length + 1));
    } catch {
      name = path.slice(base.length + 1);
    }
    if (name === '') {
      const page = COMMANDS.map((c) => `<a href="${base}/${c.names[0]}">${c.names[0]}</a>\n<br/>\n`).join('');
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': Buffer.byteLength(page) });
      res.end(req.method === 'HEAD' ? undefined : page);
      return true;
    }
    const command = byName.get(name);
    if (command === undefined) {
      sendJson(res, 404, { command: name, error: `Unknown command: ${name}` });
      return true;
    }
    // As ZooKeeper's, a command that needs a running server answers an error while the member serves nothing.
    if (command.serverRequired !== false && options.server.quorumStatus?.serving === false) {
      sendJson(res, 200, { command: command.names[0], error: 'This ZooKeeper instance is not currently serving requests' });
      return true;
    }
    const fields = command.run(options);
    sendJson(res, 200, { ...fields, command: command.names[0], error: fields.error ?? null });
    return true;
  };
}
