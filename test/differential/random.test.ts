/**
 * Seeded random operation sequences against Apache ZooKeeper and Ensemble side by side (see
 * random/): a fixed list of seeds, so that a regression shows up the same way every time, plus two
 * fresh ones per run for new ground. A difference fails with its seed and a shrunk, replayable case.
 * Longer campaigns: `npm run fuzz:diff -- --seed N --seeds K --steps M`.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { withBothServers } from '../support/servers.ts';
import { campaignOn, formatFailure, type Campaign } from './random/campaign.ts';
import { FUZZ_SERVER_OPTIONS } from './random/runner.ts';

const FIXED_SEEDS = Array.from({ length: 24 }, (_, i) => i + 1);
const FRESH_SEEDS = [1, 2].map(() => 1_000 + Math.floor(Math.random() * 1_000_000_000));
const STEPS = 250;
const SHRINK_BUDGET_MS = 30_000;

describe('random operation sequences against both servers', () => {
  const servers = withBothServers(FUZZ_SERVER_OPTIONS);
  let campaign: (Campaign & { close(): Promise<void> }) | undefined;
  before(async () => {
    campaign = await campaignOn(servers.zookeeper(), servers.ensemble());
  });
  after(async () => {
    await campaign?.close();
  });

  for (const seed of [...FIXED_SEEDS, ...FRESH_SEEDS]) {
    const fresh = !FIXED_SEEDS.includes(seed);
    test(`${fresh ? 'fresh ' : ''}seed ${seed}, ${STEPS} steps`, { timeout: 180_000 }, async () => {
      const failure = await campaign!.runSeed(seed, STEPS, SHRINK_BUDGET_MS);
      if (failure) assert.fail(formatFailure(failure));
    });
  }
});
