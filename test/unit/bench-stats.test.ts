import { test } from 'node:test';
import assert from 'node:assert/strict';
import { catchupRatios, renderCatchupTable, summarizeCatchup, type CatchupMeasurement, type CatchupVariant } from '../../bench/catchup.ts';
import { LatencyHistogram } from '../../bench/latency-histogram.ts';
import { parseOptions } from '../../bench/options.ts';
import { parseMachineTicks, parseStatCpuTicks, parseVmRssBytes } from '../../bench/proc.ts';
import { evaluateTargets, renderBaselineTable, renderDetailTable, renderFloorTable, summarizeBigTree, summarizeLoad, type RoundMeasurement } from '../../bench/report.ts';
import { serverOrder, type ServerKind } from '../../bench/servers.ts';
import { median, percentile, ratio, spread } from '../../bench/stats.ts';

test('median, spread and ratio of round results', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.equal(median([5, NaN, 1]), 3);
  assert.ok(Number.isNaN(median([])));
  assert.deepEqual(spread([3, 9, 1]), { min: 1, max: 9 });
  assert.deepEqual(spread([]), { min: NaN, max: NaN });
  assert.equal(ratio(3, 2), 1.5);
  assert.ok(Number.isNaN(ratio(1, 0)));
  assert.ok(Number.isNaN(ratio(NaN, 2)));
});

