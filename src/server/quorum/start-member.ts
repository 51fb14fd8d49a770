/**
 * Start a member of a replicated ensemble from its configuration (zoo.cfg's server lines and
 * myid): its log and hard state in the data dir, the connections to the other members on its quorum
 * port, and the client port.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import type { Logger } from 'pino';
import { startAdminHttp } from '../admin/admin-http.ts';
import { batchObserver, ServerMetrics } from '../admin/metrics.ts';
import { resolveConfig, type ServerConfig } from '../config.ts';
import { formatServerLine, memberDir } from '../ensemble-config.ts';
import { createLogger } from '../logger.ts';
import { realEnvironment } from '../env/real.ts';
import type { StartedServer } from '../index.ts';
import { FileRaftStorage } from './file-raft-storage.ts';
import { Member } from './member.ts';
import { FileMemberData } from './member-data.ts';
import { FileMemberSnapshots } from './member-snapshots.ts';
import { TcpTransport } from './tcp-transport.ts';
import { QuorumTls } from '../net/tls-quorum.ts';
import { checkSecureClientPort } from '../net/tls-listener.ts';

export interface MemberStartOptions {
  log?: Logger;
  /** The operator says the ensemble is new: see MemberOptions.newEnsemble. */
  newEnsemble?: boolean;
}

export async function startMember(config: Partial<ServerConfig>, deps: MemberStartOptions = {}): Promise<StartedServer & { member: Member }> {
  const resolved = resolveConfig(config);
  const ensemble = resolved.ensemble;
  if (ensemble === undefined) throw new Error('not an ensemble: the configuration has no server lines');
  const log = deps.log ?? createLogger();
  // The TLS stores are read first: a mistake in them stops the member before it touches its data.
  checkSecureClientPort(resolved.clientTls, resolved.secureClientPort !== undefined || resolved.clientPortUnification === true);
  const tls = resolved.quorumTls && new QuorumTls(resolved.quorumTls, log, resolved.quorumTlsReload === true);
  const env = realEnvironment;
  // Its own directory, apart from a standalone server's files.
  const dir = memberDir(resolved.dataDir, resolved.dataLogDir);
  mkdirSync(dir, { recursive: true });
  let member: Member | undefined;
  const metrics = resolved.metrics && new ServerMetrics(resolved.metrics);
  const storage = new FileRaftStorage({
    dir,
    forceSync: resolved.forceSync,
    rollBytes: resolved.preAllocSizeBytes,
    preallocBytes: resolved.preAllocSizeBytes,
    maxRecordBytes: resolved.juteMaxBufferBytes + 1024 * 1024,
    onBatchWritten: batchObserver(log, resolved.fsyncWarningThresholdMs, metrics),
    log,
    onFatal: (err) => {
      log.error({ err: err.message }, 'the log cannot be written: stopping');
      void (member?.close() ?? Promise.resolve()).finally(() => process.exit(1));
    },
  }, env);
  const transport = new TcpTransport({
    myId: ensemble.myid,
    // Members of another ensemble (another member list) are refused.
    ensembleId: createHash('sha256').update(ensemble.members.map(formatServerLine).sort().join('\n')).digest('hex').slice(0, 16),
    members: ensemble.members.map((m) => ({ id: m.id, host: m.host, port: m.quorumPort })),
    env,
    log,
    tls,
  });
  await transport.listen();
  const snapshots = new FileMemberSnapshots(dir, log);
  member = new Member({ id: ensemble.myid, voters: ensemble.members.map((m) => m.id), config: resolved, transport, storage, snapshots, data: new FileMemberData(dir), env, log, onSnapshot: (ms) => metrics?.snapshotTime.observe(ms), serverLines: ensemble.members.map(formatServerLine), newEnsemble: deps.newEnsemble });
  try {
    const { host, port } = await member.listen();
    await metrics?.start(member.server, log);
    const admin = await startAdminHttp({ config: resolved, server: member.server, member, log });
    return { host, port, server: member.server, member, ...(admin && { admin }), close: async () => {
      await admin?.close();
      await member.close();
      await metrics?.close();
      tls?.close();
    } };
  } catch (err) {
    await member.close();
    await metrics?.close();
    tls?.close();
    throw err;
  }
}
