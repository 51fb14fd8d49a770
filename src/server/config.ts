/** Server configuration: defaults, and Apache ZooKeeper's zoo.cfg format. */
import { readFileSync } from 'node:fs';
import { withSaslKey, type SaslSettings } from './auth/sasl.ts';
import {
  parseServerLine, resolveEnsemble, ZOOKEEPER_DEFAULT_TICK_MS, type EnsembleConfig, type ServerLine,
} from './ensemble-config.ts';
import { TLS_KEYS, tlsSettings, type TlsSettings } from './net/tls-settings.ts';

export type { EnsembleConfig, EnsembleMember } from './ensemble-config.ts';

export interface ServerConfig {
  tickTimeMs: number;
  clientPort: number;
  /** Address to listen on; undefined = every interface, as ZooKeeper. */
  clientPortAddress?: string;
  /** False when zoo.cfg sets secureClientPort and no clientPort: only TLS clients, as ZooKeeper. */
  clientPortEnabled: boolean;
  /** The TLS client port (secureClientPort), with clientTls's settings; undefined = none. */
  secureClientPort?: number;
  secureClientPortAddress?: string;
  /** The ssl.* keys. */
  clientTls?: TlsSettings;
  /** client.portUnification: the client port takes TLS clients too (with clientTls), told apart by their first byte. */
  clientPortUnification?: boolean;
  /** X509AuthenticationProvider.superUser: the certificate subject that is the super user. */
  x509SuperUser?: string;
  /** sslQuorum=true: TLS between members, with the ssl.quorum.* keys. */
  quorumTls?: TlsSettings;
  /** sslQuorumReloadCertFiles: the ssl.quorum stores are read again when their files change. */
  quorumTlsReload?: boolean;
  dataDir: string;
  dataLogDir?: string;
  /** Connections per client IP; 0 = no limit. */
  maxClientCnxns: number;
  /** maxCnxns: client connections in all; 0 = no limit. */
  maxCnxns: number;
  /** nio.sessionlessCnxnTimeout: a connection not done with its handshake this long after it was accepted is closed. */
  sessionlessCnxnTimeoutMs: number;
  /** globalOutstandingLimit: past this many requests in flight in all, connections with requests in flight are not read. */
  globalOutstandingLimit: number;
  /** ensemble.maxOutputBytes: replies and events not yet sent, over all connections; past it the one holding most is closed. */
  maxOutputBytes: number;
  /** ensemble.maxOutputBytesPerConnection: the same bound for one connection, closed past it. */
  maxOutputBytesPerConnection: number;
  /** ensemble.maxInputBytes: bytes received and not yet whole requests, over all connections; past it the one holding most is closed. */
  maxInputBytes: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Four-letter words allowed; '*' allows all. srvr is always allowed... unless the list is explicit. */
  fourLetterWhitelist: string[];
  /** jute.maxbuffer: largest packet body and znode data, in bytes. */
  juteMaxBufferBytes: number;
  superDigest?: string;
  /** SASL (DIGEST-MD5): the JAAS file of its users and the zoo.cfg keys about it; undefined = no SASL. */
  sasl?: SaslSettings;
  extendedTypesEnabled: boolean;
  /** zookeeper.enforceQuota: writes past a hard quota limit fail with QUOTAEXCEEDED (default off). */
  enforceQuota: boolean;
  reconfigEnabled: boolean;
  containerCheckIntervalMs: number;
  /** Writes allowed in flight per connection before reading from it pauses. */
  maxOutstandingPerConnection: number;
  /**
   * ensemble.maxWatchesPerSession: watches (data and child together) one session may hold; a request
   * that would set more is refused with THROTTLEDOP. 0 = no limit.
   */
  maxWatchesPerSession: number;
  /** Log writes durable before replying (forceSync=no: tests only). */
  forceSync: boolean;
  /** Txns between snapshots (each interval drawn from (snapCount/2, snapCount]). */
  snapCount: number;
  /** Log segments grow by this much at a time (preAllocSize, in KiB in zoo.cfg). */
  preAllocSizeBytes: number;
  /** autopurge.snapRetainCount and autopurge.purgeInterval (hours; 0 = off). */
  snapRetainCount: number;
  purgeIntervalHours: number;
  /** fsync.warningthresholdms: a durable log write slower than this is logged as a warning. */
  fsyncWarningThresholdMs: number;
  /** The Prometheus endpoint (metricsProvider.*); undefined = no metrics exported (mntr still answers). */
  metrics?: { host: string; port: number; /** exportJvmInfo: the Node process's metrics too. */ processInfo: boolean };
  /** Present when zoo.cfg describes a replicated ensemble; clientPort is then this member's. */
  ensemble?: EnsembleConfig;
  /** admin.enableServer: the admin HTTP server (off by default, unlike ZooKeeper). */
  adminEnableServer: boolean;
  /** admin.serverAddress: loopback by default (ZooKeeper's is 0.0.0.0). */
  adminServerAddress: string;
  adminServerPort: number;
  /** admin.commandURL: where the commands answer. */
  adminCommandUrl: string;
  /** admin.console.enable and admin.console.allowEdits: the web console on the admin server. */
  adminConsole: boolean;
  adminConsoleEdits: boolean;
}

