/** The real clock and timers. */
import type { Clock, Scheduler } from './types.ts';

export const realClock: Clock = { now: Date.now };

export const realScheduler: Scheduler = {
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    return { cancel: () => clearTimeout(timer) };
  },
  every(ms, fn) {
    const timer = setInterval(fn, ms);
    return { cancel: () => clearInterval(timer) };
  },
};
