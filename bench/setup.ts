/** The znodes the load workloads use, created once per server before the first measurement. */
import { BENCH_ROOT, CHILDREN_PARENT, CREATE_DELETE_PARENT, DATA_PATH, WATCH_PARENT } from './load-protocol.ts';
import type { ZooKeeperClient } from '../src/index.ts';
import { createZnodes } from './znode-loader.ts';

export async function createWorkloadZnodes(zk: ZooKeeperClient, payload: Buffer, childCount: number): Promise<void> {
  for (const path of [BENCH_ROOT, CREATE_DELETE_PARENT, WATCH_PARENT, CHILDREN_PARENT]) await zk.create(path);
  await zk.create(DATA_PATH, payload);
  await createZnodes(zk, childCount, (i) => `${CHILDREN_PARENT}/child-${String(i).padStart(6, '0')}`, Buffer.alloc(0));
}
