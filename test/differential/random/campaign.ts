/**
 * A fuzzing campaign: seeds run against both servers, a difference confirmed by running it again,
 * then shrunk to a short sequence and reported with the seed, a listing of the steps, the records
 * that differ and a file that replays it.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawClient } from '../../support/raw-client.ts';
import type { RunningServer } from '../../support/servers.ts';
import { compare, type Comparison, type Difference, type Pair } from './runner.ts';
import { describeStep, generate, type GenerateOptions, type Req, type Step } from './steps.ts';

export const DEFAULT_SLOTS = 4;

export interface Failure {
  seed: number;
  /** The sequence that first showed the difference (cut after the differing step). */
  original: Step[];
  /** The shortest sequence found that still shows a difference. */
  shrunk: Step[];
  difference: Difference;
  /** False when running the original again showed no difference (a race, or a flake). */
  reproduced: boolean;
  /** Where the shrunk case was saved (replay with `npm run fuzz:diff -- --replay FILE`). */
  file: string;
}

export interface Campaign {
  readonly pair: Pair;
  /** Steps that differed only as a known difference explains, by its name, over the campaign. */
  readonly explained: Map<string, number>;
  /** Run one generated sequence; null when the servers agreed at every step. */
  runSeed(seed: number, steps: number, shrinkBudgetMs?: number): Promise<Failure | null>;
  /** Run a given sequence (a replayed case). */
  runSteps(steps: Step[], label: number, shrinkBudgetMs?: number): Promise<Failure | null>;
}

let rootCounter = 0;

export async function campaignOn(zookeeper: RunningServer, ensemble: RunningServer, slots = DEFAULT_SLOTS, generateOptions: GenerateOptions = {}): Promise<Campaign & { close(): Promise<void> }> {
  const control = (s: RunningServer): Promise<RawClient> => RawClient.connect(s.host, s.port, { timeoutMs: 30_000 });
  const pair: Pair = {
    zookeeper: { server: zookeeper, control: await control(zookeeper) },
    ensemble: { server: ensemble, control: await control(ensemble) },
  };
  const tag = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
  const explained = new Map<string, number>();
  const run = (steps: Step[]): Promise<Comparison> => compare(pair, `/fuzz-${tag}-${++rootCounter}`, steps, slots);
  const attempt = async (steps: Step[]): Promise<Difference | null> => (await run(steps)).difference;

  const runSteps = async (steps: Step[], seed: number, shrinkBudgetMs = 60_000): Promise<Failure | null> => {
    const comparison = await run(steps);
    for (const [name, n] of comparison.explained) explained.set(name, (explained.get(name) ?? 0) + n);
    const first = comparison.difference;
    if (!first) return null;
    const original = steps.slice(0, first.index + 1);
    const again = await attempt(original);
    const { steps: shrunk, difference } = again ? await shrink(attempt, original, again, shrinkBudgetMs) : { steps: original, difference: first };
    const file = join(tmpdir(), `ensemble-fuzz-${seed}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify({ seed, slots, steps: shrunk }, null, 1));
    return { seed, original, shrunk, difference, reproduced: again !== null, file };
  };

  return {
    pair,
    explained,
    runSeed: (seed, count, budget) => runSteps(generate(seed, count, { ...generateOptions, slots }), seed, budget),
    runSteps,
    async close() {
      await Promise.all([pair.zookeeper.control.close(), pair.ensemble.control.close()].map((p) => p.catch(() => undefined)));
    },
  };
}

/**
 * Delta debugging over steps (drop runs of steps, halving the run length), then over the requests
 * of bursts and the ops of multis, keeping every cut that still shows a difference.
 */
async function shrink(
  attempt: (steps: Step[]) => Promise<Difference | null>, steps: Step[], difference: Difference, budgetMs: number,
): Promise<{ steps: Step[]; difference: Difference }> {
  const deadline = Date.now() + budgetMs;
  let best = steps;
  let bestDiff = difference;
  const tryCandidate = async (candidate: Step[]): Promise<boolean> => {
    if (candidate.length === 0 || Date.now() > deadline) return false;
    const d = await attempt(candidate);
    if (!d) return false;
    best = candidate.slice(0, d.index + 1);
    bestDiff = d;
    return true;
  };

  for (let chunk = Math.ceil(best.length / 2); chunk >= 1 && Date.now() <= deadline; chunk = chunk === 1 ? 0 : Math.ceil(chunk / 2)) {
    for (let i = 0; i < best.length && Date.now() <= deadline;) {
      if (!(await tryCandidate([...best.slice(0, i), ...best.slice(i + chunk)]))) i += chunk;
    }
  }
  for (let s = 0; s < best.length && Date.now() <= deadline; s++) {
    for (let r = 0; best[s] && r < best[s].reqs.length && best[s].reqs.length > 1;) {
      const reqs = best[s].reqs.filter((_, k) => k !== r);
      if (!(await tryCandidate(replaceStep(best, s, { ...best[s], reqs })))) r++;
    }
    for (let r = 0; best[s] && r < best[s].reqs.length; r++) {
      for (let o = 0; Date.now() <= deadline;) {
        const req = best[s]?.reqs[r];
        if (!req || (req.op !== 'multi' && req.op !== 'multiRead') || o >= req.ops.length) break;
        const smaller: Req = { ...req, ops: req.ops.filter((_, k) => k !== o) };
        const reqs = best[s].reqs.map((x, k) => (k === r ? smaller : x));
        if (!(await tryCandidate(replaceStep(best, s, { ...best[s], reqs })))) o++;
      }
    }
  }
  return { steps: best, difference: bestDiff };
}

function replaceStep(steps: Step[], index: number, step: Step): Step[] {
  return steps.map((s, i) => (i === index ? step : s));
}

/** A failure as text: the seed, the replay command, the steps and the two records. */
export function formatFailure(f: Failure): string {
  const d = f.difference;
  return [
    `Ensemble differs from Apache ZooKeeper: seed ${f.seed}${f.reproduced ? '' : ' (did NOT reproduce on a second run: a race or a flake)'}`,
    `first seen after ${f.original.length} steps; shrunk to ${f.shrunk.length}:`,
    ...f.shrunk.map(describeStep),
    `at step ${d.index}:`,
    `  zookeeper: ${JSON.stringify(d.zookeeper)}`,
    `  ensemble:  ${JSON.stringify(d.ensemble)}`,
    `replay: npm run fuzz:diff -- --replay ${f.file}    (or --seed ${f.seed} --steps ${f.original.length})`,
  ].join('\n');
}
