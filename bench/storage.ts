/**
 * Storage benchmark, Apache ZooKeeper and Ensemble side by side, both durable (forceSync on) and
 * each in a process of its own, ZooKeeper with its default JVM settings:
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
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect, type ZooKeeperClient } from '../src/index.ts';
import { freePort } from '../test/support/ports.ts';
import { zooKeeperClasspath } from '../test/support/zookeeper.ts';
import { REPO_ROOT } from './servers.ts';
import { fmt, markdownTable } from './stats.ts';

type Kind = 'zookeeper' | 'ensemble';

const SNAP_COUNT = 2000;
const BATCH = 500;
const DATA = Buffer.alloc(100, 0x61);

interface Server {
  kind: Kind;
  port: number;
  dir: string;
  start(): ChildProcess;
}

function makeServer(kind: Kind, port: number): Server {
  const dir = mkdtempSync(join(tmpdir(), `bench-storage-${kind}-`));
  if (kind === 'zookeeper') {
    const cfg = join(dir, 'zoo.cfg');
    writeFileSync(cfg, [
      'tickTime=2000', `dataDir=${join(dir, 'data')}`, `clientPort=${port}`, 'clientPortAddress=127.0.0.1',
      'maxClientCnxns=0', `snapCount=${SNAP_COUNT}`, 'admin.enableServer=false', '4lw.commands.whitelist=*',
    ].join('\n') + '\n');
    return {
      kind, port, dir,
      start: () => spawn('java', ['-cp', zooKeeperClasspath(), `-Dzookeeper.log.dir=${dir}`, 'org.apache.zookeeper.server.ZooKeeperServerMain', cfg], { stdio: 'ignore' }),
    };
  }
  const bin = join(REPO_ROOT, 'bin/ensemble.js');
  if (!existsSync(join(REPO_ROOT, 'dist/cli/main.js'))) throw new Error('build first: npx tsc -p tsconfig.build.json');
  return {
    kind, port, dir,
    start: () => spawn(process.execPath, [bin, 'server', '--port', String(port), '--data-dir', join(dir, 'data'),
      '--property', 'clientPortAddress=127.0.0.1', '--property', `snapCount=${SNAP_COUNT}`], { stdio: 'ignore', env: { ...process.env, ENSEMBLE_LOG_LEVEL: 'warn' } }),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Connects as soon as the server answers; resolves with the client and when its first reply came. */
async function firstReply(port: number, timeoutMs: number): Promise<{ zk: ZooKeeperClient; at: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    try {
      const zk = await connect(`127.0.0.1:${port}`, { connectTimeoutMs: 2_000, sessionTimeoutMs: 30_000, retry: { baseDelayMs: 5, maxDelayMs: 20 }, logger: quiet });
      await zk.exists('/');
      return { zk, at: performance.now() };
    } catch {
      if (performance.now() > deadline) throw new Error(`no answer on port ${port} within ${timeoutMs} ms`);
      await sleep(10);
    }
  }
}

const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

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

function snapshotsIn(dir: string): string[] {
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.startsWith('snapshot.') && !e.name.endsWith('.tmp') ? [join(d, e.name)] : []));
  return existsSync(dir) ? walk(dir) : [];
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(20_000)]);
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
}

interface Result {
  server: Kind;
  znodes: number;
  loadSeconds: number;
  rssBytesPerZnode: number;
  snapshotProbeP50Ms: number;
  snapshotProbeP99Ms: number;
  snapshotProbeMaxMs: number;
  restartToFirstReplyMs: number;
}

async function run(kind: Kind, znodes: number): Promise<Result> {
  const server = makeServer(kind, await freePort());
  let child = server.start();
  try {
    let { zk } = await firstReply(server.port, 60_000);
    await zk.create('/bench');
    const parents = Math.ceil(znodes / 1000);
    for (let p = 0; p < parents; p++) await zk.create(`/bench/p${p}`);

    // 1. Load.
    const loadStart = performance.now();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < znodes) {
        const tx = zk.transaction();
        for (let i = 0; i < BATCH && next < znodes; i++, next++) tx.create(`/bench/p${Math.floor(next / 1000)}/n${next % 1000}`, DATA);
        await tx.commit();
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const loadSeconds = (performance.now() - loadStart) / 1000;

    // 2. Memory, after the JVM or V8 has had a moment to collect.
    await sleep(3_000);
    const rssBytesPerZnode = rssBytes(child.pid!) / znodes;

    // 3. A snapshot of the whole tree under a light write load, with a probe.
    const before = snapshotsIn(server.dir).length;
    const probeClient = await connect(`127.0.0.1:${server.port}`, { logger: quiet });
    const probing = probe(probeClient);
    const deadline = performance.now() + 120_000;
    let writes = 0;
    while (snapshotsIn(server.dir).length === before && performance.now() < deadline) {
      await zk.setData('/bench', String(writes++));
      await sleep(2);
    }
    // The new file exists once written (Ensemble renames a finished .tmp; ZooKeeper writes in
    // place, so give it time to finish): probe a little longer.
    await sleep(3_000);
    const lat = await probing.stop();
    await probeClient.close();
    await zk.close();

    // 4. Restart.
    await stop(child);
    const started = performance.now();
    child = server.start();
    const first = await firstReply(server.port, 300_000);
    const restartToFirstReplyMs = first.at - started;
    const count = await first.zk.getAllChildrenNumber('/bench');
    if (count !== znodes + parents) throw new Error(`${kind}: ${count} znodes under /bench after the restart, expected ${znodes + parents}`);
    await first.zk.close();
    return {
      server: kind, znodes, loadSeconds, rssBytesPerZnode,
      snapshotProbeP50Ms: percentile(lat, 50), snapshotProbeP99Ms: percentile(lat, 99), snapshotProbeMaxMs: lat.at(-1) ?? NaN,
      restartToFirstReplyMs,
    };
  } finally {
    await stop(child);
    rmSync(server.dir, { recursive: true, force: true });
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
  for (const kind of values.servers!.split(',') as Kind[]) {
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
