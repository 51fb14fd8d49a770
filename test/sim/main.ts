/**
 * npm run sim -- [--seed N] [--seeds K] [--duration MS] [--clients N] [--plant BUG]
 *
 * Runs K seeded simulations starting at seed N (a fresh random seed when none is given) and prints
 * each seed's outcome; a failing seed prints what was violated and what happened before, and the
 * same command with that seed replays the same run.
 */
import { parseArgs } from 'node:util';
import { PLANTED_BUGS, type PlantedBug } from './disk.ts';
import { simulate } from './simulation.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '1' },
    duration: { type: 'string', default: '30000' },
    clients: { type: 'string', default: '3' },
    plant: { type: 'string' },
  },
});
const plant = (values.plant ?? null) as PlantedBug | null;
if (plant !== null && !PLANTED_BUGS.includes(plant)) {
  console.error(`unknown --plant ${plant}; one of ${PLANTED_BUGS.join(', ')}`);
  process.exit(2);
}
const first = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x7fffffff);
let failed = 0;
for (let i = 0; i < Number(values.seeds); i++) {
  const seed = first + i;
  const started = performance.now();
  const r = await simulate({ seed, durationMs: Number(values.duration), clients: Number(values.clients), bug: plant });
  const secs = ((performance.now() - started) / 1000).toFixed(1);
  const summary = `${r.ops.ok + r.ops.failed} ops (${r.ops.failed} failed), ${r.restarts} restarts, ${r.steps} events, ${secs} s`;
  if (r.violations.length === 0) {
    console.log(`seed ${seed}: ok — ${summary}`);
    continue;
  }
  failed++;
  console.log(`seed ${seed}: FAILED — ${summary}`);
  for (const v of r.violations.slice(0, 10)) console.log(`  violated: ${v}`);
  console.log('  what happened:');
  for (const t of r.trace.slice(-15)) console.log(`    ${t}`);
  console.log(`  replay: npm run sim -- --seed ${seed} --duration ${values.duration} --clients ${values.clients}${plant ? ` --plant ${plant}` : ''}`);
}
process.exit(failed === 0 ? 0 : 1);
