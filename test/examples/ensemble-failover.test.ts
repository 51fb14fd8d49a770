/**
 * `ensemble demo --ensemble 3 --scenario`: the cluster example on a three-member Ensemble of real
 * processes, the member holding the workers' sessions and then the Ensemble leader killed with
 * SIGKILL in the middle of a job. Runs the built `bin/ensemble.js` (dist/): `npm test` builds first.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { run } from '../real-clients/lib/process.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function demo(args: string[], timeoutMs: number): ReturnType<typeof run> {
  return run(process.execPath, [resolve(ROOT, 'bin/ensemble.js'), 'demo', ...args], { timeoutMs, cwd: ROOT });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ensemble demo --ensemble 3 --scenario', () => {
  test('the job finishes right, one leader at a time, the registry ends right, with members killed under the cluster', { timeout: 180_000 }, async () => {
    const outcome = await demo(['--ensemble', '3', '--scenario'], 170_000);
    const out = outcome.stdout;
    const report = `${out}\n${outcome.stderr}`;
    assert.equal(outcome.code, 0, report);
    for (const title of [
      '1. four workers start and exactly one leads',
      "2. the member holding the workers' sessions dies in the middle of a job",
      '3. the killed member restarts and rejoins',
      '4. the Ensemble leader dies in the middle of a job',
      '5. the old leader restarts; every member holds the same election and registry',
      'never two leaders at once',
    ]) {
      assert.ok(out.includes(`✓ ${title}`), `${title}\n${report}`);
    }
    assert.match(out, /6 passed, 0 failed/, report);
    assert.doesNotMatch(out, /✗/, report);

    // Before the first kill, every worker's session is on the member then killed, a follower.
    const placed = /sessions \(from cons\): (.*)\n✓ 1\./.exec(out)?.[1] ?? '';
    const first = /is running job \d+: killed member (\d+) \(follower, pid \d+\)/.exec(out);
    assert.ok(first, report);
    assert.ok(placed.includes(`member ${first[1]}: worker-1, worker-2, worker-3, worker-4;`), `${placed}\n${report}`);
    assert.match(out, /is running job \d+: killed member \d+ \(leader, pid \d+\)/, report);
    assert.equal((out.match(/killed member \d+ \(\w+, pid \d+\) with SIGKILL/g) ?? []).length, 2, report);
    // Every job a leader finished counted the whole.
    const expected = /expected: \d+ documents, (\d+) words, (\d+) distinct/.exec(out);
    assert.ok(expected, report);
    const done = out.split('\n').filter((l) => / job \d+ done: /.test(l));
    assert.ok(done.length >= 4, report);
    for (const line of done) assert.ok(line.includes(`: ${expected[1]} words, ${expected[2]} distinct;`), line);

    // The members are stopped at the end.
    const pids = [...out.matchAll(/^member \d+: 127\.0\.0\.1:\d+, pid (\d+)|^member \d+ \(pid (\d+)\) is a follower again/gm)].map((m) => Number(m[1] ?? m[2]));
    assert.equal(pids.length, 5, report);
    for (const pid of pids) assert.equal(alive(pid), false, `member pid ${pid} still running`);
  });

  test('bad arguments get a clear error and status 1', async () => {
    for (const [args, message] of [
      [['--ensemble', '2', '--scenario'], /--ensemble needs an odd number of members, at least 3, got 2/],
      [['--ensemble', '3', '--connect', '127.0.0.1:2181'], /--ensemble and --connect exclude each other/],
    ] as const) {
      const outcome = await demo([...args], 20_000);
      assert.equal(outcome.code, 1, outcome.stderr);
      assert.match(outcome.stderr, message);
    }
  });
});
