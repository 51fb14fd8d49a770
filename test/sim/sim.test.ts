/**
 * The seeded simulation of the standalone server (test/sim): a fixed list of seeds plus fresh
 * ones each run (printed, to replay with `npm run sim -- --seed N`), one seed replayed for
 * determinism, and the planted bugs it must catch.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PLANTED_BUGS } from './disk.ts';
import { simulate, type SimResult } from './simulation.ts';

const DURATION_MS = 20_000;
const FIXED_SEEDS = Array.from({ length: 16 }, (_, i) => i + 1);
const FRESH_SEEDS = [0, 1].map(() => Math.floor(Math.random() * 0x7fffffff));

function report(r: SimResult): string {
  return [`seed ${r.seed} (replay: npm run sim -- --seed ${r.seed} --duration ${DURATION_MS})`, ...r.violations, 'what happened, last:', ...r.trace.slice(-10)].join('\n');
}

describe('simulation: the standalone server under faults', () => {
  for (const seed of [...FIXED_SEEDS, ...FRESH_SEEDS]) {
    it(`seed ${seed}`, async () => {
      const r = await simulate({ seed, durationMs: DURATION_MS, clients: 3, bug: null });
      assert.deepEqual(r.violations, [], report(r));
      assert.ok(r.ops.ok > 500, `seed ${seed}: only ${r.ops.ok} operations succeeded`);
    });
  }

  it('one seed is one run: the same seed replays the same events, operations and final tree', async () => {
    const a = await simulate({ seed: 7, durationMs: DURATION_MS, clients: 3, bug: null });
    const b = await simulate({ seed: 7, durationMs: DURATION_MS, clients: 3, bug: null });
    assert.deepEqual({ steps: b.steps, ops: b.ops, trace: b.trace, digest: b.digest }, { steps: a.steps, ops: a.ops, trace: a.trace, digest: a.digest });
    assert.ok(a.restarts > 0 && a.digest !== '', 'the run crashed and restarted the server');
  });

  for (const bug of PLANTED_BUGS) {
    it(`catches a planted bug: ${bug}`, async () => {
      const tried: number[] = [];
      for (let seed = 1; seed <= 30; seed++) {
        tried.push(seed);
        const r = await simulate({ seed, durationMs: DURATION_MS, clients: 3, bug });
        if (r.violations.length > 0) {
          assert.match(r.violations[0], /restart lost acknowledged state|differs from a replay/);
          return;
        }
      }
      assert.fail(`${bug} went unnoticed over seeds ${tried.join(', ')}`);
    });
  }
});
