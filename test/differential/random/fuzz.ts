/**
 * npm run fuzz:diff -- [--seed N] [--seeds K] [--steps M] [--replay FILE] [--shrink-seconds S] [--ensemble]
 *
 * Long differential campaigns: K seeds from N (default: one seed, from the clock), M steps each,
 * against Apache ZooKeeper 3.8 and Ensemble started here: standalone servers, or with --ensemble
 * three members of each (the campaign's sessions all on one member, which forwards writes). Every difference is shrunk and printed
 * with its seed and a file that replays it. Exit status 1 if any difference was found.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { startServerNamed } from '../../support/servers.ts';
import { startProcessEnsemble } from '../../support/process-ensemble.ts';
import { campaignOn, formatFailure, type Failure } from './campaign.ts';
import { FUZZ_SERVER_OPTIONS } from './runner.ts';
import type { Step } from './steps.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '1' },
    steps: { type: 'string', default: '1000' },
    replay: { type: 'string' },
    'shrink-seconds': { type: 'string', default: '120' },
    ensemble: { type: 'boolean', default: false },
  },
});

const firstSeed = values.seed !== undefined ? Number(values.seed) : Date.now() % 1_000_000_000;
const seeds = Number(values.seeds);
const steps = Number(values.steps);
const shrinkMs = Number(values['shrink-seconds']) * 1000;
for (const [name, n] of [['--seed', firstSeed], ['--seeds', seeds], ['--steps', steps], ['--shrink-seconds', shrinkMs]] as const) {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number`);
}

// Interrupted: exit through process.exit, whose hook stops the ZooKeeper JVM (test/support/zookeeper.ts).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130));

const start = values.ensemble ? startProcessEnsemble : startServerNamed;
const [zookeeper, ensemble] = await Promise.all([start('zookeeper', FUZZ_SERVER_OPTIONS), start('ensemble', FUZZ_SERVER_OPTIONS)]);
const failures: Failure[] = [];
let stepsRun = 0;
let explained = new Map<string, number>();
const startedAt = Date.now();
try {
  if (values.replay) {
    const saved = JSON.parse(readFileSync(values.replay, 'utf8')) as { seed: number; slots: number; steps: Step[] };
    const campaign = await campaignOn(zookeeper, ensemble, saved.slots);
    const f = await campaign.runSteps(saved.steps, saved.seed, shrinkMs);
    stepsRun += saved.steps.length;
    if (f) failures.push(f);
    explained = campaign.explained;
    await campaign.close();
  } else {
    const campaign = await campaignOn(zookeeper, ensemble, undefined, { topLevelCheck: !values.ensemble });
    for (let seed = firstSeed; seed < firstSeed + seeds; seed++) {
      const t0 = Date.now();
      const f = await campaign.runSeed(seed, steps, shrinkMs);
      stepsRun += f ? f.original.length : steps;
      if (f) failures.push(f);
      console.log(`seed ${seed}: ${f ? `DIFFERENCE at step ${f.original.length - 1}` : `${steps} steps agree`} (${Date.now() - t0} ms)`);
      if (f) console.log(formatFailure(f));
    }
    explained = campaign.explained;
    await campaign.close();
  }
} finally {
  await Promise.allSettled([zookeeper.stop(), ensemble.stop()]);
}
const seconds = (Date.now() - startedAt) / 1000;
console.log(`${stepsRun} steps in ${seconds.toFixed(0)} s (${(stepsRun / seconds).toFixed(0)} steps/s), ${failures.length} unexplained difference(s)`);
for (const [name, n] of explained) console.log(`  ${n} step(s) differed only as known: ${name}`);
if (values.replay) for (const f of failures) console.log(formatFailure(f));
process.exitCode = failures.length > 0 ? 1 : 0;
