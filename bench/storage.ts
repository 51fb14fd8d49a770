/**
 * Storage benchmark, Apache ZooKeeper and Ensemble side by side, both durable (forceSync on) and
 * each in a process of its own as bench/servers.ts starts them (ZooKeeper with its package's default
 * JVM settings, Ensemble compiled: `npm run build` first):
 *
 *   1. load N znodes of 100 bytes (default 1,000,000) through multis of 500 creates;
 *   2. server RSS per znode once loaded;
 *   3. request latency (a probe session's getData every 2 ms) while light writes make the server
 *      take a snapshot of the whole tree;
 *   4. restart: from the process start to the first answered request, and a check that every
 *      znode came back.
 *
 *   node --import tsx bench/storage.ts [--znodes N] [--servers zookeeper,ensemble] [--out FILE]
 *
 * Both servers run with snapCount=2000 so that snapshots of the loaded tree happen in steps 1 and 3.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { connect, type ZooKeeperClient } from '../src/index.ts';
import { firstReplyAt } from './first-reply.ts';
import { processRssBytes } from './proc.ts';
import { BenchServer, type ServerKind } from './servers.ts';
import { fmt, markdownTable, percentile } from './stats.ts';
import { awaitSnapshotOfEverything, loadTree } from './znode-loader.ts';

const SNAP_COUNT = 2000;
const DATA = Buffer.alloc(100, 0x61);
const ROOT = '/bench';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/** getData of / every 2 ms until stopped; the latencies in ms. */
function probe(zk: ZooKeeperClient): { stop: () => Promise<number[]> } {
  const latencies: number[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const t = performance.now();
      await zk.getData('/');
      latencies.push(performance.now() - t);
      await sleep(2);
    }
  })();
  return { stop: async () => { running = false; await loop; return latencies.sort((a, b) => a - b); } };
}

interface Result {
  server: ServerKind;
  znodes: number;
  loadSeconds: number;
  rssBytesPerZnode: number;
  snapshotProbeP50Ms: number;
  snapshotProbeP99Ms: number;
  snapshotProbeMaxMs: number;
  restartToFirstReplyMs: number;
}

async function run(kind: ServerKind, znodes: number): Promise<Result> {
  const server = await BenchServer.create(kind, { fsync: true, ensembleFrom: 'dist', properties: { snapCount: String(SNAP_COUNT) } });
  try {
    await server.start();
    const zk = await connect(server.connectString, { sessionTimeoutMs: 30_000, logger: quiet });

    // 1. Load.
    const loadStart = performance.now();
    const created = await loadTree(zk, ROOT, znodes, DATA);
    const loadSeconds = (performance.now() - loadStart) / 1000;

    // 2. Memory, after the JVM or V8 has had a moment to collect.
    await sleep(3_000);
    const rssBytesPerZnode = processRssBytes(server.pid!) / znodes;

    // 3. A snapshot of the whole tree under a light write load, with a probe.
    const probeClient = await connect(server.connectString, { logger: quiet });
    const probing = probe(probeClient);
    await awaitSnapshotOfEverything(zk, server.dir, ROOT, 120_000);
    // The file is complete once its size holds still; probe a little longer.
    await sleep(2_000);
    const lat = await probing.stop();
    await probeClient.close();
    await zk.close();

    // 4. Restart.
    await server.stop();
    const started = performance.now();
    server.spawn();
    const restartToFirstReplyMs = (await firstReplyAt(server.host, server.port, ROOT, 300_000)) - started;
    const check = await connect(server.connectString, { logger: quiet });
    const count = await check.getAllChildrenNumber(ROOT);
    await check.close();
    if (count !== created) throw new Error(`${kind}: ${count} znodes under ${ROOT} after the restart, expected ${created}`);
    return {
      server: kind, znodes, loadSeconds, rssBytesPerZnode,
      snapshotProbeP50Ms: percentile(lat, 0.5), snapshotProbeP99Ms: percentile(lat, 0.99), snapshotProbeMaxMs: lat.at(-1) ?? NaN,
      restartToFirstReplyMs,
    };
  } finally {
    await server.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      znodes: { type: 'string', default: '1000000' },
      servers: { type: 'string', default: 'zookeeper,ensemble' },
      out: { type: 'string' },
    },
  });
  const znodes = Number(values.znodes);
  const results: Result[] = [];
  for (const kind of values.servers!.split(',') as ServerKind[]) {
    process.stderr.write(`${kind}: loading ${znodes} znodes…\n`);
    results.push(await run(kind, znodes));
  }
  const zk = results.find((r) => r.server === 'zookeeper');
  const en = results.find((r) => r.server === 'ensemble');
  const ratio = (f: (r: Result) => number): string => (zk && en ? fmt(f(en) / f(zk), 2) : '');
  const rows: [string, (r: Result) => number, number][] = [
    ['load (s)', (r) => r.loadSeconds, 1],
    ['RSS per znode (bytes)', (r) => r.rssBytesPerZnode, 0],
    ['probe p50 during snapshot (ms)', (r) => r.snapshotProbeP50Ms, 2],
    ['probe p99 during snapshot (ms)', (r) => r.snapshotProbeP99Ms, 2],
    ['probe max during snapshot (ms)', (r) => r.snapshotProbeMaxMs, 1],
    ['restart to first reply (ms)', (r) => r.restartToFirstReplyMs, 0],
  ];
  console.log(`\n${znodes} znodes of ${DATA.length} bytes, forceSync on, snapCount ${SNAP_COUNT}\n`);
  console.log(markdownTable(
    ['measure', ...results.map((r) => r.server), ...(zk && en ? ['ensemble / zookeeper'] : [])],
    rows.map(([name, f, digits]) => [name, ...results.map((r) => fmt(f(r), digits)), ...(zk && en ? [ratio(f)] : [])]),
    [false, ...results.map(() => true), true],
  ));
  if (values.out) writeFileSync(values.out, JSON.stringify(results, null, 2) + '\n');
}

await main();
