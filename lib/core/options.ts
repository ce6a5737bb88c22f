/** The engine's settings: defaults and validation, once, into the type every primitive takes. */
import { type BackoffOptions, DEFAULT_BACKOFF } from './backoff.js';
import { type Clock, systemClock } from './clock.js';
import { ElectionOptionsError } from './errors/index.js';

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

/** The settings every session of one connection shares, as {@link CandidateOptions} takes them. */
export type SessionSettingsOptions = Pick<
  CandidateOptions,
  'ttl' | 'margin' | 'requestTimeout' | 'backoff' | 'clock'
>;

/**
 * The lease settings after defaults and validation: what `Session`, `Sessions`, `Candidate` and
 * `Locks` take as they are (none of them checks or defaults a setting again).
 */
export interface SessionSettings {
  /** Lease TTL in seconds. */
  ttl: number;
  /** Milliseconds the local lease deadline precedes the last keepalive's send time + TTL. */
  margin: number;
  /** Time budget of each etcd request, in milliseconds. */
  requestTimeout: number;
  /** Retry delays after failures. */
  backoff: BackoffOptions;
  /** The clocks lease deadlines are judged by. */
  clock: Clock;
}

/** The fully resolved settings of a candidate (and of a connection's jobs and locks). */
export interface ResolvedCandidateOptions extends SessionSettings {
  /** Follow who leads with etcd's observe loop. */
  observe: boolean;
  /** Largest request etcd accepts, in bytes. */
  maxRequestBytes: number;
}

/** How often a lease of `ttl` seconds is kept alive, in milliseconds: three times per TTL. */
export function keepaliveInterval(ttl: number): number {
  return (ttl * 1000) / 3;
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
  checkIdentity(options.election, options.value);
  return resolveEngineOptions(options);
}

/** Checks an election name and a candidate's value (any UTF-8 string). */
export function checkIdentity(election: unknown, value: unknown): void {
  if (typeof election !== 'string' || election.length === 0) {
    throw new ElectionOptionsError('election', election, 'a non-empty string');
  }
  if (typeof value !== 'string') {
    throw new ElectionOptionsError('value', value, 'a string (any UTF-8)');
  }
}

/** The lease settings of `options`, with defaults, validated. */
export function resolveSessionSettings(options: SessionSettingsOptions = {}): SessionSettings {
  const { ttl, margin, requestTimeout, backoff, clock } = resolveEngineOptions(options);
  return { ttl, margin, requestTimeout, backoff, clock };
}

/** Every setting of `options` but the election and the value, with defaults, validated. */
export function resolveEngineOptions(
  options: Omit<CandidateOptions, 'election' | 'value'>,
): ResolvedCandidateOptions {
  const ttl = options.ttl ?? 10;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL) {
    throw new ElectionOptionsError(
      'ttl',
      ttl,
      `a whole number of seconds from 1 to ${MAX_TTL} (etcd's largest lease TTL)`,
    );
  }
  const margin = options.margin ?? defaultMargin(ttl);
  const interval = keepaliveInterval(ttl);
  if (typeof margin !== 'number' || !(margin >= 0) || margin > ttl * 1000 - interval) {
    throw new ElectionOptionsError(
      'margin',
      margin,
      `milliseconds from 0 to ${Math.floor(ttl * 1000 - interval)} (TTL minus one keepalive interval) for ttl ${ttl}`,
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
  const clock = options.clock ?? systemClock;
  return { ttl, margin, requestTimeout, backoff, clock, observe, maxRequestBytes };
}
