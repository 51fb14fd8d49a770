/**
 * Quota statistics across restarts. The server keeps each stats node equal to its subtree's count
 * and bytes while clients write below it; a restart must bring them back the same, whether they come
 * from the log replayed over an empty tree or from a snapshot (which recounts every quota, as
 * ZooKeeper's setupQuota does) plus the txns after it. The snapshots here are fuzzy: taken every few
 * txns, in slices of one node, while pipelined writes land between the slices.
 *
 * Quotas are disjoint and no client writes a stats node, so "equal to the subtree" holds throughout
 * (nested quotas and hand-written stats drift by design; the differential test covers those).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startServer, type StartedServer } from '../../src/server/index.ts';
import { listFiles } from '../../src/server/storage/files.ts';
import { snapshotSlice } from '../../src/server/storage/snapshot.ts';
import type { DataTree } from '../../src/server/tree/data-tree.ts';
import { RawClient } from '../support/raw-client.ts';
import { prng } from '../support/prng.ts';

const SEED = Number(process.env.ENSEMBLE_QUOTA_SEED ?? Date.now() % 1_000_000);
const QUOTAS = ['/q1', '/q2/sub', '/q3/deep/er'];
const AREAS = ['/q1', '/q2', '/q2/sub', '/q3', '/q3/deep', '/q3/deep/er', '/other'];


/** The subtree at path as ZooKeeper counts it: its nodes (path included) and their data bytes. */
function truth(tree: DataTree, path: string): string {
  let count = 0;
  let bytes = 0;
  const stack = [path];
  while (stack.length > 0) {
    const p = stack.pop()!;
    const n = tree.get(p);
    if (!n) continue;
    count++;
    bytes += n.data?.length ?? 0;
    for (const c of n.children) stack.push(`${p}/${c}`);
  }
  return `count=${count},bytes=${bytes}`;
}

function checkStats(server: StartedServer, when: string): void {
  const tree = server.server.tree;
  for (const q of QUOTAS) {
    const stats = tree.get(`/zookeeper/quota${q}/zookeeper_stats`);
    assert.ok(stats, `${when}: stats node of ${q}`);
    assert.equal(stats.data?.toString(), truth(tree, q), `${when}: stats of ${q} (seed ${SEED})`);
    assert.equal(stats.version, 0, `${when}: the server's updates leave the version alone`);
  }
}

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test(`quota stats survive restarts over fuzzy snapshots (seed ${SEED})`, { timeout: 120_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ensemble-quota-'));
  dirs.push(dataDir);
  const rand = prng(SEED);
  const saved = { ...snapshotSlice };
  snapshotSlice.nodes = 1;
  snapshotSlice.ms = 0;
  const start = (port: number): Promise<StartedServer> =>
    startServer({ clientPort: port, clientPortAddress: '127.0.0.1', dataDir, snapCount: 12, forceSync: false });
  let server = await start(0);
  const port = server.port;
  try {
    let c = await RawClient.connect('127.0.0.1', port);
    for (const p of AREAS) await c.create(p, 'x');
    // As setquota: the quota node and its parents, limits, then the stats node the server fills.
    for (const q of QUOTAS) {
      let node = '/zookeeper/quota';
      for (const part of q.split('/').slice(1)) {
        node += `/${part}`;
        await c.tryCreate(node, null);
      }
      await c.create(`${node}/zookeeper_limits`, 'count=-1,bytes=-1=;byteHardLimit=-1;countHardLimit=100');
      await c.create(`${node}/zookeeper_stats`, 'count=0,bytes=0');
    }
    checkStats(server, 'after setquota');

    const live = new Set<string>();
    let seq = 0;
    const burst = async (n: number): Promise<void> => {
      const pending: Promise<unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const r = rand();
        const paths = [...live];
        const data = 'd'.repeat(Math.floor(rand() * 40));
        if (r < 0.45 || paths.length === 0) {
          const parent = rand() < 0.3 && paths.length > 0 ? paths[Math.floor(rand() * paths.length)] : AREAS[Math.floor(rand() * AREAS.length)];
          const path = `${parent}/n${seq++}`;
          live.add(path);
          pending.push(c.tryCreate(path, rand() < 0.1 ? null : data));
        } else if (r < 0.75) {
          pending.push(c.trySetData(paths[Math.floor(rand() * paths.length)], rand() < 0.1 ? null : data));
        } else {
          // Deepest first, so that most deletes find their node empty; a failed one changes nothing.
          const path = paths.sort((a, b) => b.length - a.length)[Math.floor(rand() * Math.min(5, paths.length))];
          live.delete(path);
          pending.push(c.tryDelete(path).then((res) => {
            if (res.err !== 0) live.add(path);
          }));
        }
      }
      await Promise.all(pending);
      await new Promise((r) => setTimeout(r, 2)); // room for snapshot slices between bursts
    };

    for (let round = 0; round < 4; round++) {
      for (let b = 0; b < 8; b++) await burst(25);
      // An ephemeral below a quota goes away with its session's closeSession txn.
      const e = await RawClient.connect('127.0.0.1', port);
      await e.create(`${QUOTAS[round % QUOTAS.length]}/eph${round}`, 'ephemeral', { flags: 1 });
      await e.close();
      checkStats(server, `round ${round}, before the restart`);
      await c.close();
      await server.close();
      server = await start(port);
      checkStats(server, `round ${round}, after the restart`);
      c = await RawClient.connect('127.0.0.1', port);
    }
    assert.ok(listFiles(dataDir, 'snapshot').length >= 2, 'restarts went through snapshots');
    await c.close();
  } finally {
    Object.assign(snapshotSlice, saved);
    await server.close();
  }
});
