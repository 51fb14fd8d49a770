/**
 * npm run sim:raft -- [--seed N] [--seeds K] [--nodes 3|5] [--steps S] [--plant BUG] [--quiet] [--verbose]
 *
 * Runs K seeded cluster simulations from seed N (a fresh one when none is given); a failing seed
 * prints the violation and the events before it, and the same command replays it.
 */
import { parseArgs } from 'node:util';
import { RAFT_BUGS, simulateRaft, type RaftBug } from './sim.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3000' },
    plant: { type: 'string' },
    quiet: { type: 'boolean', default: false },
    verbose: { type: 'boolean', default: false },
  },
});
const bug = (values.plant ?? null) as RaftBug | null;
if (bug !== null && !RAFT_BUGS.includes(bug)) {
  console.error(`unknown --plant ${bug}; one of ${RAFT_BUGS.join(', ')}`);
  process.exit(2);
}
const first = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x7fffffff);
let failed = 0;
for (let i = 0; i < Number(values.seeds); i++) {
  const seed = first + i;
  const r = simulateRaft({ seed, nodes: Number(values.nodes), steps: Number(values.steps), bug, verbose: values.verbose });
  if (r.violation === null) {
    if (!values.quiet) console.log(`seed ${seed}: ok — ${r.elections} elections, ${r.committed} entries applied`);
    continue;
  }
  failed++;
  console.log(`seed ${seed}: FAILED — ${r.violation}`);
  for (const t of r.trace.slice(values.verbose ? -60 : -15)) console.log(`    ${t}`);
  console.log(`  replay: npm run sim:raft -- --seed ${seed} --nodes ${values.nodes} --steps ${values.steps}${bug ? ` --plant ${bug}` : ''}`);
}
console.log(`${Number(values.seeds) - failed} of ${values.seeds} seeds ok`);
process.exit(failed === 0 ? 0 : 1);
