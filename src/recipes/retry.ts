/**
 * Curator's RetryLoop: an operation that failed because the connection dropped is tried again once
 * the client has reconnected (the client re-sends nothing by itself). Only connection loss and
 * operation timeouts are retried; every other error, and the end of the session, goes to the caller.
 *
 *   const stat = await retrying(() => zk.setData('/config', data), { signal });
 */
import { ConnectionLossError, OperationTimeoutError } from '../client/index.ts';

export interface RetryOptions {
  /** Attempts after the first. Default 10. */
  retries?: number;
  /** First pause; it doubles (with jitter) up to maxDelayMs. Default 50. */
  baseDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
}

export function isRetryable(err: unknown): boolean {
  return err instanceof ConnectionLossError || err instanceof OperationTimeoutError;
}

export async function retrying<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { retries = 10, baseDelayMs = 50, maxDelayMs = 2000, signal } = options;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await operation();
    } catch (err) {
      if (!isRetryable(err) || attempt >= retries) throw err;
      const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
      await sleep(delayMs / 2 + Math.random() * (delayMs / 2), signal);
    }
  }
}

/** A pause that an AbortSignal ends early (rejecting with the signal's reason). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
