/**
 * The well-behaved client of the abuse bench: one session doing getData and setData of a small
 * znode, one request at a time, for as long as it runs. Each latency goes to the phase it ended in;
 * a request still waiting when a phase ends counts with its wait so far, so a stall shows even if
 * it outlasts the phase. It also counts what would mean loss: an error, a lost connection, and
 * (check()) the znode's version against the writes acknowledged.
 */
import { dataReplyVersion, getDataBody, Op, setDataBody, WireSession } from './abuse-wire.ts';
import { percentile } from './stats.ts';

export const PROBE_PATH = '/abuse-probe';

export interface PhaseStats {
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export class Probe {
  private phase: number[] = [];
  private sentAt = 0;
  private running = true;
  private loop: Promise<void> = Promise.resolve();
  acknowledgedWrites = 0;
  errors = 0;
  /** Why the probe's session ended, if it did. */
  lost: string | null = null;

  private constructor(private readonly session: WireSession) {}

  static async start(host: string, port: number): Promise<Probe> {
    const probe = new Probe(await WireSession.open(host, port, 30_000));
    probe.loop = probe.run();
    return probe;
  }

  private async run(): Promise<void> {
    const data = Buffer.from('probe-value');
    const get = getDataBody(PROBE_PATH);
    const set = setDataBody(PROBE_PATH, data);
    for (let i = 0; this.running; i++) {
      const isWrite = i % 2 === 1;
      this.sentAt = performance.now();
      try {
        const reply = await this.session.request(isWrite ? Op.setData : Op.getData, isWrite ? set : get);
        if (reply.err !== 0) this.errors++;
        else if (isWrite) this.acknowledgedWrites++;
      } catch (err) {
        this.lost = (err as Error).message;
        return;
      } finally {
        this.phase.push(performance.now() - this.sentAt);
        this.sentAt = 0;
      }
    }
  }

  /** The latencies since the last call (or the start), and a new phase begins. */
  endPhase(): PhaseStats {
    const latencies = this.phase;
    if (this.sentAt !== 0) latencies.push(performance.now() - this.sentAt);
    this.phase = [];
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      p50Ms: percentile(latencies, 0.5),
      p99Ms: percentile(latencies, 0.99),
      maxMs: latencies.length > 0 ? latencies[latencies.length - 1] : NaN,
    };
  }

  /** Stops the loop; returns the znode's version (null when it cannot be read), then closes. */
  async stop(): Promise<number | null> {
    this.running = false;
    await this.loop;
    let version: number | null = null;
    if (this.lost === null) {
      const reply = await this.session.request(Op.getData, getDataBody(PROBE_PATH)).catch(() => null);
      if (reply !== null && reply.err === 0) version = dataReplyVersion(reply.body);
    }
    this.session.destroy();
    return version;
  }
}
