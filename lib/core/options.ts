import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import type { Clock } from './clock.js';
import { ElectionOptionsError } from './errors.js';

/** The largest lease TTL etcd grants (its `MaxLeaseTTL`), in seconds. */
export const MAX_TTL = 9_000_000_000;

/** Settings of a {@link Candidate}. */
export interface CandidateOptions {
  /** The election name, shared with every implementation campaigning on it. */
  election: string;
  /** This node's proposal, proclaimed while it leads. Any UTF-8 string. */
  value: string;
  /**
   * Lease TTL in seconds, from 1 (etcd may raise a small TTL to its minimum lease TTL, about
   * 1.5 × its election timeout) to 9000000000: how long a crashed leader blocks the election.
   * @default 10
   */
  ttl?: number;
  /**
   * Milliseconds by which the local lease deadline precedes the last keepalive's send time +
   * TTL. Covers clock-rate drift and timer lateness. At most TTL minus one keepalive interval
   * (two thirds of the TTL).
   * @default min(max(1000, ttl * 1000 / 5), ttl * 1000 / 2)
   */
  margin?: number;
  /**
   * Time budget of each etcd request, in milliseconds, over every member it is tried on (with
   * several members, an attempt that stalls moves on after a third of it).
   * @default half the TTL, from 1000 to 5000
   */
  requestTimeout?: number;
  /** Retry delays after failures. @default { initial: 100, max: 5000 } */
  backoff?: Partial<BackoffOptions>;
  /**
   * Follow who leads (`leader$`, `Leadership.leader`) with etcd's observe loop.
   * @default true
   */
  observe?: boolean;
  /**
   * Largest request etcd accepts: etcd's `--max-request-bytes`.
   * @default 1572864
   */
  maxRequestBytes?: number;
  /** The clocks the lease deadline is judged by; replace them in tests. @default systemClock */
  clock?: Clock;
}

/** The fully resolved settings of a candidate, after defaults and validation. */
export interface ResolvedCandidateOptions {
  ttl: number;
  margin: number;
  requestTimeout: number;
  backoff: BackoffOptions;
  observe: boolean;
  maxRequestBytes: number;
}

/** The default margin for `ttl`: a fifth of it, at least 1 s, but never over half of it. */
export function defaultMargin(ttl: number): number {
  return Math.min(Math.max(1000, (ttl * 1000) / 5), (ttl * 1000) / 2);
}

/** The default request budget for `ttl`: half of it, from 1 s to 5 s, so a retry fits the TTL. */
export function defaultRequestTimeout(ttl: number): number {
  return Math.min(5000, Math.max(1000, (ttl * 1000) / 2));
}

/**
 * Applies defaults and validates; throws {@link ElectionOptionsError} naming the first bad field.
 */
export function resolveCandidateOptions(options: CandidateOptions): ResolvedCandidateOptions {
  const { election, value } = options;
  if (typeof election !== 'string' || election.length === 0) {
    throw new ElectionOptionsError('election', election, 'a non-empty string');
  }
  if (typeof value !== 'string') {
    throw new ElectionOptionsError('value', value, 'a string (any UTF-8)');
  }
  const ttl = options.ttl ?? 10;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    throw new ElectionOptionsError(
      'ttl',
      ttl,
      `a whole number of seconds from 1 to ${MAX_TTL} (etcd's largest lease TTL)`,
    );
  }
  const margin = options.margin ?? defaultMargin(ttl);
  const keepaliveInterval = (ttl * 1000) / 3;
  if (typeof margin !== 'number' || !(margin >= 0) || margin > ttl * 1000 - keepaliveInterval) {
    throw new ElectionOptionsError(
      'margin',
      margin,
      `milliseconds from 0 to ${Math.floor(ttl * 1000 - keepaliveInterval)} (TTL minus one keepalive interval) for ttl ${ttl}`,
    );
  }
  const requestTimeout = options.requestTimeout ?? defaultRequestTimeout(ttl);
  if (typeof requestTimeout !== 'number' || !(requestTimeout > 0) || !isFinite(requestTimeout)) {
    throw new ElectionOptionsError(
      'requestTimeout',
      requestTimeout,
      'a positive number of milliseconds',
    );
  }
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (typeof backoff.initial !== 'number' || !(backoff.initial > 0)) {
    throw new ElectionOptionsError(
      'backoff.initial',
      backoff.initial,
      'a positive number of milliseconds',
    );
  }
  if (typeof backoff.max !== 'number' || !(backoff.max >= backoff.initial)) {
    throw new ElectionOptionsError(
      'backoff.max',
      backoff.max,
      `milliseconds, at least backoff.initial (${backoff.initial})`,
    );
  }
  const observe = options.observe ?? true;
  if (typeof observe !== 'boolean') {
    throw new ElectionOptionsError('observe', observe, 'true or false');
  }
  const maxRequestBytes = options.maxRequestBytes ?? 1_572_864;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
    throw new ElectionOptionsError(
      'maxRequestBytes',
      maxRequestBytes,
      'a whole number of bytes, at least 1024',
    );
  }
  return { ttl, margin, requestTimeout, backoff, observe, maxRequestBytes };
}
