/** A held Go-compatible lock: its key, fencing token, deadline-aware signal and release. */
import type { ComparatorBuilder } from 'etcd3';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { type LockLossReason, LockLostError, LockNotHeldError } from './errors/index.js';
import { publishLockEnded } from './diagnostics/index.js';
import type { Mutex, MutexTicket } from './mutex.js';
import { monotonicNow, sleep } from './rpc.js';
import type { Session, SessionLossReason } from './session.js';
import { deadlineAware } from './term-signal.js';

/** Settings the supervisor gives each {@link Lock}. */
interface LockHooks {
  verifiedAt: string;
  backoff: BackoffOptions;
  unlock(reason: LockLossReason): Promise<void>;
  onEnd(lock: Lock, reason: LockLossReason): void;
  onSettled(): void;
  onError(error: unknown): void;
}

/**
 * A held Go-compatible lock: `<name>/<lease hex>` is the oldest key under `<name>/`. It ends when
 * released, or when lost — lease revoked, session deadline passed, key deleted or overwritten —
 * and its `signal` aborts the moment it ends. `held` and `signal` are checked against the
 * session's lease deadline when read, so after a pause past it they say "lost" before anything
 * else can run.
 */
export class Lock implements AsyncDisposable {
  /** The lock name (etcd prefix `<name>/`). */
  readonly name: string;
  /** This holder's key, `<name>/<lease hex>`. */
  readonly key: string;
  /**
   * The fencing token: the key's create revision (a decimal int64), which only grows from holder
   * to holder. Pass it to the resource you protect, or use {@link guard}.
   */
  readonly fencingToken: string;
  /** The lease id the key is bound to (decimal int64). */
  readonly leaseId: string;

  private readonly controller = new AbortController();
  private readonly abortSignal: AbortSignal;
  private endReason?: LockLossReason;
  private settled?: Promise<void>;
  private readonly offSession: () => void;
  private readonly acquiredAt = monotonicNow();

  /** @internal Created by {@link Locks}. */
  constructor(
    private readonly mutex: Mutex,
    ticket: MutexTicket,
    private readonly session: Session,
    private readonly hooks: LockHooks,
  ) {
    this.name = mutex.name;
    this.key = ticket.key;
    this.fencingToken = ticket.revision;
    this.leaseId = ticket.leaseId;
    this.abortSignal = deadlineAware(this.controller.signal, () => this.session.isAlive());
    this.offSession = session.onLost(reason => void this.end(sessionLoss(reason)));
    if (!this.endReason) void this.watchKey(ticket);
  }

  /**
   * Aborts, with a {@link LockLostError} as reason, the moment the lock ends: released or lost.
   * Reading `aborted` (or calling `throwIfAborted()`) checks the lease deadline first.
   */
  get signal(): AbortSignal {
    return this.abortSignal;
  }

  /** True while the lock is held, checked against the session's lease deadline now. */
  get held(): boolean {
    if (this.endReason) return false;
    return this.session.isAlive() && !this.endReason;
  }

  /** Why the lock ended, or undefined while it is held. */
  get reason(): LockLossReason | undefined {
    void this.held;
    return this.endReason;
  }

  /**
   * Releases the lock: `held` turns false and the signal aborts at once, then the key is deleted
   * (guarded by its create revision; retried until done or the session is gone). Resolves once
   * the next holder may go. Idempotent; after a loss, resolves at once.
   */
  release(): Promise<void> {
    return this.end('released');
  }

  /** `await using lock = await locks.acquire(name)` releases it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.release();
  }

  /**
   * An etcd3 transaction builder guarded by this lock's fencing token: its `then` branch runs only
   * while this key still holds the lock. Throws {@link LockNotHeldError} when not held.
   *
   * @example
   * ```ts
   * const res = await lock.guard().then(client.put('jobs/last').value(id)).commit();
   * if (!res.succeeded) throw new Error('lock lost: write refused');
   * ```
   */
  guard(): ComparatorBuilder {
    if (!this.held) throw new LockNotHeldError(this.name, 'build a fenced transaction');
    return this.mutex.guard({ key: this.key, revision: this.fencingToken });
  }

  /**
   * @internal Ends the lock (synchronously: held, signal), then cleans up in etcd, once `after`
   * (if given) has settled.
   */
  end(reason: LockLossReason, after?: Promise<void>): Promise<void> {
    if (this.settled) return this.settled;
    this.endReason = reason;
    // Delete our key when we give it up, and a foreign value someone put at it (the next lock
    // transaction would take it for our place); a deleted key is gone, a lost lease takes its own.
    // Set before anything below can call back in (a listener releasing the lock it just lost);
    // the cleanup itself starts only after this synchronous part.
    const unlock = reason === 'released' || reason === 'stopped' || reason === 'key-overwritten';
    this.settled = Promise.resolve(after)
      .then(() => (unlock ? this.hooks.unlock(reason) : undefined))
      .finally(() => this.hooks.onSettled());
    this.offSession();
    this.controller.abort(new LockLostError(this.name, reason));
    const heldMs = monotonicNow() - this.acquiredAt;
    publishLockEnded(this.name, this.key, this.fencingToken, heldMs, reason);
    try {
      this.hooks.onEnd(this, reason);
    } catch (error) {
      this.hooks.onError(error);
    }
    return this.settled;
  }

  private async watchKey(ticket: MutexTicket): Promise<void> {
    const signal = this.controller.signal;
    let from: string | undefined = this.hooks.verifiedAt;
    for (let failures = 0; !signal.aborted;) {
      try {
        if (from === undefined) {
          const own = await this.mutex.verify(ticket, signal);
          if (!own.owned) {
            void this.end(own.exists ? 'key-overwritten' : 'key-deleted');
            return;
          }
          from = own.revision;
        }
        const loss = await this.mutex.watchOwnership(ticket, from, signal);
        void this.end(loss);
        return;
      } catch (error) {
        if (signal.aborted) return;
        this.hooks.onError(error);
        from = undefined;
        await sleep(backoffDelay(failures++, this.hooks.backoff), signal).catch(() => undefined);
      }
    }
  }
}

function sessionLoss(reason: SessionLossReason): LockLossReason {
  if (reason === 'revoked') return 'lease-revoked';
  if (reason === 'closed') return 'stopped';
  return 'session-expired';
}
