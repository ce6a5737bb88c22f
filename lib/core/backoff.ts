/** Exponential backoff settings for reconnecting and re-campaigning. */
export interface BackoffOptions {
  /**
   * First retry delay in milliseconds.
   * @default 100
   */
  initial: number;
  /**
   * Largest delay in milliseconds.
   * @default 5000
   */
  max: number;
}

/** The defaults of {@link BackoffOptions}. */
export const DEFAULT_BACKOFF: BackoffOptions = { initial: 100, max: 5000 };

/**
 * Delay before retry number `attempt` (0 = the first failure): "full jitter" exponential
 * backoff, uniform in [base/2, base] where base = min(max, initial * 2^attempt), so that
 * replicas that failed together do not retry together.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.max, options.initial * 2 ** Math.min(attempt, 30));
  return Math.round(base / 2 + (random() * base) / 2);
}
