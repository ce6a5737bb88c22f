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
  return kind === 'auth-failed' || kind === 'permission-denied' || kind === 'tls-rejected'
    ? kind
    : undefined;
}
