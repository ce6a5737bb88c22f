/** The one loop that retries a write on a session's keys while that session lives. */
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { sleep } from './rpc.js';
import type { Session } from './session.js';

/** How {@link retryWhileAlive} paces and ends its attempts. */
export interface RetryWhileAliveOptions {
  /** Delays between attempts. */
  backoff: BackoffOptions;
  /** Called with each failed attempt's error, for logging. */
  onError?(error: unknown): void;
  /** Aborting ends the retries (and the attempt in flight) at once. */
  signal?: AbortSignal;
  /** True for an error after which retrying is pointless (etcd refuses us, shutting down). */
  giveUp?(error: unknown): boolean;
}

/**
 * Runs `attempt` until it succeeds, retrying with backoff while `session` is alive. A key on the
 * session's lease needs no retry once the session is lost: the lease, and the key with it, goes.
 * The attempt's signal aborts when the session is lost or `options.signal` aborts. Never rejects.
 */
export async function retryWhileAlive(
  session: Session,
  attempt: (signal: AbortSignal) => Promise<unknown>,
  options: RetryWhileAliveOptions,
): Promise<void> {
  const gone = new AbortController();
  const off = session.onLost(reason => gone.abort(reason));
  const signal = options.signal ? AbortSignal.any([gone.signal, options.signal]) : gone.signal;
  try {
    for (let failures = 0; session.isAlive() && !signal.aborted; failures++) {
      try {
        await attempt(signal);
        return;
      } catch (error) {
        if (signal.aborted) return;
        options.onError?.(error);
        if (options.giveUp?.(error)) return;
      }
      await sleep(backoffDelay(failures, options.backoff), signal).catch(() => undefined);
    }
  } finally {
    off();
  }
}
