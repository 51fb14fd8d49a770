/**
 * The console's Server-Sent Events: one sample of the server's counters and members a second, sent
 * to every open page, and the last two minutes of samples kept to greet a page that opens (its
 * charts start full). Sampling runs only while a page is open: nothing is left running once the
 * admin server closes its connections.
 */
import type { ServerResponse } from 'node:http';
import type { Clock, Scheduler, Timer } from '../../env/environment.ts';

const TICK_MS = 1000;
/** Samples kept: two minutes, as the charts show. */
const HISTORY = 120;
/** A pause longer than this (no page was open) starts the history over: the charts assume a sample a second. */
const GAP_MS = 5000;
export const MAX_STREAMS = 32;

export class LiveFeed {
  private readonly streams = new Set<ServerResponse>();
  private readonly history: Array<{ t: number; json: string }> = [];
  private timer: Timer | null = null;

  constructor(private readonly clock: Clock, private readonly scheduler: Scheduler, private readonly sample: () => object) {}

  get full(): boolean {
    return this.streams.size >= MAX_STREAMS;
  }

  /** `res` (headers written) gets the history, then a sample a second until it closes. */
  open(res: ServerResponse): void {
    const last = this.history.at(-1);
    if (last !== undefined && this.clock.now() - last.t > GAP_MS) this.history.length = 0;
    res.write(`retry: 2000\n\nevent: history\ndata: [${this.history.map((h) => h.json).join(',')}]\n\n`);
    this.streams.add(res);
    res.once('close', () => {
      this.streams.delete(res);
      if (this.streams.size === 0) {
        this.timer?.cancel();
        this.timer = null;
      }
    });
    if (this.timer === null) {
      this.timer = this.scheduler.every(TICK_MS, () => this.tick());
      this.tick();
    } else {
      res.write(this.event(this.now()));
    }
  }

  private now(): string {
    return JSON.stringify({ t: this.clock.now(), ...this.sample() });
  }

  private event(json: string): string {
    return `event: tick\ndata: ${json}\n\n`;
  }

  private tick(): void {
    const json = this.now();
    this.history.push({ t: this.clock.now(), json });
    if (this.history.length > HISTORY) this.history.shift();
    const event = this.event(json);
    for (const res of this.streams) res.write(event);
  }
}
