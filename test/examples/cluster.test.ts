/**
 * The cluster example, end to end: `ensemble demo --scenario` against an embedded Ensemble and
 * against Apache ZooKeeper (`--connect`), and `ensemble demo --herd 50` against both. The demo
 * runs the built `bin/ensemble.js` (dist/): `npm test` builds first.
 */
import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runJob } from '../../examples/cluster/job.ts';
import { countDocuments, countWords, listDocuments, mergeCounts, split, summarise } from '../../examples/cluster/word-count.ts';
import { run } from '../real-clients/lib/process.ts';
import { startServerNamed, type RunningServer } from '../support/servers.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DOCUMENTS = resolve(ROOT, 'examples/cluster/documents');

function demo(args: string[], timeoutMs: number): ReturnType<typeof run> {
  return run(process.execPath, [resolve(ROOT, 'bin/ensemble.js'), 'demo', ...args], { timeoutMs, cwd: ROOT });
}

describe('the word count', () => {
  test('counts words case-insensitively, keeping apostrophes inside words', () => {
    assert.deepEqual([...countWords("The licensee's code, the CODE: don't 42 -- it's")], [['the', 2], ["licensee's", 1], ['code', 2], ["don't", 1], ["it's", 1]]);
  });

  test('any split over workers, merged, gives the count of the whole', async () => {
    const documents = await listDocuments(DOCUMENTS);
    assert.ok(documents.length >= 8, 'the example ships its documents');
    const whole = summarise(await countDocuments(DOCUMENTS, documents));
    for (const workers of [['a'], ['a', 'b'], ['a', 'b', 'c'], ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l']]) {
      const shares = split(documents, workers);
      assert.deepEqual([...shares.values()].flat().sort(), documents, 'each document exactly once');
      const parts = await Promise.all([...shares.values()].map((share) => countDocuments(DOCUMENTS, share)));
      assert.deepEqual(summarise(mergeCounts(parts)), whole);
    }
    assert.ok(whole.totalWords > 20_000 && whole.top[0][0] === 'the', JSON.stringify(whole.top.slice(0, 3)));
  });

  test('a worker that fails mid-job has its share re-split over the others, in the same job', async () => {
    const documents = await listDocuments(DOCUMENTS);
    const whole = summarise(await countDocuments(DOCUMENTS, documents));
    const failures: string[] = [];
    const outcome = await runJob(documents, ['w1', 'w2', 'w3'], {
      name: (w) => w,
      count: async (w, share) => {
        if (w === 'w2') throw new Error('connection refused');
        return countDocuments(DOCUMENTS, share);
      },
      failed: (w, share) => failures.push(`${w}:${share.length}`),
    });
    assert.ok(outcome);
    assert.deepEqual(failures, [`w2:${split(documents, ['w1', 'w2', 'w3']).get('w2')!.length}`]);
    assert.deepEqual(Object.keys(outcome.assignments).sort(), ['w1', 'w3']);
    assert.deepEqual(Object.values(outcome.assignments).flat().sort(), documents);
    assert.deepEqual(summarise(outcome.counts), whole);
  });

  test('a job with every worker failing, or told to stop, ends without a result', async () => {
    const refuse = async (): Promise<never> => {
      throw new Error('down');
    };
    assert.equal(await runJob(['a.txt'], ['w1', 'w2'], { name: (w) => w, count: refuse }), null);
    assert.equal(await runJob(['a.txt'], [], { name: (w: string) => w, count: refuse }), null);
    assert.equal(await runJob(['a.txt'], ['w1'], { name: (w) => w, count: refuse, proceed: () => false }), null);
  });
});

describe('ensemble demo', () => {
  let zookeeper: RunningServer | undefined;
  before(async () => {
    zookeeper = await startServerNamed('zookeeper');
  });
  after(async () => {
    await zookeeper?.stop();
  });

  const scenarioPasses = (outcome: Awaited<ReturnType<typeof run>>): void => {
    const report = `${outcome.stdout}\n${outcome.stderr}`;
    assert.equal(outcome.code, 0, report);
    for (const title of ['1. four workers start', '2. the leader is killed', '3. the old leader rejoins', '4. a worker dies', 'never two leaders']) {
      assert.match(outcome.stdout, new RegExp(`✓ ${title.replace('.', '\\.')}`), report);
    }
    assert.match(outcome.stdout, /5 passed, 0 failed/, report);
    assert.doesNotMatch(outcome.stdout, /✗/, report);
  };

  test('--scenario plays the four scenarios against the embedded Ensemble', async () => {
    scenarioPasses(await demo(['--scenario'], 120_000));
  });

  test('--scenario --connect plays them against Apache ZooKeeper', async () => {
    scenarioPasses(await demo(['--scenario', '--connect', zookeeper!.connectString], 120_000));
  });

  for (const name of ['ensemble', 'zookeeper'] as const) {
    test(`--herd 50 against ${name}: one notification with predecessor watches, 49 with the naive way`, async () => {
      const args = name === 'zookeeper' ? ['--herd', '50', '--connect', zookeeper!.connectString] : ['--herd', '50'];
      const outcome = await demo(args, 60_000);
      const report = `${outcome.stdout}\n${outcome.stderr}`;
      assert.equal(outcome.code, 0, report);
      assert.match(outcome.stdout, /herd: 50 candidates; leader's death → 1 notification\(s\) with predecessor watches, 49 when everyone watches the leader/, report);
    });
  }

  test('bad arguments get a clear error and status 1', async () => {
    const outcome = await demo(['--herd', 'many'], 20_000);
    assert.equal(outcome.code, 1);
    assert.match(outcome.stderr, /--herd needs a positive whole number, got "many"/);
  });
});

describe('the scenario checks', () => {
  const documents = ['a.txt', 'b.txt', 'c.txt'];
  const expected = { totalWords: 30, distinctWords: 3, top: [['x', 10], ['y', 10], ['z', 10]] as [string, number][] };
  const result = { round: 2, documents: 3, assignments: { 'worker-2': ['a.txt', 'c.txt'], 'worker-3': ['b.txt'] }, ...expected };
  const status = (name: string, role: 'leader' | 'worker' | 'joining', withResult = false) => ({ name, pid: 1, role, sessionId: '0x1', result: withResult ? result : null });
  const healthy = [status('worker-1', 'leader', true), status('worker-2', 'worker'), status('worker-3', 'worker')];
  const view = { leader: 'worker-1', registered: ['worker-2', 'worker-3'] };

  test('accept a settled cluster', async () => {
    const { settled } = await import('../../examples/cluster/scenarios.ts');
    assert.deepEqual(settled(healthy, view, 3, expected, documents), { leader: 'worker-1', workers: ['worker-2', 'worker-3'], result });
  });

  test('say what is wrong otherwise', async () => {
    const { settled } = await import('../../examples/cluster/scenarios.ts');
    const cases: [Parameters<typeof settled>[0], typeof view, RegExp][] = [
      [[...healthy.slice(0, 2), status('worker-3', 'leader', true)], view, /2 workers say they lead/],
      [healthy, { ...view, leader: 'worker-2' }, /lowest candidate is worker-2/],
      [healthy, { ...view, registered: ['worker-1', 'worker-2', 'worker-3'] }, /registry worker-1, worker-2, worker-3/],
      [healthy.slice(0, 2), view, /2 of 3 workers answer/],
      [[status('worker-1', 'leader'), ...healthy.slice(1)], view, /no job result yet/],
      [[{ ...healthy[0], result: { ...result, assignments: { 'worker-2': ['a.txt', 'b.txt', 'c.txt'] } } }, ...healthy.slice(1)], view, /ran over worker-2, expected worker-2, worker-3/],
      [[{ ...healthy[0], result: { ...result, assignments: { 'worker-2': ['a.txt', 'a.txt'], 'worker-3': ['b.txt'] } } }, ...healthy.slice(1)], view, /not each of 3 once/],
      [[{ ...healthy[0], result: { ...result, totalWords: 29 } }, ...healthy.slice(1)], view, /counted 29 words/],
    ];
    for (const [statuses, v, message] of cases) assert.match(String(settled(statuses, v, 3, expected, documents)), message);
  });
});
