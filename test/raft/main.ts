/**
 * npm run sim:raft -- [--seed N] [--seeds K] [--nodes 3|5] [--steps S | --ticks T] [--skew X] [--ops K]
 *                     [--wipes] [--plant BUG] [--quiet] [--verbose]
 *
 * Runs K seeded cluster simulations from seed N (a fresh one when none is given); a failing seed
 * prints the violation and the events before it, and the command that replays it.
 */
import { parseArgs } from 'node:util';
import { RAFT_BUGS, simulateRaft, type RaftBug } from './sim.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '1' },
    nodes: { type: 'string', default: '3' },
    steps: { type: 'string', default: '3000' },
    /** The faulty phase lasts until this many ticks have reached members (instead of --steps events). */
    ticks: { type: 'string' },
    /** Clock skew: tick rates drawn from [1 - skew, 1 + skew]. */
    skew: { type: 'string', default: '0.5' },
    /** Client ops per run, checked for linearizability. */
    ops: { type: 'string', default: '60' },
    /** Some crashes also wipe the member's disk. */
    wipes: { type: 'boolean', default: false },
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
const length = values.ticks !== undefined ? `--ticks ${values.ticks}` : `--steps ${values.steps}`;
const flags = `--nodes ${values.nodes} ${length} --skew ${values.skew} --ops ${values.ops}${values.wipes ? ' --wipes' : ''}${bug ? ` --plant ${bug}` : ''}`;
let failed = 0;
let undecided = 0;
for (let i = 0; i < Number(values.seeds); i++) {
  const seed = first + i;
  const r = simulateRaft({ seed, nodes: Number(values.nodes), steps: Number(values.steps), ...(values.ticks !== undefined && { ticks: Number(values.ticks) }), skew: Number(values.skew), ops: Number(values.ops), bug, verbose: values.verbose, wipes: values.wipes });
  if (r.undecided) undecided++;
  if (r.violation === null) {
    if (!values.quiet) console.log(`seed ${seed}: ok — ${r.elections} elections, ${r.committed} entries applied, ${r.answered} of ${r.issued} client ops answered${r.undecided ? ' (history too tangled to check)' : ''}`);
    continue;
  }
  failed++;
  console.log(`seed ${seed}: FAILED — ${r.violation}`);
  for (const t of r.trace.slice(values.verbose ? -60 : -15)) console.log(`    ${t}`);
  console.log(`  replay: npm run sim:raft -- --seed ${seed} ${flags} --verbose`);
}
console.log(`${Number(values.seeds) - failed} of ${values.seeds} seeds ok${undecided > 0 ? ` (${undecided} histories too tangled to check)` : ''}`);
process.exit(failed === 0 ? 0 : 1);
