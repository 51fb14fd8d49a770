/**
 * A virtual world for the simulator: a clock that moves only when the next event runs, timers in a
 * queue ordered by (time, order of scheduling), and a seeded random source. One seed, one run.
 */
import { prng } from '../support/prng.ts';
import type { Environment, Random, Scheduler, Timer } from '../../src/server/env/environment.ts';

/** The project's seeded generator, with the draws the simulator makes. */
export class SeededRandom implements Random {
  private readonly next: () => number;

  constructor(seed: number) {
    this.next = prng(seed);
  }

  float(): number {
    return this.next();
  }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(this.next() * 256);
    return b;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
}

interface Event {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A binary heap of events, earliest first, ties in the order they were scheduled. */
class EventQueue {
  private readonly heap: Event[] = [];

  get size(): number {
    return this.heap.length;
  }

  peek(): Event | undefined {
    return this.heap[0];
  }

  push(e: Event): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!before(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last !== undefined) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && before(h[l], h[m])) m = l;
        if (r < h.length && before(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

const before = (x: Event, y: Event): boolean => x.at < y.at || (x.at === y.at && x.seq < y.seq);

/** Wall-clock time at virtual time 0 (znodes' ctime and session ids start here). */
const EPOCH_MS = 1_767_225_600_000;

export class VirtualWorld implements Environment {
  readonly random: SeededRandom;
  readonly clock: { now(): number; monotonic(): number };
  readonly scheduler: Scheduler;
  private time = 0;
  private seq = 0;
  private readonly queue = new EventQueue();
  /** Events run so far. */
  steps = 0;
  /** Set by stop(): runUntil returns at once (a violation was found; what follows would only cascade). */
  private stopped = false;

  constructor(seed: number) {
    this.random = new SeededRandom(seed);
    this.clock = { now: () => EPOCH_MS + Math.floor(this.time), monotonic: () => this.time };
    this.scheduler = {
      after: (ms, fn) => this.at(this.time + Math.max(0, ms), fn),
      every: (ms, fn) => {
        let current: Timer;
        const again = (): void => {
          current = this.at(this.time + ms, again);
          fn();
        };
        current = this.at(this.time + ms, again);
        return { cancel: () => current.cancel() };
      },
      soon: (fn) => void this.at(this.time, fn),
    };
  }

  stop(): void {
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Virtual milliseconds since the start. */
  get now(): number {
    return this.time;
  }

  at(time: number, fn: () => void): Timer {
    const e: Event = { at: time, seq: this.seq++, fn, cancelled: false };
    this.queue.push(e);
    return { cancel: () => { e.cancelled = true; } };
  }

  /**
   * Run events in order until virtual time `until`. Between events, what the real event loop has
   * queued (promise continuations, the client library's setImmediate turns) runs to completion:
   * no real timer or IO is involved, so that too is the same on every run.
   */
  async runUntil(until: number): Promise<void> {
    while (!this.stopped) {
      const next = this.queue.peek();
      if (next === undefined || next.at > until) break;
      this.queue.pop();
      if (next.cancelled) continue;
      this.time = next.at;
      this.steps++;
      next.fn();
      await settle();
    }
    this.time = Math.max(this.time, until);
  }
}

/**
 * Run the world until `promise` settles (it must, within `limitMs` of virtual time): awaiting a
 * promise of the simulated code directly would wait forever, since only the world moves it on.
 */
export async function runUntilSettled<T>(world: VirtualWorld, promise: Promise<T>, limitMs: number): Promise<T> {
  let done = false;
  const watched = promise.finally(() => { done = true; });
  watched.catch(() => {});
  const limit = world.now + limitMs;
  while (!done && world.now < limit && !world.isStopped) await world.runUntil(Math.min(limit, world.now + 10));
  if (!done) throw new Error(`not settled within ${limitMs} ms of virtual time`);
  return watched;
}

/** Let real microtasks and immediates queued by the last event run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/**
 * One member's view of the world: its own clock, off by `offsetMs` and running `rate` times as fast
 * as virtual time (its timers too), and a process that can be paused (SIGSTOP): what it would run
 * meanwhile, timers and arriving messages alike, waits and runs in order once it is resumed, late.
 * Killed, it runs nothing more.
 */
export class MemberEnv implements Environment {
  readonly clock: { now(): number; monotonic(): number };
  readonly scheduler: Scheduler;
  private pausedUntil = -1;
  private waiting: Array<() => void> = [];
  private dead = false;

  constructor(private readonly world: VirtualWorld, offsetMs: number, rate: number) {
    const local = (): number => offsetMs + world.now * rate;
    this.clock = { now: () => EPOCH_MS + Math.floor(local()), monotonic: local };
    const after = (ms: number, fn: () => void): Timer => {
      let cancelled = false;
      const t = world.scheduler.after(ms / rate, () => this.run(() => { if (!cancelled) fn(); }));
      return { cancel: () => { cancelled = true; t.cancel(); } };
    };
    this.scheduler = {
      after,
      every: (ms, fn) => {
        // As a process's interval timer: once late after a pause, then on from there.
        let current: Timer;
        const again = (): void => {
          current = after(ms, again);
          fn();
        };
        current = after(ms, again);
        return { cancel: () => current.cancel() };
      },
      soon: (fn) => world.scheduler.soon(() => this.run(fn)),
    };
  }

  get random(): SeededRandom {
    return this.world.random;
  }

  get paused(): boolean {
    return this.world.now < this.pausedUntil;
  }

  /** Runs `fn` now, or when the pause ends. */
  run(fn: () => void): void {
    if (this.dead) return;
    if (this.paused) this.waiting.push(fn);
    else fn();
  }

  /** Nothing runs until `ms` from now (or the end of a longer pause); then everything that waited, in order. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.world.now + ms);
    this.world.at(this.pausedUntil, () => {
      const waiting = this.waiting;
      this.waiting = [];
      for (const fn of waiting) this.run(fn);
    });
  }

  kill(): void {
    this.dead = true;
    this.waiting = [];
  }
}
