/** The leader's side of the job: share the documents out, re-split the share of a worker that fails, merge. */
import { mergeCounts, split, type Counts } from './word-count.ts';

export interface JobOutcome {
  counts: Counts;
  /** Which worker counted which documents (a worker that failed is not listed). */
  assignments: Record<string, string[]>;
}

export interface JobHooks<W> {
  name: (worker: W) => string;
  /** Counts a share on a worker (over HTTP in the cluster). */
  count: (worker: W, documents: string[]) => Promise<Counts>;
  /** A worker failed; its documents go to the others. */
  failed?: (worker: W, documents: string[], err: unknown) => void;
  /** Checked before each round of requests: false stops the job (the caller no longer leads). */
  proceed?: () => boolean;
}

/**
 * Splits the documents over the workers, and a failed worker's share over those left, until every
 * document is counted. Resolves null if it was told to stop or no worker was left.
 *
 *   const outcome = await runJob(['a.txt', 'b.txt'], workers, { name: (w) => w.id, count: countOn });
 */
export async function runJob<W>(documents: readonly string[], workers: readonly W[], hooks: JobHooks<W>): Promise<JobOutcome | null> {
  let pool = [...workers];
  let todo = [...documents];
  const parts: Counts[] = [];
  const assignments: Record<string, string[]> = {};
  while (todo.length > 0) {
    if (pool.length === 0 || hooks.proceed?.() === false) return null;
    const shares = [...split(todo, pool)].filter(([, share]) => share.length > 0);
    todo = [];
    const answers = await Promise.allSettled(shares.map(([w, share]) => hooks.count(w, share)));
    answers.forEach((answer, i) => {
      const [w, share] = shares[i];
      if (answer.status === 'fulfilled') {
        parts.push(answer.value);
        (assignments[hooks.name(w)] ??= []).push(...share);
      } else {
        hooks.failed?.(w, share, answer.reason);
        pool = pool.filter((p) => p !== w);
        todo.push(...share);
      }
    });
  }
  return { counts: mergeCounts(parts), assignments };
}