test('nearest-rank percentiles', () => {
  const sorted = Array.from({ length: 1000 }, (_, i) => i + 1);
  assert.equal(percentile(sorted, 0.5), 500);
  assert.equal(percentile(sorted, 0.99), 990);
  assert.equal(percentile(sorted, 0.999), 999);
  assert.equal(percentile(sorted, 1), 1000);
  assert.equal(percentile([7], 0.999), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
});

test('latency histogram: percentiles within 1%, merged across processes, through JSON', () => {
  const a = new LatencyHistogram();
  const b = new LatencyHistogram();
  for (let us = 1; us <= 10_000; us++) (us % 2 === 0 ? a : b).record(us);
  const merged = LatencyHistogram.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
  merged.merge(b);
  assert.equal(merged.count, 10_000);
  assert.equal(merged.maxUs, 10_000);
  for (const [p, exact] of [[0.5, 5000], [0.99, 9900], [0.999, 9990]] as const) {
    const got = merged.percentile(p);
    assert.ok(Math.abs(got - exact) / exact <= 0.01, `p${p * 100}: ${got} is not within 1% of ${exact}`);
  }
  assert.ok(merged.percentile(1) <= 10_000);
  const tiny = new LatencyHistogram();
  tiny.record(0.2);
  assert.equal(tiny.percentile(0.5), 0.2);
  assert.ok(Number.isNaN(new LatencyHistogram().percentile(0.5)));
});

test('/proc parsing: CPU ticks of a process whose name holds spaces and parentheses', () => {
  // Fields after the name: state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime ...
  const stat = '4242 (java (main) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 30 0';
  assert.equal(parseStatCpuTicks(stat), 1234 + 567);
  assert.throws(() => parseStatCpuTicks('garbage'));
  assert.equal(parseVmRssBytes('Name:\tnode\nVmPeak:\t 900 kB\nVmRSS:\t  123456 kB\nVmData:\t 1 kB\n'), 123456 * 1024);
  assert.throws(() => parseVmRssBytes('Name:\tkthread\n'));
  const machine = parseMachineTicks('cpu  100 5 50 1000 20 1 2 3 0 0\ncpu0 50 2 25 500 10 0 1 1 0 0\nintr 1\n');
  assert.deepEqual(machine, { busyTicks: 100 + 5 + 50 + 1 + 2 + 3, totalTicks: 100 + 5 + 50 + 1000 + 20 + 1 + 2 + 3 });
});

function measurement(server: ServerKind, round: number, opsPerSec: number, p99Us: number, serverCpuUsPerOp: number): RoundMeasurement {
  return {
    server, round, workload: 'read', client: 'ensemble', ops: opsPerSec * 5, windowMs: 5000, opsPerSec,
    p50Us: p99Us / 4, p99Us, p999Us: p99Us * 2, maxUs: p99Us * 3,
    serverCpuSeconds: 1, loadCpuSeconds: 0.5, otherCpuSeconds: 0.1, serverCpuUsPerOp, clientCpuUsPerOp: 2, loadCpuShare: 1 / 3, inflightPerSession: 32,
  };
}

test('summary rows: medians over rounds, spread, ratio; targets met or not', () => {
  const rows = summarizeLoad([
    measurement('zookeeper', 1, 100, 1000, 20), measurement('ensemble', 1, 300, 900, 12),
    measurement('zookeeper', 2, 120, 1200, 22), measurement('ensemble', 2, 100, 800, 13),
    measurement('zookeeper', 3, 110, 1100, 21), measurement('ensemble', 3, 200, 700, 11),
  ]);
  assert.equal(rows.length, 1);
  const [row] = rows;
  assert.equal(row.zookeeper?.median, 110);
  assert.equal(row.ensemble?.median, 200);
  assert.deepEqual([row.ensemble?.min, row.ensemble?.max], [100, 300]);
  assert.ok(Math.abs(row.ratio - 200 / 110) < 1e-9);
  const targets = evaluateTargets(rows);
  const find = (text: string) => targets.find((t) => t.target.startsWith(text) && t.row === 'read (our client)');
  assert.equal(find('throughput')?.met, true);
  assert.equal(find('p99 latency')?.ratio, 800 / 1100);
  assert.equal(find('server CPU')?.met, false); // 12 / 21
  assert.equal(targets.find((t) => t.target.startsWith('startup'))?.met, null);
});

test('--floor: the no-logic server has its own cell and table, and no part in the targets', () => {
  const rows = summarizeLoad([
    measurement('zookeeper', 1, 100, 1000, 20), measurement('ensemble', 1, 300, 900, 10), measurement('node-floor', 1, 400, 500, 5),
  ]);
  assert.equal(rows[0].floor?.median, 400);
  assert.equal(rows[0].ratio, 3);
  const table = renderFloorTable(rows);
  const cells = table.split('\n')[2].split('|').map((c) => c.trim()).filter((c) => c !== '');
  assert.deepEqual(cells, ['read (our client)', 'ops/s', '100', '300', '400', '3.00×', '4.00×', '0.75×', '20.0 / 10.0 / 5.00', '2.00×']);
  assert.equal(renderFloorTable(summarizeLoad([measurement('zookeeper', 1, 100, 1000, 20)])).split('\n').length, 2); // header only
  assert.equal(evaluateTargets(rows).find((t) => t.target.startsWith('throughput'))?.ratio, 3);
  assert.equal(parseOptions(['--floor'])!.floor, true);
  assert.equal(parseOptions([])!.floor, false);
});

test('options: quick runs are short; --big and --znodes add the big-tree workloads', () => {
  const quick = parseOptions(['--quick'])!;
  assert.equal(quick.rounds, 1);
  assert.equal(quick.serverWarmupMs, 0);
  assert.equal(quick.bigTreeZnodes, 0);
  assert.ok(!quick.workloads.includes('startup'));
  const full = parseOptions([])!;
  assert.equal(full.rounds, 3);
  assert.equal(full.inflightTotal, 256);
  assert.equal(full.clients, null);
  const big = parseOptions(['--big', '--rounds', '5'])!;
  assert.equal(big.bigTreeZnodes, 1_000_000);
  assert.ok(big.workloads.includes('startup') && big.workloads.includes('memory'));
  assert.equal(big.rounds, 5);
  assert.equal(parseOptions(['--workloads', 'read', '--znodes', '5000'])!.bigTreeZnodes, 0);
  assert.equal(parseOptions(['--workloads', 'memory'])!.bigTreeZnodes, 1_000_000);
  assert.throws(() => parseOptions(['--workloads', 'nope']));
  assert.throws(() => parseOptions(['--rounds', '0']));
  assert.equal(parseOptions(['--help']), null);
});

test('--baseline: its cell, its ratio to ZooKeeper, and current / baseline of throughput and CPU per op', () => {
  const rows = summarizeLoad([
    measurement('zookeeper', 1, 100, 1000, 20), measurement('ensemble', 1, 300, 900, 10), measurement('ensemble-baseline', 1, 250, 950, 8),
  ]);
  const [row] = rows;
  assert.equal(row.baseline?.median, 250);
  assert.equal(row.baselineRatio, 2.5);
  assert.deepEqual(row.currentOverBaseline, { metric: 300 / 250, serverCpuUsPerOp: 10 / 8 });
  const cells = renderBaselineTable(rows, 'ensemble@abc1234').split('\n')[2].split('|').map((c) => c.trim()).filter((c) => c !== '');
  assert.deepEqual(cells, ['read (our client)', 'ops/s', '100', '300', '250', '3.00×', '2.50×', '1.20×', '20.0 / 10.0 / 8.00', '1.25×']);
  assert.match(renderBaselineTable(rows, 'ensemble@abc1234').split('\n')[0], /ensemble@abc1234/);
  assert.match(renderDetailTable(rows, 'ensemble@abc1234'), /\| ensemble@abc1234 /);
  assert.equal(evaluateTargets(rows).find((t) => t.target.startsWith('throughput'))?.ratio, 3);
  assert.equal(summarizeLoad([measurement('zookeeper', 1, 100, 1000, 20), measurement('ensemble', 1, 300, 900, 10)])[0].baseline, undefined);
  const bigTree = summarizeBigTree(['zookeeper', 'ensemble', 'ensemble-baseline'].map((server, i) => ({
    server: server as ServerKind, znodes: 1000, loadSeconds: 1, rssBeforeBytes: 0, rssAfterBytes: 0, rssBytesPerZnode: 100 * (i + 1), startupMs: [10 * (i + 1)],
  })), ['startup', 'memory']);
  assert.deepEqual(bigTree.map((r) => r.currentOverBaseline?.metric), [20 / 30, 200 / 300]);
});

test('server order: rotated each round, so that every server takes every place', () => {
  assert.deepEqual(serverOrder(1, ['z', 'e']), ['z', 'e']);
  assert.deepEqual(serverOrder(2, ['z', 'e']), ['e', 'z']);
  assert.deepEqual(serverOrder(0, ['z', 'e']), ['e', 'z']);
  const rounds = [1, 2, 3].map((round) => serverOrder(round, ['z', 'e', 'b']));
  assert.deepEqual(rounds, [['z', 'e', 'b'], ['e', 'b', 'z'], ['b', 'z', 'e']]);
  assert.deepEqual(serverOrder(0, ['z', 'e', 'b']), ['b', 'z', 'e']);
});

test('options: --baseline REV', () => {
  assert.equal(parseOptions(['--baseline', 'HEAD~3', '--quick'])!.baseline, 'HEAD~3');
  assert.equal(parseOptions([])!.baseline, null);
  assert.throws(() => parseOptions(['--baseline']));
  // With --ensemble: a third ensemble on the load workloads, never on failover or catch-up.
  assert.equal(parseOptions(['--ensemble', '3', '--workloads', 'write', '--baseline', 'HEAD~1'])!.baseline, 'HEAD~1');
  assert.throws(() => parseOptions(['--ensemble', '3', '--workloads', 'write,failover', '--baseline', 'HEAD~1']), /load workloads only/);
});

test('catch-up: options need --ensemble; rows per variant and system with the sync paths seen; E/Z of the medians', () => {
  const opts = parseOptions(['--ensemble', '3', '--workloads', 'catchup,catchup-wiped', '--catchups', '5', '--catchup-writes', '2000'])!;
  assert.deepEqual(opts.workloads, ['catchup', 'catchup-wiped']);
  assert.equal(opts.catchups, 5);
  assert.equal(opts.catchupWrites, 2000);
  assert.equal(parseOptions(['--ensemble', '3'])!.catchupWrites, 100_000);
  assert.throws(() => parseOptions(['--workloads', 'catchup']), /needs --ensemble/);
  assert.ok(!parseOptions([])!.workloads.includes('catchup'));

  const m = (server: ServerKind, variant: CatchupVariant, ms: number, sync: string): CatchupMeasurement => ({
    server, variant, run: 1, follower: 2, writesPerSec: 1000, answeringMs: 100, servingMs: 200, ms, sync, followerCpuSeconds: 1, leaderCpuSeconds: 0.5,
  });
  const rows = summarizeCatchup([
    m('zookeeper', 'kept', 3000, 'snapshot'), m('zookeeper', 'kept', 1000, 'diff'), m('zookeeper', 'kept', 2000, 'snapshot'),
    m('ensemble', 'kept', 500, 'snapshot'), m('ensemble', 'kept', NaN, 'entries'), m('ensemble', 'kept', 1500, 'snapshot'),
  ]);
  assert.deepEqual(rows.map((r) => [r.server, r.runs, r.failed, r.min, r.median, r.max, r.syncs]), [
    ['zookeeper', 3, 0, 1000, 2000, 3000, 'snapshot ×2, diff ×1'],
    ['ensemble', 3, 1, 500, 1000, 1500, 'snapshot ×2, entries ×1'],
  ]);
  assert.deepEqual(catchupRatios(rows), [{ variant: 'kept', ratio: 0.5 }]);
  assert.match(renderCatchupTable(rows), /\| kept +\| Ensemble +\| +3 \| +1 \|.*0\.50× \| met /);
});
