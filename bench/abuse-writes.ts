/**
 * The 1 MB-writes abuse with the server in this process, to see where a small write's wait comes
 * from: `node --import tsx bench/abuse-writes.ts [seconds]`. The abuser (bench/abuse-attacker.ts
 * big-writes) runs in its own process; a probe session here alternates getData and setData of a
 * small znode. Reported: the probe's getData latency (the event loop alone), its setData latency
 * (the event loop and the commit stage), and the event loop's delay.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import pino from 'pino';
import { startServer } from '../src/server/index.ts';
import { BIG_WRITE_PATH } from './abuse-attacker.ts';
import { PROBE_PATH } from './abuse-probe.ts';
import { createBody, getDataBody, Op, setDataBody, WireSession } from './abuse-wire.ts';
import { REPO_ROOT } from './servers.ts';
import { percentile } from './stats.ts';

const seconds = Number(process.argv[2] ?? 8);
const dataDir = mkdtempSync(join(tmpdir(), 'abuse-writes-'));
const server = await startServer({ clientPort: 0, clientPortAddress: '127.0.0.1', dataDir, maxClientCnxns: 0 }, { log: pino({ level: 'warn' }) });
const probe = await WireSession.open(server.host, server.port, 30_000);
for (const path of [PROBE_PATH, BIG_WRITE_PATH]) await probe.request(Op.create, createBody(path, Buffer.from('x')));
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
const abuser = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'bench/abuse-attacker.ts'), 'big-writes', server.host, String(server.port), String(seconds * 1000), '1'], { stdio: ['ignore', 'pipe', 'inherit'] });
let report = '';
abuser.stdout.on('data', (d: Buffer) => (report += d.toString()));
let running = true;
abuser.once('exit', () => (running = false));
const gets: number[] = [];
const sets: number[] = [];
while (running) {
  let t = performance.now();
  await probe.request(Op.getData, getDataBody(PROBE_PATH));
  gets.push(performance.now() - t);
  t = performance.now();
  await probe.request(Op.setData, setDataBody(PROBE_PATH, Buffer.from('v')));
  sets.push(performance.now() - t);
}
loop.disable();
const line = (name: string, ms: number[]): string => {
  ms.sort((a, b) => a - b);
  return `${name} p50 ${percentile(ms, 0.5).toFixed(1)} p99 ${percentile(ms, 0.99).toFixed(1)} max ${ms[ms.length - 1].toFixed(1)} ms`;
};
process.stdout.write(`abuser: ${report.trim()}\n${line('getData', gets)}\n${line('setData', sets)}\n`);
process.stdout.write(`event loop delay p50 ${(loop.percentile(50) / 1e6).toFixed(1)} p99 ${(loop.percentile(99) / 1e6).toFixed(1)} max ${(loop.max / 1e6).toFixed(1)} ms\n`);
probe.destroy();
await server.close();
rmSync(dataDir, { recursive: true, force: true });
