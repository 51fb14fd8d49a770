/**
 * Exponential backoff with jitter: the pause doubles from baseDelayMs up to maxDelayMs, and each
 * pause is drawn from its upper half so that many clients that failed together do not retry in step.
 */
import type { RetryPolicy } from './types.ts';

/** The pause before retry number `attempt` (0 for the first). */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  // The exponent stops growing long before 2 ** attempt is Infinity (and 0 * Infinity is NaN).
  const ceilingMs = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt, 32));
  return ceilingMs / 2 + random() * (ceilingMs / 2);
}

/** Counts failed attempts in a row; success starts the pauses from the base again. */
export class Backoff {
  private attempt = 0;

  constructor(private readonly policy: RetryPolicy, private readonly random: () => number = Math.random) {}

  nextDelayMs(): number {
    return backoffDelayMs(this.policy, this.attempt++, this.random);
  }

  reset(): void {
    this.attempt = 0;
  }
}
