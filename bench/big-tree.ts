/**
 * The two measurements with a big tree (N znodes of 100 bytes, 1,000,000 in a full run):
 *
 * - memory: the server's RSS once the tree is loaded through the client, minus its RSS when it was
 *   fresh, divided by N (/proc/<pid>/status VmRSS, after a few seconds' rest each time);
 * - startup: the server restarted on that data dir (the tree in a snapshot): from spawning the
 *   process to the first successful getData reply.
 *
 * Each server gets its own data dir, filled once per run; both run with snapCount=2000 so that a
 * snapshot of the whole tree is written right after the load (the restarts then read the snapshot,
 * with a few txns of log after it). ZooKeeper also writes a snapshot of its own at every start,
 * before serving: that is part of its startup time.
 */
import type { ZooKeeperClient } from '../src/index.ts';
import { loadOurClient } from './client-sessions.ts';
import { firstReplyAt } from './first-reply.ts';
import { processRssBytes } from './proc.ts';
import type { BenchServer } from './servers.ts';
import { awaitSnapshotOfEverything, loadTree } from './znode-loader.ts';

export const BIG_TREE_ROOT = '/big';
/** The servers' configuration for these workloads: frequent snapshots (see above). */
export const BIG_TREE_SERVER_PROPERTIES: Readonly<Record<string, string>> = { snapCount: '2000' };
const REST_MS = 3_000;
const STARTUP_TIMEOUT_MS = 10 * 60_000;
const SNAPSHOT_TIMEOUT_MS = 5 * 60_000;

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface BigTree {
  server: BenchServer;
  /** Znodes under BIG_TREE_ROOT, the parents included. */
  znodesUnderRoot: number;
  loadSeconds: number;
  rssBeforeBytes: number;
  rssAfterBytes: number;
  rssBytesPerZnode: number;
}

/** Starts the server (created on a fresh data dir) and fills it with `znodes` znodes of `payload`. */
export async function buildBigTree(server: BenchServer, znodes: number, payload: Buffer, clientModule: string): Promise<BigTree> {
  await server.start();
  const { connect } = await loadOurClient(clientModule);
  const zk: ZooKeeperClient = await connect(server.connectString, { sessionTimeoutMs: 30_000 });
  try {
    await zk.exists('/');
    await delay(REST_MS);
    const rssBeforeBytes = processRssBytes(server.pid!);
    const t0 = performance.now();
    const znodesUnderRoot = await loadTree(zk, BIG_TREE_ROOT, znodes, payload);
    const loadSeconds = (performance.now() - t0) / 1000;
    await awaitSnapshotOfEverything(zk, server.dir, BIG_TREE_ROOT, SNAPSHOT_TIMEOUT_MS);
    await delay(REST_MS);
    const rssAfterBytes = processRssBytes(server.pid!);
    return { server, znodesUnderRoot, loadSeconds, rssBeforeBytes, rssAfterBytes, rssBytesPerZnode: (rssAfterBytes - rssBeforeBytes) / znodes };
  } finally {
    await zk.close();
  }
}

/**
 * Stops the server, starts it again on the same data and returns the milliseconds from the spawn
 * to the first answered getData; then checks that the whole tree came back.
 */
export async function restartToFirstReplyMs(tree: BigTree, clientModule: string): Promise<number> {
  const { server } = tree;
  await server.stop();
  const spawnedAt = performance.now();
  server.spawn();
  const repliedAt = await firstReplyAt(server.host, server.port, BIG_TREE_ROOT, STARTUP_TIMEOUT_MS).catch((err: Error) => {
    throw new Error(`${server.kind}: ${err.message}\n${server.recentOutput}`);
  });
  const { connect } = await loadOurClient(clientModule);
  const zk = await connect(server.connectString, { sessionTimeoutMs: 30_000 });
  try {
    const count = await zk.getAllChildrenNumber(BIG_TREE_ROOT);
    if (count !== tree.znodesUnderRoot) throw new Error(`${server.kind}: ${count} znodes under ${BIG_TREE_ROOT} after the restart, expected ${tree.znodesUnderRoot}`);
  } finally {
    await zk.close();
  }
  return repliedAt - spawnedAt;
}