export const DEFAULT_TICK_MS = 2000;

export function defaultConfig(): ServerConfig {
  return {
    tickTimeMs: DEFAULT_TICK_MS,
    clientPort: 2181,
    clientPortEnabled: true,
    dataDir: './data',
    maxClientCnxns: 60,
    maxCnxns: 0,
    sessionlessCnxnTimeoutMs: 10_000,
    globalOutstandingLimit: 1000,
    maxOutputBytes: 256 * 1024 * 1024,
    maxOutputBytesPerConnection: 64 * 1024 * 1024,
    maxInputBytes: 256 * 1024 * 1024,
    minSessionTimeoutMs: -1,
    maxSessionTimeoutMs: -1,
    fourLetterWhitelist: ['srvr'],
    juteMaxBufferBytes: 0xfffff,
    extendedTypesEnabled: false,
    enforceQuota: false,
    reconfigEnabled: false,
    containerCheckIntervalMs: 60_000,
    maxOutstandingPerConnection: 1000,
    maxWatchesPerSession: 1_000_000,
    forceSync: true,
    snapCount: 100_000,
    preAllocSizeBytes: 64 * 1024 * 1024,
    snapRetainCount: 3,
    purgeIntervalHours: 0,
    fsyncWarningThresholdMs: 1000,
    adminEnableServer: false,
    adminServerAddress: '127.0.0.1',
    adminServerPort: 8080,
    adminCommandUrl: '/commands',
    adminConsole: false,
    adminConsoleEdits: false,
  };
}

