/**
 * The seeded Raft cluster simulation (test/raft/sim.ts): fixed seeds for 3 and 5 members plus fresh
 * ones (printed, to replay with `npm run sim:raft -- --seed N`), one seed replayed for determinism,
 * and planted bugs it must catch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulateRaft, type RaftBug, type RaftSimResult } from './sim.ts';

const STEPS = 3000;
const fresh = (): number => Math.floor(Math.random() * 0x7fffffff);

function report(r: RaftSimResult, nodes: number, steps: number, bug: RaftBug | null = null, wipes = false): string {
  return [`seed ${r.seed}: ${r.violation}`, ...r.trace.slice(-15), `replay: npm run sim:raft -- --seed ${r.seed} --nodes ${nodes} --steps ${steps}${wipes ? ' --wipes' : ''}${bug ? ` --plant ${bug}` : ''}`].join('\n');
}

describe('simulation: a Raft cluster under faults', () => {
  for (const [nodes, count] of [[3, 1500], [5, 800]] as const) {
    it(`${nodes} members, ${count} fixed seeds and 20 fresh ones`, () => {
      const extra = Array.from({ length: 20 }, fresh);
      console.log(`fresh seeds (${nodes} members): ${extra.join(' ')}`);
      const seeds = [...Array.from({ length: count }, (_, i) => i + 1), ...extra];
      let elections = 0;
      let answered = 0;
      for (const seed of seeds) {
        const r = simulateRaft({ seed, nodes, steps: STEPS, bug: null });
        assert.equal(r.violation, null, report(r, nodes, STEPS));
        elections += r.elections;
        answered += r.answered;
      }
      assert.ok(elections > seeds.length * 2, `faults forced elections (${elections} over ${seeds.length} runs)`);
      // About 5 a run (fewer with five members, and where followers share acknowledgements: each
      // message in flight takes an event to deliver, out of a fixed number).
      assert.ok(answered > seeds.length * 4, `clients were answered (${answered} ops over ${seeds.length} runs)`);
    });
  }

  for (const [nodes, count] of [[3, 600], [5, 200]] as const) {
    it(`${nodes} members whose disks are wiped now and then, ${count} fixed seeds and 10 fresh ones`, () => {
      const extra = Array.from({ length: 10 }, fresh);
      console.log(`fresh seeds (${nodes} members, wipes): ${extra.join(' ')}`);
      let wiped = 0;
      for (const seed of [...Array.from({ length: count }, (_, i) => i + 1), ...extra]) {
        const r = simulateRaft({ seed, nodes, steps: STEPS, bug: null, wipes: true });
        assert.equal(r.violation, null, report(r, nodes, STEPS, null, true));
        wiped += r.trace.filter((line) => line.endsWith(' wiped')).length;
      }
      assert.ok(wiped > count / 10, `members were wiped (${wiped} times over ${count} runs)`);
    });
  }

  it('one seed is one run', () => {
    const a = simulateRaft({ seed: 42, nodes: 5, steps: STEPS, bug: null });
    const b = simulateRaft({ seed: 42, nodes: 5, steps: STEPS, bug: null });
    assert.deepEqual(b, a);
  });

  // Each plant must be caught within its seed budget (3 members); `first` is the seed that first
  // catches it today, printed again when the test runs.
  const plants: Array<{ bug: RaftBug; steps: number; budget: number; first: number; wipes?: boolean }> = [
    { bug: 'vote-before-sync', steps: STEPS, budget: 150, first: 45 },
    { bug: 'ack-before-sync', steps: STEPS, budget: 300, first: 34 },
    { bug: 'commit-by-counting', steps: 20_000, budget: 100, first: 14 },
    { bug: 'read-without-quorum', steps: STEPS, budget: 100, first: 9 },
    { bug: 'no-truncate', steps: STEPS, budget: 200, first: 45 },
    { bug: 'stale-read', steps: STEPS, budget: 200, first: 100 },
    { bug: 'state-before-log', steps: 20_000, budget: 300, first: 157 },
    { bug: 'wiped-votes', steps: STEPS, budget: 60, first: 16, wipes: true },
    { bug: 'read-at-leader-commit', steps: STEPS, budget: 200, first: 44 },
    { bug: 'wiped-trusts-stale-leader', steps: STEPS, budget: 500, first: 219, wipes: true },
  ];
  for (const { bug, steps, budget, first, wipes } of plants) {
    it(`catches a planted bug: ${bug}`, () => {
      for (let seed = 1; seed <= budget; seed++) {
        const r = simulateRaft({ seed, nodes: 3, steps, bug, wipes });
        if (r.violation === null) continue;
        console.log(`${bug}: first caught at seed ${seed} (recorded: ${first}) — ${r.violation.split('\n')[0]}`);
        return;
      }
      assert.fail(`${bug} went unnoticed over ${budget} seeds of ${steps} steps`);
    });
  }
});
