/** The real clock: Date.now and setTimeout. */
import type { Clock } from './types.ts';

export const realClock: Clock = {
  now: Date.now,
  schedule(delayMs, callback) {
    const timer = setTimeout(callback, delayMs);
    return () => clearTimeout(timer);
  },
};
