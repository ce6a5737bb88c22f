/** The one taxonomy of etcd failures: the engine's retry choices, diagnostics and messages. */
import {
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdWatchStreamEnded,
  GRPCCancelledError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import { WatchInterruptedError } from './watch-interrupted.error.js';

/** How an etcd failure looks to the engine, from the error a request or stream gave. */
export type EtcdFailureKind =
  /** Wrong user name or password (etcd auth). */
  | 'auth-failed'
  /** The user may not read or write the election's keys (etcd RBAC). */
  | 'permission-denied'
  /** The TLS handshake failed: wrong CA, expired or mismatched certificate, TLS on one side only. */
  | 'tls-rejected'
  /** The member answered that it has no raft leader (cut off from its peers, or an election). */
  | 'no-leader'
  /** Nothing answered in time. */
  | 'timeout'
  /** No connection could be made (nothing listens, host unknown, connection reset). */
  | 'unreachable'
  /** Anything else etcd said. */
  | 'other';

/** The failures that retrying soon cannot cure: etcd refuses this node until someone acts. */
export type EtcdRefusal = Extract<
  EtcdFailureKind,
  'auth-failed' | 'permission-denied' | 'tls-rejected'
>;

/** What kind of etcd error an `EtcdErrorEvent` (and the metrics' `kind` label) reports. */
export type EtcdErrorKind =
  | 'unavailable'
  | 'deadline-exceeded'
  | 'auth-failed'
  | 'permission-denied'
  | 'tls-rejected'
  | 'no-leader'
  | 'lease-not-found'
  | 'watch-interrupted'
  | 'cancelled'
  | 'other';

const PATTERNS: Array<[EtcdFailureKind, RegExp]> = [
  ['auth-failed', /authentication failed|invalid user ID or password|user name not found/i],
  ['permission-denied', /permission denied|role is not granted/i],
  [
    'tls-rejected',
    /certificate|\bSSL\b|\bTLS\b|handshake|self[- ]signed|ERR_SSL|wrong version number|unable to verify/i,
  ],
  ['no-leader', /no leader/i],
  ['timeout', /DEADLINE_EXCEEDED|deadline exceeded|timed out|Waiting for LB pick/i],
  [
    'unreachable',
    /UNAVAILABLE|ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|No connection established|Connection dropped/i,
  ],
];

/** Classifies an error from etcd3 or gRPC by its class name and message. */
export function classifyEtcdError(error: unknown): EtcdFailureKind {
  const text =
    error instanceof Error ? `${error.name}: ${error.message}` : String(error ?? 'unknown error');
  if (/EtcdAuthenticationFailedError|EtcdUserNotFoundError/.test(text)) return 'auth-failed';
  if (/EtcdPermissionDeniedError|EtcdRoleNotGrantedError/.test(text)) return 'permission-denied';
  for (const [kind, pattern] of PATTERNS) if (pattern.test(text)) return kind;
  return 'other';
}

/** The refusal `error` stands for, or undefined when retrying may well succeed. */
export function refusalOf(error: unknown): EtcdRefusal | undefined {
  const kind = classifyEtcdError(error);
  return isRefusal(kind) ? kind : undefined;
}

/** True for the kinds (and leadership reasons) that are refusals. */
export function isRefusal(kind: string): kind is EtcdRefusal {
  return kind === 'auth-failed' || kind === 'permission-denied' || kind === 'tls-rejected';
}

/** True when etcd says the lease is gone already (revoked, or expired there). */
export function isLeaseNotFound(error: unknown): boolean {
  return (
    error instanceof EtcdLeaseInvalidError ||
    /requested lease not found|lease not found/i.test(String((error as Error)?.message))
  );
}

/** Sorts an error the engine met into a stable {@link EtcdErrorKind}. */
export function etcdErrorKind(error: unknown): EtcdErrorKind {
  if (error instanceof EtcdInvalidAuthTokenError || error instanceof GRPCUnauthenticatedError)
    return 'auth-failed';
  if (error instanceof EtcdLeaseInvalidError) return 'lease-not-found';
  if (error instanceof WatchInterruptedError || error instanceof EtcdWatchStreamEnded)
    return 'watch-interrupted';
  if (error instanceof GRPCCancelledError) return 'cancelled';
  return KIND_OF_FAILURE[classifyEtcdError(error)];
}

const KIND_OF_FAILURE: Record<EtcdFailureKind, EtcdErrorKind> = {
  'auth-failed': 'auth-failed',
  'permission-denied': 'permission-denied',
  'tls-rejected': 'tls-rejected',
  'no-leader': 'no-leader',
  timeout: 'deadline-exceeded',
  unreachable: 'unavailable',
  other: 'other',
};

const SOCKET_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ECONNRESET: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ETIMEDOUT: 'connection timed out',
};

/** The root cause an error from etcd3 or gRPC carries, in a few plain words. */
export function etcdFailureCause(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const code = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ECONNRESET|EHOSTUNREACH|ETIMEDOUT)\b/.exec(
    text,
  );
  if (code) return SOCKET_ERRORS[code[1]];
  const etcd = /etcdserver: ([^.;\n]+)/.exec(text);
  if (etcd) return etcd[1];
  return text
    .replace(/^\d+ [A-Z_]+: /, '')
    .replace(/\s+Resolution note:.*$/s, '')
    .slice(0, 120);
}
