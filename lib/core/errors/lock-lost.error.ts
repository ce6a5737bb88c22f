/** Why a held lock ended, and the reason its signal carries. */
import { ElectionError } from './election.error.js';

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
