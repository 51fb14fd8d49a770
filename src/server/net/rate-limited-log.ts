/**
 * Warnings about events that may come by the thousand (a limit reached by a flood of connections or
 * requests): the first is logged at once, the next ones with the same key are only counted until
 * `intervalMs` has passed, and the first line after that says how many were not logged.
 */
import type { Clock } from '../env/environment.ts';

export interface WarnLog {
  warn(obj: object, msg: string): void;
}

/** The interval when none is given: one line per key every 10 s at most. */
export const DEFAULT_LOG_INTERVAL_MS = 10_000;

export class RateLimitedLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();

  constructor(private readonly log: WarnLog, private readonly clock: Clock, readonly intervalMs = DEFAULT_LOG_INTERVAL_MS) {}

  /** Logs `msg` with `fields`, unless a line with this key was logged less than `intervalMs` ago. */
  warn(key: string, fields: object, msg: string): void {
    const now = this.clock.monotonic();
    const previous = this.last.get(key);
    if (previous !== undefined && now - previous.atMs < this.intervalMs) {
      previous.suppressed++;
      return;
    }
    this.last.set(key, { atMs: now, suppressed: 0 });
    const suppressed = previous?.suppressed ?? 0;
    this.log.warn(suppressed === 0 ? fields : { ...fields, notLogged: suppressed }, msg);
  }
}
