/**
 * Differential: the admin HTTP server's commands against Apache ZooKeeper 3.8's AdminServer. Both
 * servers get the same znodes, an ephemeral, watches and a connected session; then every command's
 * JSON must have ZooKeeper's keys (recursively) but for the ones listed below, and the values that
 * mean the same must be equal. mntr's keys are compared the same way.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { connect, type ZooKeeperClient } from '../../src/index.ts';
import { isLoopback } from '../../src/server/admin/admin-http.ts';
import { javaDouble } from '../../src/server/admin/four-letter.ts';
import { startServer, type StartedServer } from '../../src/server/index.ts';
import { freePort } from '../support/ports.ts';
import { ProcessEnsemble } from '../support/process-ensemble.ts';
import type { RunningServer } from '../support/servers.ts';
import { fourLetterWord, startZooKeeper } from '../support/zookeeper.ts';

/** Keys ZooKeeper answers that Ensemble does not (docs/operations.md says why), by command. */
const OMITTED: Record<string, readonly string[]> = {
  // auth_failed_count: ZooKeeper counts refusals of enforced authentication (enforce.auth.*), which Ensemble lacks.
  server_stats: ['fsync_threshold_exceed_count', 'provider_null', 'auth_failed_count'],
  stats: ['fsync_threshold_exceed_count', 'provider_null', 'auth_failed_count'],
  // The JVM's system properties; Ensemble reports its process's settings instead.
  system_properties: ['*'],
  environment: ['java.version', 'java.vendor', 'java.home', 'java.class.path', 'java.library.path', 'java.io.tmpdir', 'java.compiler'],
};
/** Keys of ZooKeeper's monitor/mntr kept out of Ensemble's: summaries (avg_/min_/max_/cnt_/sum_/pNN_) of its internals, and these. */
const MONITOR_OMITTED = new Set([
  'non_mtls_remote_conn_count', 'non_mtls_local_conn_count', 'connection_drop_probability', 'auth_failed_count', 'outstanding_tls_handshake',
  'proposal_count', 'watch_bytes', 'outstanding_changes_removed', 'outstanding_changes_queued', 'throttled_ops',
  'stale_requests_dropped', 'large_requests_rejected', 'insecure_admin_count',
  'cnxn_closed_without_zk_server_running', 'looking_count', 'dead_watchers_queued',
  'stale_requests', 'connection_drop_count', 'learner_proposal_received_count', 'digest_mismatches_count',
  'dead_watchers_cleared', 'response_packet_cache_hits', 'bytes_received_count', 'add_dead_watcher_stall_time',
  'request_throttle_wait_count', 'requests_not_forwarded_to_commit_processor', 'response_packet_cache_misses',
  'ensemble_auth_success', 'prep_processor_request_queued', 'learner_commit_received_count', 'stale_replies',
  'connection_request_count', 'response_bytes', 'ensemble_auth_fail', 'diff_count', 'response_packet_get_children_cache_misses',
  'connection_revalidate_count', 'quit_leading_due_to_disloyal_voter', 'snap_count', 'unrecoverable_error_count',
  'unsuccessful_handshake', 'commit_count', 'stale_sessions_expired', 'response_packet_get_children_cache_hits',
  'sync_processor_request_queued', 'request_commit_queued', 'ensemble_auth_skip', 'skip_learner_request_to_next_processor_count',
  'tls_handshake_exceeded', 'revalidate_count',
]);
const isSummary = (k: string): boolean => /^(avg|min|max|cnt|sum|p50|p95|p99|p999)_/.test(k) && !/^(avg|min|max)_latency$/.test(k) && k !== 'max_file_descriptor_count';
const monitorOmitted = (k: string): boolean => MONITOR_OMITTED.has(k) || isSummary(k);

/** Values that must be equal after the same operations. */
const EQUAL: Record<string, readonly string[]> = {
  is_read_only: ['read_only'],
  // (max_client_response_size: getData's answer, the largest of the same operations on both)
  monitor: ['max_client_response_size', 'server_state', 'znode_count', 'ephemerals_count', 'watch_count', 'approximate_data_size', 'global_sessions', 'local_sessions', 'num_alive_connections'],
  watch_summary: ['num_connections', 'num_paths', 'num_total_watches'],
  voting_view: ['current_config'],
  zabstate: ['voting', 'zabstate'],
  hash: ['digests'],
  observers: ['synced_observers', 'observers'],
  leader: ['error'],
  configuration: ['tick_time', 'max_client_cnxns', 'min_session_timeout', 'max_session_timeout', 'server_id', 'client_port_listen_backlog'],
};

