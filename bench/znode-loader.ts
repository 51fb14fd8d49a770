/**
 * Filling a server with many znodes through the client (multis of creates, several in flight), and
 * waiting for the server to write a snapshot that holds them, so that a restart reads the tree from
 * a snapshot rather than from the log.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ZooKeeperClient } from '../src/index.ts';

const delay = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Creates `count` znodes named pathOf(0..count-1): multis of `batch` creates, `inflight` multis outstanding. */
export async function createZnodes(
  zk: ZooKeeperClient,
  count: number,
  pathOf: (i: number) => string,
  data: Buffer,
  { batch = 500, inflight = 8 }: { batch?: number; inflight?: number } = {},
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const tx = zk.transaction();
      for (let i = 0; i < batch && next < count; i++, next++) tx.create(pathOf(next), data);
      await tx.commit();
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
}

export const ZNODES_PER_PARENT = 1000;

/**
 * `count` znodes of `data` under root, ZNODES_PER_PARENT to a parent (root/p<k>/n<j>); returns how
 * many znodes it created under root, the parents included.
 */
export async function loadTree(zk: ZooKeeperClient, root: string, count: number, data: Buffer): Promise<number> {
  await zk.create(root);
  const parents = Math.ceil(count / ZNODES_PER_PARENT);
  await createZnodes(zk, parents, (p) => `${root}/p${p}`, Buffer.alloc(0));
  await createZnodes(zk, count, (i) => `${root}/p${Math.floor(i / ZNODES_PER_PARENT)}/n${i % ZNODES_PER_PARENT}`, data);
  return count + parents;
}

/** The snapshot files under dir (any depth: ZooKeeper keeps them in version-2/). */
export function snapshotsIn(dir: string): string[] {
  const walk = (d: string): string[] =>
    readdirSync(d, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith('snapshot.') && !e.name.endsWith('.tmp') ? [join(d, e.name)] : [],
    );
  return existsSync(dir) ? walk(dir) : [];
}

/** The zxid a snapshot file's name carries (snapshot.<hex>), NaN if none. */
export function snapshotZxid(file: string): number {
  const m = /snapshot\.([0-9a-f]+)$/i.exec(file);
  return m ? parseInt(m[1], 16) : NaN;
}

/**
 * Makes light writes (setData of `touchPath`) until the server has written a snapshot taken after
 * the first of them (so it holds everything written before), then waits until the file's size has
 * stopped changing (ZooKeeper writes it in place). The server must snapshot every few thousand
 * txns (a small snapCount) for this to end soon.
 */
export async function awaitSnapshotOfEverything(zk: ZooKeeperClient, dataDir: string, touchPath: string, timeoutMs: number): Promise<string> {
  const deadline = performance.now() + timeoutMs;
  const firstTouchZxid = (await zk.setData(touchPath, 'touch')).mzxid;
  let writes = 0;
  let fresh: string | undefined;
  while ((fresh = snapshotsIn(dataDir).find((f) => snapshotZxid(f) >= firstTouchZxid)) === undefined) {
    if (performance.now() > deadline) throw new Error(`no snapshot after zxid 0x${firstTouchZxid.toString(16)} in ${dataDir} within ${timeoutMs} ms`);
    await zk.setData(touchPath, String(writes++));
    await delay(2);
  }
  let size = -1;
  while (statSync(fresh).size !== size) {
    size = statSync(fresh).size;
    await delay(1_000);
  }
  return fresh;
}
