/**
 * Ordered delivery to the application, apart from the IO: watch events, state changes and request
 * results reach the application one at a time, in the order the server sent them.
 *
 * Listeners run from a setImmediate, never from the socket's data handler, so a slow or throwing
 * listener does not hold up reading replies or sending pings. Request results resolve promises;
 * when nothing is queued ahead of one it resolves at once (the common case costs nothing), otherwise
 * it waits its turn. Once results have been resolved in a round, the next listener waits for a new
 * round, so the promise continuations of those earlier results run before it.
 */
import type { Logger } from './types.ts';

interface Task {
  run: () => void;
  /** A listener call (true) or a promise settlement (false). */
  listener: boolean;
}

export class Dispatcher {
  private queue: Task[] = [];
  private head = 0;
  private scheduled = false;

  constructor(private readonly logger: Logger) {}

  /** Settles a request's promise in order. */
  result(settle: () => void): void {
    if (this.head === this.queue.length && !this.scheduled) settle();
    else this.push({ run: settle, listener: false });
  }

  /** result(() => resolve(value)), without that closure when nothing is queued (the common case). */
  resolve(resolve: (value: unknown) => void, value: unknown): void {
    if (this.head === this.queue.length && !this.scheduled) resolve(value);
    else this.push({ run: () => resolve(value), listener: false });
  }

  /** Calls a listener in order; an exception it throws is logged and goes no further. */
  listener(call: () => void): void {
    this.push({ run: call, listener: true });
  }

  private push(task: Task): void {
    this.queue.push(task);
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    let settled = false;
    while (this.head < this.queue.length) {
      const task = this.queue[this.head];
      if (task.listener && settled) break;
      this.head++;
      if (task.listener) {
        try {
          const r: unknown = task.run();
          if (r instanceof Promise) r.catch((err: unknown) => this.logger.error({ err }, 'listener rejected'));
        } catch (err) {
          this.logger.error({ err }, 'listener threw');
        }
      } else {
        task.run();
        settled = true;
      }
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else {
      this.schedule();
    }
  };
}
