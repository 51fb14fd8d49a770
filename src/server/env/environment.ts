/**
 * What the server takes from the world: time, timers and randomness. The real world is in
 * `real.ts`; the simulator passes a virtual one. Nothing else under src/server reads a clock,
 * starts a timer or draws a random number on its own (the lint rule enforces it).
 */

export interface Clock {
  /** Wall-clock milliseconds since the epoch (znode ctime/mtime, session id seeds). */
  now(): number;
  /** Monotonic milliseconds with a fractional part, for durations and deadlines. */
  monotonic(): number;
}

/** A timer that can be cancelled; `unref` lets the process exit while it is pending. */
export interface Timer {
  cancel(): void;
}

export interface Scheduler {
  /** Run `fn` once after `ms` milliseconds. Timers never keep the process alive. */
  after(ms: number, fn: () => void): Timer;
  /** Run `fn` every `ms` milliseconds. */
  every(ms: number, fn: () => void): Timer;
  /** Run `fn` after the IO of the current turn (setImmediate). */
  soon(fn: () => void): void;
}

export interface Random {
  /** A float in [0, 1). */
  float(): number;
  /** Random bytes (secrets, salts). */
  bytes(n: number): Buffer;
}

export interface Environment {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly random: Random;
}
