import { ElectionError } from './errors.js';

/** `acquire(name, { wait })` gave up: the lock was not ours within `wait` milliseconds. */
export class LockTimeoutError extends ElectionError {
  constructor(
    readonly lock: string,
    readonly waitMs: number,
  ) {
    super(
      `Lock "${lock}" was not acquired within ${waitMs} ms (the "wait" option); ` +
        `nothing of this attempt is left in etcd. Raise "wait", or leave it out to wait as long as it takes.`,
    );
  }
}

/** Why a held lock ended. */
export type LockLossReason =
  /** `release()` (or `await using`, or the end of `withLock`) gave it up. */
  | 'released'
  /** etcd answered a keepalive with TTL 0: the lease was revoked or had expired there. */
  | 'lease-revoked'
  /** No keepalive was acknowledged in time: the local lease deadline passed. */
  | 'session-expired'
  /** Someone deleted the lock's key. */
  | 'key-deleted'
  /** Someone replaced the lock's key (another create revision or lease). */
  | 'key-overwritten'
  /** The application (or the lock owner) shut down. */
  | 'stopped';

/** The reason a lock's `AbortSignal` aborted with. */
export class LockLostError extends ElectionError {
  constructor(
    readonly lock: string,
    readonly reason: LockLossReason,
  ) {
    super(`Lock "${lock}" ended: ${reason}.`);
  }
}

/** The operation needs the lock to be held, and it is not. */
export class LockNotHeldError extends ElectionError {
  constructor(lock: string, what: string) {
    super(`Cannot ${what}: lock "${lock}" is not held (released or lost).`);
  }
}

/** The lock owner shut down: pending acquires reject with this, and no new one starts. */
export class LocksClosedError extends ElectionError {
  constructor() {
    super('The locks of this application are shut down; no lock can be acquired any more.');
  }
}

/** No etcd session could be granted in time (etcd unreachable, or refusing us). */
export class NoSessionError extends ElectionError {
  constructor(
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(
      `No etcd session within ${waitedMs} ms` +
        (cause instanceof Error ? `: ${cause.message}` : '') +
        `. Check that etcd is running and reachable at the configured hosts (ETCD_HOSTS), and its TLS and auth settings.`,
      { cause },
    );
  }
}