/** Fill in what depends on other settings (session bounds default to 2 and 20 ticks). */
export function resolveConfig(partial: Partial<ServerConfig>): ServerConfig {
  const c: ServerConfig = { ...defaultConfig(), ...stripUndefined(partial) };
  if (c.minSessionTimeoutMs <= 0) c.minSessionTimeoutMs = 2 * c.tickTimeMs;
  if (c.maxSessionTimeoutMs <= 0) c.maxSessionTimeoutMs = 20 * c.tickTimeMs;
  // As ZooKeeper: a negative maxCnxns is no limit.
  if (c.maxCnxns < 0) c.maxCnxns = 0;
  for (const [key, value] of [['nio.sessionlessCnxnTimeout', c.sessionlessCnxnTimeoutMs], ['ensemble.maxOutputBytes', c.maxOutputBytes],
    ['ensemble.maxOutputBytesPerConnection', c.maxOutputBytesPerConnection], ['ensemble.maxInputBytes', c.maxInputBytes]] as const) {
    if (!(value > 0)) throw new Error(`${key} must be positive, got ${value}`);
  }
  if (c.globalOutstandingLimit < 0) throw new Error(`globalOutstandingLimit must not be negative, got ${c.globalOutstandingLimit}`);
  if (c.snapCount < 2) throw new Error(`snapCount must be at least 2, got ${c.snapCount}`);
  // As ZooKeeper: fewer than 3 retained snapshots is raised to 3.
  if (c.snapRetainCount < 3) c.snapRetainCount = 3;
  if (c.minSessionTimeoutMs > c.maxSessionTimeoutMs) {
    throw new Error(`minSessionTimeout ${c.minSessionTimeoutMs} must not be larger than maxSessionTimeout ${c.maxSessionTimeoutMs}`);
  }
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export interface ParsedZooCfg {
  config: Partial<ServerConfig>;
  warnings: string[];
}

const integer = (key: string, v: string): number => {
  if (!/^-?\d+$/.test(v.trim())) throw new Error(`zoo.cfg: ${key} must be an integer, got "${v}"`);
  return Number(v.trim());
};
const bool = (v: string): boolean => v.trim().toLowerCase() === 'true';
/** ZooKeeper reads forceSync as "no" (off) or anything else (on). */
const yesNo = (v: string): boolean => v.trim().toLowerCase() !== 'no';

/**
 * Keys Apache ZooKeeper 3.8 reads (QuorumPeerConfig, and the `zookeeper.` system properties its
 * server reads) that Ensemble does not act on, grouped by what is missing. Each is a warning that
 * names it. A key ending in '.' or '_' stands for every key that starts with it.
 */
const NOT_ACTED_UPON: ReadonlyArray<readonly [reason: string, keys: readonly string[]]> = [
  ['Ensemble puts no limit on TLS handshakes in progress', ['netty.server.']],
  ['Ensemble checks no revocation list (crl, ocsp) and takes no Java SSL context, key or trust manager', ['ssl.']],
  ['the admin server has no TLS, idle timeout or client-port unification', [
    'admin.portUnification', 'admin.idleTimeout', 'admin.forceHttps', 'admin.needClientAuth',
  ]],
  ['the metrics endpoint has no worker threads to tune', [
    'metricsProvider.numWorkerThreads', 'metricsProvider.maxQueueSize', 'metricsProvider.workerShutdownTimeoutMs',
  ]],
  ['Ensemble has no Kerberos, no pluggable authentication providers and no authentication enforcement', [
    'authProvider.', 'DigestAuthenticationProvider.enabled', 'DigestAuthenticationProvider.digestAlg',
    'letAnySaslUserDoX',
    'kerberos.', 'requireKerberosConfig', 'kinit', 'ensembleAuthName', 'security.auth_to_local',
  ]],
  ['only ZooKeeper\'s replication protocol has it: Ensemble replicates with Raft, see docs/ensemble.md', [
    'initLimit', 'syncLimit', 'connectToLearnerMasterLimit', 'electionAlg', 'electionPortBindRetry',
    'quorumListenOnAllIPs', 'peerType', 'observerMasterPort', 'syncEnabled', 'standaloneEnabled',
    'portUnification', 'quorum.', 'quorumCnxnTimeoutMs',
    'multiAddress.', 'oraclePath', 'leaderServes', 'cnxTimeout', 'fastleader.', 'leader.', 'learner.',
    'follower.', 'observer.', 'observerMaster.', 'forceSnapshotSync', 'leaderConnectDelayDuringRetryMs',
    'forward_learner_requests_to_commit_processor_disabled', 'localSessionsEnabled',
    'localSessionsUpgradingEnabled', 'messageTracker.', 'digest.enabled',
  ]],
  ['Ensemble has its own network layer, limits and storage', [
    'clientPortListenBacklog', 'serverCnxnFactory', 'nio.', 'netty.',
    'tcpKeepAlive', 'commitProcessor.', 'flushDelay', 'maxWriteQueuePollTime', 'maxBatchSize',
    'commitLogCount', 'snapSizeLimitInKb', 'txnLogSizeLimitInKb', 'snapshotSizeFactor',
    'snapshot.compression.method', 'snapshot.trust.empty', 'datadir.autocreate', 'db.autocreate',
    'maxResponseCacheSize', 'maxGetChildrenResponseCacheSize', 'largeRequestMaxBytes',
    'largeRequestThreshold', 'connection_throttle_', 'request_throttle_', 'request_throttler.',
    'request_stale_connection_check', 'request_stale_latency_check', 'throttled_op_wait_time',
    'intBufferStartingSizeBytes', 'closeSessionTxn.enabled',
  ]],
  ['Ensemble does not have this feature', [
    'watchManagerName', 'watcherCleanThreshold', 'watcherCleanIntervalInSeconds', 'watcherCleanThreadsNum',
    'maxInProcessingDeadWatchers', 'bitHashCacheSize', 'znode.container.maxPerMinute',
    'znode.container.maxNeverUsedIntervalMs', 'emulate353TTLNodes', 'enableEagerACLCheck', 'skipACL',
    'pathStats.', 'jvm.pause.', 'audit.',
  ]],
  ['Ensemble logs to standard output, at the level ENSEMBLE_LOG_LEVEL sets', [
    'log.dir', 'log.file', 'root.logger', 'jmx.log4j.',
  ]],
];

/** Values of not-acted-upon keys that ask for what Ensemble does anyway (the feature off): no warning. */
const ALREADY_SO: Readonly<Record<string, string>> = {
  'admin.portUnification': 'false', 'audit.enable': 'false', 'sslQuorum': 'false', 'portUnification': 'false',
  'client.portUnification': 'false', 'quorum.auth.enableSasl': 'false', 'localSessionsEnabled': 'false',
  'standaloneEnabled': 'true', 'peerType': 'participant',
};

/** Why Ensemble does not act on a key ZooKeeper reads, or undefined if ZooKeeper does not know it. */
function notActedUpon(key: string): string | undefined {
  for (const [reason, keys] of NOT_ACTED_UPON) {
    if (keys.some((k) => (k.endsWith('.') || k.endsWith('_') ? key.startsWith(k) : key === k))) return reason;
  }
  return undefined;
}

/** Keys that only a replicated ensemble acts on: in standalone mode each is a warning, as before. */
const ENSEMBLE_KEYS = new Set(['initLimit', 'syncLimit', 'standaloneEnabled']);

/**
 * Parse zoo.cfg text (java.util.Properties style: key=value, # and ! comments). `origin` names the
 * text in messages (the file, or --property). Without server.N lines (or with one, standalone mode
 * allowed) it is a standalone server's configuration. With more, or standaloneEnabled=false, it
 * describes a replicated ensemble, as ZooKeeper's QuorumPeerConfig reads it: `ensemble` holds the
 * members, and this member's id is read from dataDir/myid. What Ensemble does not support (observers,
 * hierarchical quorums, dynamic reconfiguration) is refused (thrown), by name.
 */
export function parseZooCfg(text: string, origin = 'zoo.cfg'): ParsedZooCfg {
  const config: Partial<ServerConfig> = {};
  const warnings: string[] = [];
  /** Indexes in `warnings` of the ones about ENSEMBLE_KEYS, dropped when they are acted upon. */
  const ensembleKeyWarnings = new Set<number>();
  const serverLines: ServerLine[] = [];
  const settings = new Map<string, string>();
  const metricsKeys = new Map<string, string>();
  const clientTlsKeys = new Map<string, string>();
  const quorumTlsKeys = new Map<string, string>();
  let sslQuorum = false;
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) {
      warnings.push(`${origin}: ignoring line "${line}"`);
      continue;
    }
    const [, key, value] = m;
    const k = key.startsWith('zookeeper.') ? key.slice('zookeeper.'.length) : key;
    const where = `line ${index + 1}: ${line}`;
    if (k.startsWith('server.')) {
      serverLines.push({ key: k, value, where });
      continue;
    }
    refuseUnsupported(origin, k, value, where);
    if (ENSEMBLE_KEYS.has(k)) settings.set(k, value.trim());
    switch (k) {
      case 'tickTime': config.tickTimeMs = integer(key, value); break;
      case 'clientPort': config.clientPort = integer(key, value); break;
      case 'clientPortAddress': config.clientPortAddress = value.trim(); break;
      case 'dataDir': config.dataDir = value.trim(); break;
      case 'dataLogDir': config.dataLogDir = value.trim(); break;
      case 'maxClientCnxns': config.maxClientCnxns = integer(key, value); break;
      case 'maxCnxns': config.maxCnxns = integer(key, value); break;
      case 'nio.sessionlessCnxnTimeout': config.sessionlessCnxnTimeoutMs = integer(key, value); break;
      case 'globalOutstandingLimit': config.globalOutstandingLimit = integer(key, value); break;
      case 'ensemble.maxOutputBytes': config.maxOutputBytes = integer(key, value); break;
      case 'ensemble.maxOutputBytesPerConnection': config.maxOutputBytesPerConnection = integer(key, value); break;
      case 'ensemble.maxInputBytes': config.maxInputBytes = integer(key, value); break;
      case 'ensemble.maxWatchesPerSession': config.maxWatchesPerSession = integer(key, value); break;
      case 'minSessionTimeout': config.minSessionTimeoutMs = integer(key, value); break;
      case 'maxSessionTimeout': config.maxSessionTimeoutMs = integer(key, value); break;
      case '4lw.commands.whitelist':
        config.fourLetterWhitelist = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
        break;
      case 'jute.maxbuffer': config.juteMaxBufferBytes = integer(key, value); break;
      case 'DigestAuthenticationProvider.superDigest': config.superDigest = value.trim(); break;
      case 'extendedTypesEnabled': config.extendedTypesEnabled = bool(value); break;
      case 'enforceQuota': config.enforceQuota = bool(value); break;
      case 'reconfigEnabled': config.reconfigEnabled = bool(value); break;
      case 'znode.container.checkIntervalMs': config.containerCheckIntervalMs = integer(key, value); break;
      case 'forceSync': config.forceSync = yesNo(value); break;
      case 'snapCount': config.snapCount = integer(key, value); break;
      case 'preAllocSize': config.preAllocSizeBytes = integer(key, value) * 1024; break;
      case 'autopurge.snapRetainCount': config.snapRetainCount = integer(key, value); break;
      case 'autopurge.purgeInterval': config.purgeIntervalHours = integer(key, value); break;
      case 'fsync.warningthresholdms': config.fsyncWarningThresholdMs = integer(key, value); break;
      case 'metricsProvider.className': case 'metricsProvider.httpHost': case 'metricsProvider.httpPort':
      case 'metricsProvider.exportJvmInfo':
        metricsKeys.set(k, value.trim());
        break;
      case 'admin.enableServer': config.adminEnableServer = bool(value); break;
      case 'admin.serverAddress': config.adminServerAddress = value.trim(); break;
      case 'admin.serverPort': config.adminServerPort = integer(key, value); break;
      case 'admin.commandURL': config.adminCommandUrl = value.trim(); break;
      case 'admin.console.enable': config.adminConsole = bool(value); break;
      case 'admin.console.allowEdits': config.adminConsoleEdits = bool(value); break;
      case 'secureClientPort': config.secureClientPort = integer(key, value); break;
      case 'secureClientPortAddress': config.secureClientPortAddress = value.trim(); break;
      case 'client.portUnification': config.clientPortUnification = bool(value); break;
      case 'X509AuthenticationProvider.superUser': config.x509SuperUser = value.trim(); break;
      case 'sslQuorum': sslQuorum = bool(value); break;
      case 'sslQuorumReloadCertFiles': config.quorumTlsReload = bool(value); break;
      default: {
        const sasl = withSaslKey(k, value, config.sasl);
        if (sasl !== undefined) {
          config.sasl = sasl;
          break;
        }
        if (k.startsWith('ssl.') && (TLS_KEYS as readonly string[]).includes(k.slice('ssl.'.length))) {
          clientTlsKeys.set(k.slice('ssl.'.length), value);
          break;
        }
        if (k.startsWith('ssl.quorum.') && (TLS_KEYS as readonly string[]).includes(k.slice('ssl.quorum.'.length))) {
          quorumTlsKeys.set(k.slice('ssl.quorum.'.length), value);
          break;
        }
        // x509 is always on for TLS clients, as ZooKeeper's secure port registers it.
        if (k === 'authProvider.x509' && value.trim() === X509_PROVIDER) break;
        const reason = notActedUpon(k);
        if (reason === undefined) warnings.push(`${origin}: unknown key "${key}" ignored`);
        else if (ALREADY_SO[k] !== value.trim().toLowerCase()) {
          if (ENSEMBLE_KEYS.has(k)) ensembleKeyWarnings.add(warnings.length);
          warnings.push(`${origin}: "${key}" is recognised but not acted upon (${reason}): ignored`);
        }
      }
    }
  }
  config.metrics = metricsConfig(metricsKeys, origin, warnings);
  if (config.secureClientPort !== undefined || config.clientPortUnification === true || clientTlsKeys.size > 0) config.clientTls = tlsSettings('ssl.', clientTlsKeys, origin);
  if (sslQuorum) config.quorumTls = tlsSettings('ssl.quorum.', quorumTlsKeys, origin);
  // As ZooKeeper: a secure client port and no clientPort serves TLS clients only.
  if (config.secureClientPort !== undefined && config.clientPort === undefined && serverLines.length === 0) config.clientPortEnabled = false;
  if (config.metrics === undefined) delete config.metrics;
  const standaloneEnabled = settings.get('standaloneEnabled')?.toLowerCase() !== 'false';
  if (serverLines.length === 0) return { config, warnings };
  // As QuorumPeerConfig.isDistributed: one server line, with standalone mode allowed, is a
  // standalone server (the official image's default zoo.cfg has one).
  if (serverLines.length === 1 && standaloneEnabled) {
    parseServerLine(serverLines[0], origin);
    warnings.push(`${origin}: ${serverLines[0].where} names a single server: running standalone, as ZooKeeper does`);
    return { config, warnings };
  }
  const resolved = resolveEnsemble({
    origin,
    lines: serverLines,
    dataDir: config.dataDir,
    initLimit: settings.get('initLimit'),
    syncLimit: settings.get('syncLimit'),
    clientPort: config.clientPort,
    clientPortAddress: config.clientPortAddress,
    reconfigEnabled: config.reconfigEnabled,
    extendedTypesEnabled: config.extendedTypesEnabled,
  });
  config.ensemble = resolved.ensemble;
  // Standalone keeps Ensemble's default tick; an ensemble ticks as ZooKeeper's would from the same file.
  config.tickTimeMs ??= ZOOKEEPER_DEFAULT_TICK_MS;
  config.clientPort = resolved.clientPort;
  config.clientPortAddress = resolved.clientPortAddress;
  if (config.clientPortAddress === undefined) delete config.clientPortAddress;
  return {
    config,
    warnings: [...warnings.filter((_, i) => !ensembleKeyWarnings.has(i)), ...resolved.warnings],
  };
}

