/** Server configuration: defaults, and Apache ZooKeeper's zoo.cfg format. */
import { readFileSync } from 'node:fs';

export interface ServerConfig {
  tickTimeMs: number;
  clientPort: number;
  /** Address to listen on; undefined = every interface, as ZooKeeper. */
  clientPortAddress?: string;
  dataDir: string;
  dataLogDir?: string;
  /** Connections per client IP; 0 = no limit. */
  maxClientCnxns: number;
  minSessionTimeoutMs: number;
  maxSessionTimeoutMs: number;
  /** Four-letter words allowed; '*' allows all. srvr is always allowed... unless the list is explicit. */
  fourLetterWhitelist: string[];
  /** jute.maxbuffer: largest packet body and znode data, in bytes. */
  juteMaxBufferBytes: number;
  superDigest?: string;
  extendedTypesEnabled: boolean;
  /** zookeeper.enforceQuota: writes past a hard quota limit fail with QUOTAEXCEEDED (default off). */
  enforceQuota: boolean;
  reconfigEnabled: boolean;
  containerCheckIntervalMs: number;
  /** Writes allowed in flight per connection before reading from it pauses. */
  maxOutstandingPerConnection: number;
  /** Log writes durable before replying (forceSync=no: tests only). */
  forceSync: boolean;
  /** Txns between snapshots (each interval drawn from (snapCount/2, snapCount]). */
  snapCount: number;
  /** Log segments grow by this much at a time (preAllocSize, in KiB in zoo.cfg). */
  preAllocSizeBytes: number;
  /** autopurge.snapRetainCount and autopurge.purgeInterval (hours; 0 = off). */
  snapRetainCount: number;
  purgeIntervalHours: number;
}

export const DEFAULT_TICK_MS = 2000;

export function defaultConfig(): ServerConfig {
  return {
    tickTimeMs: DEFAULT_TICK_MS,
    clientPort: 2181,
    dataDir: './data',
    maxClientCnxns: 60,
    minSessionTimeoutMs: -1,
    maxSessionTimeoutMs: -1,
    fourLetterWhitelist: ['srvr'],
    juteMaxBufferBytes: 0xfffff,
    extendedTypesEnabled: false,
    enforceQuota: false,
    reconfigEnabled: false,
    containerCheckIntervalMs: 60_000,
    maxOutstandingPerConnection: 1000,
    forceSync: true,
    snapCount: 100_000,
    preAllocSizeBytes: 64 * 1024 * 1024,
    snapRetainCount: 3,
    purgeIntervalHours: 0,
  };
}

/** Fill in what depends on other settings (session bounds default to 2 and 20 ticks). */
export function resolveConfig(partial: Partial<ServerConfig>): ServerConfig {
  const c: ServerConfig = { ...defaultConfig(), ...stripUndefined(partial) };
  if (c.minSessionTimeoutMs <= 0) c.minSessionTimeoutMs = 2 * c.tickTimeMs;
  if (c.maxSessionTimeoutMs <= 0) c.maxSessionTimeoutMs = 20 * c.tickTimeMs;
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

/** Keys ZooKeeper accepts that Ensemble does not act on yet: accepted silently. */
const KNOWN_IGNORED = new Set([
  'initLimit', 'syncLimit', 'admin.enableServer', 'admin.serverPort', 'globalOutstandingLimit',
  'standaloneEnabled', 'metricsProvider.className', 'audit.enable', 'electionAlg',
  'quorumListenOnAllIPs', 'secureClientPort', 'serverCnxnFactory', 'peerType', 'clientPortListenBacklog', 'log.dir', 'root.logger',
]);

/** Parse zoo.cfg text (java.util.Properties style: key=value, # and ! comments). */
export function parseZooCfg(text: string): ParsedZooCfg {
  const config: Partial<ServerConfig> = {};
  const warnings: string[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith('!')) continue;
    const m = /^([^=:\s]+)\s*[=:\s]\s*(.*)$/.exec(line);
    if (!m) {
      warnings.push(`zoo.cfg: ignoring line "${line}"`);
      continue;
    }
    const [, key, value] = m;
    const k = key.startsWith('zookeeper.') ? key.slice('zookeeper.'.length) : key;
    switch (k) {
      case 'tickTime': config.tickTimeMs = integer(key, value); break;
      case 'clientPort': config.clientPort = integer(key, value); break;
      case 'clientPortAddress': config.clientPortAddress = value.trim(); break;
      case 'dataDir': config.dataDir = value.trim(); break;
      case 'dataLogDir': config.dataLogDir = value.trim(); break;
      case 'maxClientCnxns': config.maxClientCnxns = integer(key, value); break;
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
      default:
        if (!KNOWN_IGNORED.has(k) && !/^(server|authProvider)\.\d+$/.test(k)) warnings.push(`zoo.cfg: unknown key "${key}" ignored`);
    }
  }
  return { config, warnings };
}

export function loadZooCfg(file: string): ParsedZooCfg {
  return parseZooCfg(readFileSync(file, 'utf8'));
}
