/**
 * The seeded random operation sequences of random.test.ts against three members of Apache ZooKeeper
 * and three of Ensemble: every session of a run on one member (a follower or the leader, as the
 * members come up), so writes are forwarded and answered there, and reads served from its tree.
 * Fewer seeds than standalone (the same generator), plus one fresh one per run.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startProcessEnsemble } from '../support/process-ensemble.ts';
import { withBothServers } from '../support/servers.ts';
import { campaignOn, formatFailure, type Campaign } from './random/campaign.ts';
import { FUZZ_SERVER_OPTIONS } from './random/runner.ts';

const FIXED_SEEDS = [1, 2, 3, 4, 5, 6];
const FRESH_SEED = 1_000 + Math.floor(Math.random() * 1_000_000_000);
const STEPS = 250;
const SHRINK_BUDGET_MS = 30_000;

describe('random operation sequences against three members of each', () => {
  const servers = withBothServers(FUZZ_SERVER_OPTIONS, startProcessEnsemble);
  let campaign: (Campaign & { close(): Promise<void> }) | undefined;
  before(async () => {
    // No check outside a multi: Apache ZooKeeper 3.8's followers leave their leader over one (steps.ts).
    campaign = await campaignOn(servers.zookeeper(), servers.ensemble(), undefined, { topLevelCheck: false });
  });
  after(async () => {
    await campaign?.close();
  });

  for (const seed of [...FIXED_SEEDS, FRESH_SEED]) {
    test(`${seed === FRESH_SEED ? 'fresh ' : ''}seed ${seed}, ${STEPS} steps (replay: npm run fuzz:diff -- --ensemble --seed ${seed} --steps ${STEPS})`, { timeout: 180_000 }, async () => {
      const failure = await campaign!.runSeed(seed, STEPS, SHRINK_BUDGET_MS);
      if (failure) assert.fail(formatFailure(failure));
    });
  }
});