const COMMANDS = [
  'ruok', 'server_stats', 'srvr', 'stats', 'stat', 'configuration', 'conf', 'connections', 'cons', 'connection_stat_reset', 'crst',
  'stat_reset', 'srst', 'environment', 'envi', 'monitor', 'mntr', 'watches', 'wchc', 'watches_by_path', 'wchp', 'watch_summary',
  'wchs', 'dump', 'dirs', 'is_read_only', 'isro', 'last_snapshot', 'lsnp', 'leader', 'lead', 'voting_view', 'system_properties',
  'hash', 'initial_configuration', 'observers', 'obsr', 'zabstate', 'get_trace_mask', 'gtmk', 'observer_connection_stat_reset',
];

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function http(host: string, port: number, path: string, method = 'GET'): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every key path of a JSON value: objects' keys, recursively; arrays by their first element. */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length === 0 ? [] : keyPaths(v[0], `${prefix}[]`);
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => [`${prefix}${k}`, ...(isMap(k) ? [] : keyPaths(x, `${prefix}${k}.`))]);
}
/** Objects keyed by data (session ids, paths, times): their keys are not field names. */
const isMap = (k: string): boolean => ['expiry_time_to_session_ids', 'session_id_to_ephemeral_paths', 'session_id_to_watched_paths', 'path_to_session_ids', 'current_config'].includes(k);

interface Side { host: string; port: number; adminPort: number; clients: ZooKeeperClient[] }

/** The same state on each: znodes, an ephemeral, two data watches, one child watch. */
async function populate(side: Side, connectString: string): Promise<void> {
  const c = await connect(connectString);
  side.clients.push(c);
  await c.create('/a', 'hello');
  await c.create('/a/b', 'x');
  await c.create('/e', '', { mode: 'ephemeral' });
  await c.getData('/a', { watch: () => {} });
  await c.exists('/a/b', { watch: () => {} });
  await c.getChildren('/a', { watch: () => {} });
}

