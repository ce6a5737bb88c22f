/**
 * Deadline-bounded waiting primitives. Every wait in the harness (and in tests using it) has an
 * explicit timeout and fails with an error that says what was being waited for.
 */
import type { EventEmitter } from 'node:events';

/** Error thrown when a harness wait runs out of time. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  /** The timeout that elapsed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(message: string, timeoutMs: number, options?: { cause?: unknown }) {
    super(`${message} (timed out after ${timeoutMs} ms)`, options);
    this.timeoutMs = timeoutMs;
  }
}

/** A value that is "not ready yet" for {@link waitFor}. */
export type NotReady = undefined | null | false;

/** Options for {@link waitFor}. */
export interface WaitForOptions {
  /** Overall deadline in milliseconds. */
  timeout: number;
  /** Pause between probes in milliseconds (default 25). */
  interval?: number;
  /** What is being waited for; used in the timeout error. */
  message: string;
  /** Aborting stops polling and rejects with the abort reason. */
  signal?: AbortSignal;
}

/**
 * Resolves after `ms` milliseconds. For pacing load or spacing actions only — never use it to
 * wait for a condition (use {@link waitFor} instead).
 */
export function delay(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms));
}

/**
 * Polls `probe` until it returns (or resolves to) something other than `undefined`, `null` or
 * `false`, and resolves with that value. A probe that throws counts as "not ready"; the last
 * error is attached as `cause` of the timeout error. A probe that hangs does not extend the
 * deadline. Rejects with a {@link TimeoutError} mentioning `message` after `timeout` ms.
 */
export function waitFor<T>(
  probe: () => T | NotReady | Promise<T | NotReady>,
  options: WaitForOptions,
): Promise<T> {
  const { timeout, interval = 25, message, signal } = options;
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let lastError: unknown;
    let pollTimer: NodeJS.Timeout | undefined;
    const settle = (): void => {
      settled = true;
      clearTimeout(deadlineTimer);
      if (pollTimer) clearTimeout(pollTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      if (settled) return;
      settle();
      reject(
        signal?.reason instanceof Error ? signal.reason : new Error(`waitFor: ${message}: aborted`),
      );
    };
    const deadlineTimer = setTimeout(() => {
      settle();
      reject(
        new TimeoutError(
          `waitFor: ${message}` +
            (lastError ? ` (last probe error: ${errorMessage(lastError)})` : ''),
          timeout,
          { cause: lastError },
        ),
      );
    }, timeout);

    const attempt = async (): Promise<void> => {
      if (settled) return;
      try {
        const value = await probe();
        if (settled) return;
        if (value !== undefined && value !== null && value !== false) {
          settle();
          resolve(value as T);
          return;
        }
      } catch (err) {
        lastError = err;
      }
      if (!settled) pollTimer = setTimeout(() => void attempt(), interval);
    };
    if (signal?.aborted) {
      onAbort();
      return;
    }
    signal?.addEventListener('abort', onAbort, { once: true });
    void attempt();
  });
}

/** Options for {@link once}. */
export interface OnceOptions<A extends unknown[]> {
  /** Deadline in milliseconds. */
  timeout: number;
  /** Only resolve for emissions whose arguments pass this filter. */
  filter?: (...args: A) => boolean;
  /** Used in the timeout error (default: the event name). */
  message?: string;
}

/**
 * Resolves with the arguments of the next `event` emitted by `emitter` (optionally the next one
 * passing `filter`). Rejects with a {@link TimeoutError} after `timeout` ms. Unlike
 * `events.once`, an `'error'` event does not reject unless `event` is `'error'` itself.
 */
export function once<A extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string | symbol,
  options: OnceOptions<A>,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      if (options.filter && !options.filter(...(args as A))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as A);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new TimeoutError(options.message ?? `once: event ${String(event)}`, options.timeout));
    }, options.timeout);
    emitter.on(event, listener);
  });
}

/**
 * Races `promise` against a deadline: resolves/rejects like `promise` if it settles within `ms`,
 * otherwise rejects with a {@link TimeoutError} mentioning `message`. The timer is always cleared.
 */
export function deadline<T>(promise: PromiseLike<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new TimeoutError(message, ms)), ms);
    Promise.resolve(promise).then(
      value => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}

/** Best-effort message of an unknown thrown value. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
