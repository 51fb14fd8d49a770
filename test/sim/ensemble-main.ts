/**
 * npm run sim:ensemble -- [--seed N] [--seeds K] [--duration MS] [--clients N] [--members 3|5] [--keep-disks] [--no-fifo] [--new-ensemble]
 *
 * Runs K seeded simulations of a replicated ensemble from seed N (a fresh one when none is given);
 * a failing seed prints what was violated and what happened before, and the command that replays it.
 */
import { parseArgs } from 'node:util';
import { simulateEnsemble } from './ensemble-simulation.ts';

// --keep-disks: no crash wipes a member's disk. --no-fifo: a session's lost write may take effect even after its next answered write.
// --new-ensemble: every member runs with it (left on across restarts) and one starts late.
const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    seeds: { type: 'string', default: '1' },
    duration: { type: 'string', default: '20000' },
    clients: { type: 'string', default: '3' },
    members: { type: 'string', default: '3' },
    'keep-disks': { type: 'boolean', default: false },
    'no-fifo': { type: 'boolean', default: false },
    'new-ensemble': { type: 'boolean', default: false },
  },
});
const first = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 0x7fffffff);
let failed = 0;
for (let i = 0; i < Number(values.seeds); i++) {
  const seed = first + i;
  const started = performance.now();
  const r = await simulateEnsemble({ seed, durationMs: Number(values.duration), clients: Number(values.clients), members: Number(values.members), wipe: !values['keep-disks'], fifo: !values['no-fifo'], newEnsemble: values['new-ensemble'] });
  const summary = `${r.ops.ok + r.ops.failed} ops (${r.ops.failed} failed), ${r.terms} terms, ${r.restarts} restarts, ${r.sessionsClosed} sessions expired, ${r.history.ops} ops on shared nodes (${r.history.unknown} unknown) ${r.history.verdict}, ${r.movedInPlace} moved in place, ${r.steps} events, ${((performance.now() - started) / 1000).toFixed(1)} s`;
  if (r.violations.length === 0) {
    console.log(`seed ${seed}: ok — ${summary}`);
    continue;
  }
  failed++;
  console.log(`seed ${seed}: FAILED — ${summary}`);
  for (const v of r.violations.slice(0, 10)) console.log(`  violated: ${v}`);
  console.log('  what happened:');
  for (const t of r.trace.slice(-15)) console.log(`    ${t}`);
  console.log(`  replay: npm run sim:ensemble -- --seed ${seed} --duration ${values.duration} --clients ${values.clients} --members ${values.members}${values['keep-disks'] ? ' --keep-disks' : ''}${values['no-fifo'] ? ' --no-fifo' : ''}${values['new-ensemble'] ? ' --new-ensemble' : ''}`);
}
process.exit(failed === 0 ? 0 : 1);