describe('admin HTTP server, against ZooKeeper 3.8', () => {
  let zk: RunningServer;
  let ours: StartedServer;
  let dataDir: string;
  const sides: Record<'zookeeper' | 'ensemble', Side> = {} as never;

  before(async () => {
    const zkAdmin = await freePort();
    zk = await startZooKeeper({ adminServerPort: zkAdmin });
    dataDir = await mkdtemp(join(tmpdir(), 'admin-http-'));
    ours = await startServer({
      clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, maxClientCnxns: 0, fourLetterWhitelist: ['*'], forceSync: false,
      adminEnableServer: true, adminServerPort: 0,
    });
    sides.zookeeper = { host: zk.host, port: zk.port, adminPort: zkAdmin, clients: [] };
    sides.ensemble = { host: ours.host, port: ours.port, adminPort: ours.admin!.port, clients: [] };
    await populate(sides.zookeeper, zk.connectString);
    await populate(sides.ensemble, `127.0.0.1:${ours.port}`);
  });

  after(async () => {
    for (const s of Object.values(sides)) await Promise.all(s.clients.map((c) => c.close()));
    await ours?.close();
    await zk?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  const command = async (name: 'zookeeper' | 'ensemble', cmd: string): Promise<Record<string, unknown>> => {
    const s = sides[name];
    const r = await http('127.0.0.1', s.adminPort, `/commands/${cmd}`);
    assert.equal(r.status, 200, `${name} ${cmd}: ${r.body}`);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    return JSON.parse(r.body) as Record<string, unknown>;
  };

  for (const cmd of COMMANDS) {
    test(`${cmd}: ZooKeeper's keys, and its values where they mean the same`, async () => {
      const z = await command('zookeeper', cmd);
      const e = await command('ensemble', cmd);
      assert.equal(e.command, z.command, 'the primary name');
      assert.equal(e.error, z.error);
      const primary = String(z.command);
      const omitted = OMITTED[primary] ?? [];
      const skip = (path: string): boolean => omitted.includes('*') || omitted.includes(path) || path.split(/\.|\[\]/).some((part) => omitted.includes(part))
        || (primary === 'monitor' && monitorOmitted(path));
      const missing = keyPaths(z).filter((p) => !skip(p) && !keyPaths(e).includes(p));
      assert.deepEqual(missing, [], `${cmd}: keys ZooKeeper has that Ensemble lacks`);
      for (const k of EQUAL[primary] ?? []) assert.deepEqual(e[k], z[k], `${cmd}: ${k}`);
    });
  }

  test('mntr over the client port: ZooKeeper\'s keys but for the documented ones, the same values where they mean the same', async () => {
    const parse = async (s: Side): Promise<Map<string, string>> => new Map(
      (await fourLetterWord(s.host, s.port, 'mntr')).trim().split('\n').map((l) => l.split('\t') as [string, string]));
    const z = await parse(sides.zookeeper);
    const e = await parse(sides.ensemble);
    const missing = [...z.keys()].filter((k) => !monitorOmitted(k.slice(3)) && !e.has(k));
    assert.deepEqual(missing, []);
    for (const k of ['zk_server_state', 'zk_znode_count', 'zk_ephemerals_count', 'zk_watch_count', 'zk_approximate_data_size', 'zk_global_sessions']) {
      assert.equal(e.get(k), z.get(k), k);
    }
    assert.match(e.get('zk_avg_latency')!, /^\d+\.\d+(E-\d+)?$/, 'a Java double, as ZooKeeper prints it');
  });

  test('srvr\'s latency line has ZooKeeper\'s form, and stat_reset zeroes it', async () => {
    const line = async (s: Side): Promise<string> => /^Latency min\/avg\/max: .*$/m.exec(await fourLetterWord(s.host, s.port, 'srvr'))![0];
    for (const s of Object.values(sides)) {
      assert.match(await line(s), /^Latency min\/avg\/max: \d+\/\d+\.\d+\/\d+$/);
      await command(s === sides.zookeeper ? 'zookeeper' : 'ensemble', 'stat_reset');
      assert.equal(await line(s), 'Latency min/avg/max: 0/0.0/0');
    }
  });

  test('the command list, unknown commands and other methods', async () => {
    const { adminPort } = sides.ensemble;
    const list = await http('127.0.0.1', adminPort, '/commands');
    assert.equal(list.status, 200);
    const zkList = await http('127.0.0.1', sides.zookeeper.adminPort, '/commands');
    const names = (body: string): string[] => [...body.matchAll(/>([a-z_]+)<\/a>/g)].map((m) => m[1]).sort();
    assert.deepEqual(names(zkList.body).filter((n) => n !== 'set_trace_mask').filter((n) => !names(list.body).includes(n)), []);
    const unknown = await http('127.0.0.1', adminPort, '/commands/no_such');
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.body), { command: 'no_such', error: 'Unknown command: no_such' });
    const zkUnknown = JSON.parse((await http('127.0.0.1', sides.zookeeper.adminPort, '/commands/no_such')).body) as unknown;
    assert.deepEqual(JSON.parse(unknown.body), zkUnknown, 'the same body as ZooKeeper\'s (which answers it with 200)');
    const malformed = await http('127.0.0.1', adminPort, '/commands/%E0%A4%A');
    assert.equal(malformed.status, 404);
    assert.equal((JSON.parse(malformed.body) as { error: string }).error, 'Unknown command: %E0%A4%A');
    const byAlias = JSON.parse((await http('127.0.0.1', adminPort, '/commands/%6Dntr')).body) as { command: string };
    assert.equal(byAlias.command, 'monitor', 'a percent-encoded name is decoded');
    for (const method of ['POST', 'PUT', 'DELETE']) {
      const r = await http('127.0.0.1', adminPort, '/commands/ruok', method);
      assert.equal(r.status, 405, method);
      assert.equal(r.headers.allow, 'GET, HEAD');
    }
    const head = await http('127.0.0.1', adminPort, '/commands/ruok', 'HEAD');
    assert.equal(head.status, 200);
    assert.equal((await http('127.0.0.1', adminPort, '/elsewhere')).status, 404);
  });

  test('it listens on the loopback interface by default', () => {
    assert.equal(ours.admin!.host, '127.0.0.1');
  });
});

