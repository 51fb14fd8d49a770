/** Start a standalone Ensemble server. */
import { startAdminHttp, type AdminHttp } from './admin/admin-http.ts';
import { batchObserver, ServerMetrics } from './admin/metrics.ts';
import { resolveConfig, type ServerConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { checkSecureClientPort } from './net/tls-listener.ts';
import { EnsembleServer, type ServerDeps } from './server.ts';
import { Storage, type StorageOptions } from './storage/storage.ts';

export interface StartedServer {
  host: string;
  port: number;
  server: EnsembleServer;
  /** The admin HTTP server, when admin.enableServer is true. */
  admin?: AdminHttp;
  close(): Promise<void>;
}

/**
 * Recovers the state from the data dir (unless a commit stage is given: then it starts empty and
 * that stage decides what is durable), then listens.
 */
export async function startServer(config: Partial<ServerConfig> = {}, deps: ServerDeps = {}): Promise<StartedServer> {
  const resolved = resolveConfig(config);
  checkSecureClientPort(resolved.clientTls, resolved.secureClientPort !== undefined || resolved.clientPortUnification === true);
  const log = deps.log ?? createLogger({ defaultLevel: 'warn' });
  const metrics = resolved.metrics && new ServerMetrics(resolved.metrics);
  let storage: Storage | undefined;
  if (!deps.commit) {
    const onBatchWritten = batchObserver(log, resolved.fsyncWarningThresholdMs, metrics);
    storage = new Storage({
      ...storageOptions(resolved), onBatchWritten, onRecovered: (ms) => metrics?.dbInitTime.observe(ms), onSnapshot: (ms) => metrics?.snapshotTime.observe(ms),
    }, log, deps.env);
  }
  const server = new EnsembleServer(resolved, { ...deps, log, ...(storage && { commit: storage, tree: storage.tree }) });
  storage?.onFailure(() => {
    void server.close().finally(() => process.exit(1));
  });
  try {
    const { host, port } = await server.listen();
    await metrics?.start(server, log);
    const admin = await startAdminHttp({ config: resolved, server, log });
    return { host, port, server, ...(admin && { admin }), close: async () => {
      await admin?.close();
      await server.close();
      await metrics?.close();
    } };
  } catch (err) {
    await server.close();
    await metrics?.close();
    throw err;
  }
}

export function storageOptions(c: ServerConfig): StorageOptions {
  return {
    dataDir: c.dataDir,
    logDir: c.dataLogDir ?? c.dataDir,
    forceSync: c.forceSync,
    snapCount: c.snapCount,
    preallocBytes: c.preAllocSizeBytes,
    rollBytes: c.preAllocSizeBytes,
    // A txn holds at most one request: jute.maxbuffer plus room for its header and ACLs.
    maxRecordBytes: c.juteMaxBufferBytes + 1024 * 1024,
    extendedTypes: c.extendedTypesEnabled,
    snapRetainCount: c.snapRetainCount,
    purgeIntervalHours: c.purgeIntervalHours,
  };
}

export { EnsembleServer } from './server.ts';
export { resolveConfig, parseZooCfg, loadZooCfg, type ServerConfig } from './config.ts';
