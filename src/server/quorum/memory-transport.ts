/**
 * Members of an ensemble in one process, connected by an in-memory network: messages are delivered
 * in order, a turn of the event loop later (through the scheduler) or after a latency drawn per
 * message, unless the link between sender and addressee is cut. For tests and the simulator.
 */
import type { Clock, Scheduler } from '../env/environment.ts';
import type { NodeId } from './core/types.ts';
import type { PeerMessage, PeerTransport } from './peer-messages.ts';

export class MemoryNetwork {
  private readonly handlers = new Map<NodeId, (from: NodeId, message: PeerMessage) => void>();
  private readonly cut = new Set<string>();
  private queue: Array<{ from: NodeId; to: NodeId; message: PeerMessage }> = [];
  private scheduled = false;

  /** When each link last delivered, so that a later message never overtakes an earlier one. */
  private readonly lastDelivery = new Map<string, number>();

  /** `latency`: milliseconds a message takes (with the clock it is measured on); none by default. */
  constructor(private readonly scheduler: Scheduler, private readonly latency?: { clock: Clock; ms: () => number }) {}

  /** The transport of member `id`. */
  join(id: NodeId): PeerTransport {
    return {
      send: (to, message) => this.send(id, to, message),
      onMessage: (handler) => void this.handlers.set(id, handler),
      close: async () => void this.handlers.delete(id),
    };
  }

  /** Messages from `a` to `b` are lost (and the other way unless `oneWay`). */
  cutLink(a: NodeId, b: NodeId, oneWay = false): void {
    this.cut.add(`${a}>${b}`);
    if (!oneWay) this.cut.add(`${b}>${a}`);
  }

  /** Every link of member `id` is cut. */
  isolate(id: NodeId, others: readonly NodeId[]): void {
    for (const other of others) if (other !== id) this.cutLink(id, other);
  }

  heal(): void {
    this.cut.clear();
  }

  private send(from: NodeId, to: NodeId, message: PeerMessage): void {
    const link = `${from}>${to}`;
    if (this.cut.has(link)) return;
    if (this.latency !== undefined) {
      const now = this.latency.clock.monotonic();
      const at = Math.max(now + this.latency.ms(), this.lastDelivery.get(link) ?? 0);
      this.lastDelivery.set(link, at);
      this.scheduler.after(at - now, () => {
        if (!this.cut.has(link)) this.handlers.get(to)?.(from, message);
      });
      return;
    }
    this.queue.push({ from, to, message });
    if (this.scheduled) return;
    this.scheduled = true;
    this.scheduler.soon(() => this.deliver());
  }

  private deliver(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const { from, to, message } of batch) {
      if (!this.cut.has(`${from}>${to}`)) this.handlers.get(to)?.(from, message);
    }
  }
}