describe('an ensemble member\'s admin server, against ZooKeeper 3.8\'s members', () => {
  const ensembles: Record<'zookeeper' | 'ensemble', ProcessEnsemble> = {
    zookeeper: new ProcessEnsemble({ server: 'zookeeper', admin: true, tickTimeMs: 500 }),
    ensemble: new ProcessEnsemble({ server: 'ensemble', admin: true, tickTimeMs: 500 }),
  };
  /** Each one's leader and a follower, serving. */
  const roles: Record<string, { leader: number; follower: number }> = {};

  before(async () => {
    for (const [name, e] of Object.entries(ensembles)) {
      await e.configure();
      for (const id of e.ids) e.start(id);
      const leader = await e.leader();
      for (const id of e.ids) while ((await e.mode(id)) === null) await new Promise((r) => setTimeout(r, 50));
      roles[name] = { leader, follower: e.ids.find((id) => id !== leader)! };
    }
  });

  after(async () => {
    await Promise.all(Object.values(ensembles).map((e) => e.close()));
  });

  const command = async (name: 'zookeeper' | 'ensemble', role: 'leader' | 'follower', cmd: string): Promise<Record<string, unknown>> => {
    const r = await http('127.0.0.1', ensembles[name].member(roles[name][role]).adminPort!, `/commands/${cmd}`);
    assert.equal(r.status, 200, `${name} ${role} ${cmd}: ${r.body}`);
    return JSON.parse(r.body) as Record<string, unknown>;
  };

  /** What Ensemble's leader does not report: proposal sizes, and how long it has led. */
  const MEMBER_OMITTED = ['proposal_stats', 'last_proposal_size', 'min_proposal_size', 'max_proposal_size', 'leader_uptime'];
  for (const role of ['leader', 'follower'] as const) {
    for (const cmd of ['leader', 'voting_view', 'zabstate', 'monitor', 'server_stats', 'configuration', 'initial_configuration', 'observers']) {
      test(`${role}: ${cmd} has ZooKeeper's keys, and its values where they mean the same`, async () => {
        const z = await command('zookeeper', role, cmd);
        const e = await command('ensemble', role, cmd);
        const omitted = [...MEMBER_OMITTED, ...(OMITTED[cmd] ?? [])];
        const skip = (path: string): boolean => path.split(/\.|\[\]/).some((part) => omitted.includes(part)) || (cmd === 'monitor' && monitorOmitted(path));
        assert.deepEqual(keyPaths(z).filter((p) => !skip(p) && !keyPaths(e).includes(p)), [], `${role} ${cmd}: keys ZooKeeper has that Ensemble lacks`);
        assert.equal(e.error, z.error);
        const same = ['is_leader', 'voting', 'zabstate', 'server_state', 'peer_state', 'quorum_size', 'learners', 'synced_followers', 'initial_configuration', 'observers'];
        for (const k of same) assert.deepEqual(e[k], z[k], `${role} ${cmd}: ${k}`);
        if (cmd === 'voting_view') {
          // The same shape for each member, and for this member its own client address.
          const view = (x: Record<string, unknown>): unknown[] => Object.values(x.current_config as object).map((m: Record<string, unknown>) => Object.keys(m));
          assert.deepEqual(view(e), view(z));
        }
      });
    }
  }
});

test('off by default: nothing listens on the admin port', async () => {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'admin-http-off-'));
  const s = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, adminServerPort: port });
  try {
    assert.equal(s.admin, undefined);
    await assert.rejects(http('127.0.0.1', port, '/commands/ruok'), /ECONNREFUSED/);
  } finally {
    await s.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test('the log says where it listens, and that it is the loopback interface only', async () => {
  const lines: Array<{ level: number; msg: string; host?: string; port?: number }> = [];
  const sink = new Writable({ write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(l) as (typeof lines)[number]);
    done();
  } });
  const dataDir = await mkdtemp(join(tmpdir(), 'admin-http-log-'));
  const s = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, adminEnableServer: true, adminServerPort: 0 },
    { log: pino({ level: 'info' }, sink) });
  try {
    const line = lines.find((l) => /^admin server listening/.test(l.msg));
    assert.ok(line, JSON.stringify(lines));
    assert.equal(line.level, 30, 'info');
    assert.match(line.msg, /loopback interface only/);
    assert.deepEqual([line.host, line.port], ['127.0.0.1', s.admin!.port]);
    // The level the server logs at, however it was set.
    const props = await (await fetch(`http://127.0.0.1:${s.admin!.port}/commands/system_properties`)).json() as Record<string, unknown>;
    assert.equal(props['ensemble.log_level'], 'info');
  } finally {
    await s.close();
    await rm(dataDir, { recursive: true, force: true });
  }
  // Any other address is a warning (not bound here: tests stay on loopback).
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) assert.equal(isLoopback(host), true, host);
  for (const host of ['0.0.0.0', '::', '10.1.2.3', '192.168.0.1', '::ffff:10.0.0.1']) assert.equal(isLoopback(host), false, host);
});

test('averages are printed as Java prints a double, as ZooKeeper\'s mntr and srvr do', () => {
  const cases: Array<[number, string]> = [[0, '0.0'], [2, '2.0'], [1.3846, '1.3846'], [0.0005, '5.0E-4'], [0.00012, '1.2E-4'], [0.001, '0.001'], [12345.5, '12345.5']];
  for (const [x, text] of cases) assert.equal(javaDouble(x), text, String(x));
});
