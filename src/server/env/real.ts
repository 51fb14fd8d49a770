/** The real environment: the one module under src/server that touches the clock, timers and randomness. */
import { randomBytes } from 'node:crypto';
import type { Environment, Timer } from './environment.ts';

function unrefTimer(t: NodeJS.Timeout, clear: (t: NodeJS.Timeout) => void): Timer {
  t.unref();
  return { cancel: () => clear(t) };
}

export const realEnvironment: Environment = {
  clock: {
    // The functions themselves, not wrappers: they are read on every request.
    now: Date.now,
    monotonic: performance.now.bind(performance),
  },
  scheduler: {
    after: (ms, fn) => unrefTimer(setTimeout(fn, ms), clearTimeout),
    every: (ms, fn) => unrefTimer(setInterval(fn, ms), clearInterval),
    soon: (fn) => void setImmediate(fn),
  },
  random: {
    float: () => Math.random(),
    bytes: (n) => randomBytes(n),
  },
};
