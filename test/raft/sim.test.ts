/**
 * The seeded Raft cluster simulation (test/raft/sim.ts): fixed seeds for 3 and 5 members plus fresh
 * ones (printed, to replay with `npm run sim:raft -- --seed N`), one seed replayed for determinism,
 * and planted bugs it must catch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulateRaft, type RaftSimResult } from './sim.ts';

const STEPS = 3000;
const fresh = (): number => Math.floor(Math.random() * 0x7fffffff);

function report(r: RaftSimResult, nodes: number): string {
  return [`seed ${r.seed}: ${r.violation}`, ...r.trace.slice(-15), `replay: npm run sim:raft -- --seed ${r.seed} --nodes ${nodes} --steps ${STEPS}`].join('\n');
}

describe('simulation: a Raft cluster under faults', () => {
  for (const [nodes, count] of [[3, 600], [5, 400]] as const) {
    it(`${nodes} members, ${count} fixed seeds and 20 fresh ones`, () => {
      const seeds = [...Array.from({ length: count }, (_, i) => i + 1), ...Array.from({ length: 20 }, fresh)];
      let elections = 0;
      for (const seed of seeds) {
        const r = simulateRaft({ seed, nodes, steps: STEPS, bug: null });
        assert.equal(r.violation, null, report(r, nodes));
        elections += r.elections;
      }
      assert.ok(elections > seeds.length * 3, `faults forced elections (${elections} over ${seeds.length} runs)`);
    });
  }

  it('one seed is one run', () => {
    const a = simulateRaft({ seed: 42, nodes: 5, steps: STEPS, bug: null });
    const b = simulateRaft({ seed: 42, nodes: 5, steps: STEPS, bug: null });
    assert.deepEqual(b, a);
  });

  // Each plant must be caught within its seed budget; the seed that first catches it today is noted.
  for (const [bug, steps, budget] of [['send-before-sync', STEPS, 300], ['commit-by-counting', 20_000, 100], ['read-without-quorum', STEPS, 300]] as const) {
    it(`catches a planted bug: ${bug}`, () => {
      for (let seed = 1; seed <= budget; seed++) {
        const r = simulateRaft({ seed, nodes: 3, steps, bug });
        if (r.violation !== null) return;
      }
      assert.fail(`${bug} went unnoticed over ${budget} seeds of ${steps} steps`);
    });
  }
});