const X509_PROVIDER = 'org.apache.zookeeper.server.auth.X509AuthenticationProvider';
const PROMETHEUS_PROVIDER = 'org.apache.zookeeper.metrics.prometheus.PrometheusMetricsProvider';
/** ZooKeeper's providers that serve no HTTP endpoint (DefaultMetricsProvider is its default): no metrics exported. */
const NO_ENDPOINT_PROVIDERS = ['org.apache.zookeeper.metrics.impl.DefaultMetricsProvider', 'org.apache.zookeeper.metrics.impl.NullMetricsProvider'];

/**
 * The metricsProvider.* keys: Prometheus' provider turns the endpoint on, with ZooKeeper's defaults
 * except the address (loopback, where ZooKeeper listens on every interface).
 */
function metricsConfig(keys: Map<string, string>, origin: string, warnings: string[]): ServerConfig['metrics'] {
  const className = keys.get('metricsProvider.className') ?? NO_ENDPOINT_PROVIDERS[0];
  if (className !== PROMETHEUS_PROVIDER) {
    if (!NO_ENDPOINT_PROVIDERS.includes(className)) {
      throw new Error(`${origin}: metricsProvider.className=${className} is not supported: Ensemble exports metrics with ${PROMETHEUS_PROVIDER} (or none, with ${NO_ENDPOINT_PROVIDERS.join(' or ')})`);
    }
    for (const k of keys.keys()) {
      if (k !== 'metricsProvider.className') warnings.push(`${origin}: "${k}" has no effect without metricsProvider.className=${PROMETHEUS_PROVIDER}: ignored`);
    }
    return undefined;
  }
  const port = keys.get('metricsProvider.httpPort');
  const jvm = keys.get('metricsProvider.exportJvmInfo');
  return {
    host: keys.get('metricsProvider.httpHost') ?? '127.0.0.1',
    port: port === undefined ? 7000 : integer('metricsProvider.httpPort', port),
    processInfo: jvm === undefined || bool(jvm),
  };
}

/** Observers, hierarchical quorums and a dynamic config file: refused whatever else the file says. */
function refuseUnsupported(origin: string, key: string, value: string, where: string): void {
  const refuse = (what: string) => new Error(`${origin}: ${where}: ${what}`);
  if (/^(group|weight)\.\d+$/.test(key)) {
    throw refuse('hierarchical quorums (group.N, weight.N) are not supported yet: every member has one vote');
  }
  if (key === 'dynamicConfigFile') {
    throw refuse('a dynamic config file is not supported yet: put the server.N lines in this file');
  }
  if (key === 'peerType' && value.trim().toLowerCase() === 'observer') {
    throw refuse('observers are not supported yet: every member must be a participant');
  }
}

export function loadZooCfg(file: string): ParsedZooCfg {
  return parseZooCfg(readFileSync(file, 'utf8'), file);
}
