/** The supervisor of one application's locks: local queues, etcd's queue, holds and releases. */
import { type BackoffOptions, backoffDelay } from './backoff.js';
import {
  ElectionOptionsError,
  type LockLossReason,
  LockTimeoutError,
  LocksClosedError,
  NoSessionError,
} from './errors/index.js';
import { publishLockAcquired } from './diagnostics/index.js';
import { LocalQueue } from './local-queue.js';
import { Lock } from './lock.js';
import { Mutex, type MutexEntry, type MutexTicket } from './mutex.js';
import { type RetryWhileAliveOptions, retryWhileAlive } from './retry.js';
import { monotonicNow, sleep } from './rpc.js';
import type { Session } from './session.js';
import type { Sessions } from './sessions.js';

/** How long {@link Locks.acquire} may wait, and when to give up. */
export interface AcquireOptions {
  /**
   * Milliseconds to wait for the lock (in this process's queue, for a session, and in etcd's
   * queue), then reject with {@link LockTimeoutError}. Omitted: wait as long as it takes.
   */
  wait?: number;
  /** Aborting gives up at once: rejects with the signal's reason, leaving nothing in etcd. */
  signal?: AbortSignal;
}

/**
 * Hooks of {@link Locks}. The request timeout and the retry delays are those of its
 * {@link Sessions}.
 */
export interface LocksOptions {
  /** Called synchronously when a held lock is lost (not when released or stopped). */
  onLost?(lock: Lock, reason: LockLossReason): void;
  /** Called with each etcd error the supervisor recovered from, for logging. */
  onError?(error: unknown): void;
}

/** Counters of {@link Locks} since creation. */
export interface LocksStats {
  /** Locks acquired. */
  acquired: number;
  /** Locks released by their holder. */
  released: number;
  /** Locks lost while held (lease, session deadline, key deleted or overwritten). */
  lost: number;
  /** Acquires that ran out of `wait`. */
  timeouts: number;
  /** Times a waiter's predecessor went away: one per release it waited behind. */
  wakeups: number;
  /** Watch events delivered to waits on predecessors. */
  waitWatchEvents: number;
}

/**
 * The Go-compatible locks of one application, on its shared session. One lease means one key per
 * name per process, so acquires of the same name in this process queue up locally, first come
 * first served, in front of etcd's queue: mutual exclusion holds inside the process as well as
 * across processes (Go's `Mutex` on a shared session would let both in).
 */
export class Locks {
  /** Counters since creation. */
  readonly stats: LocksStats = {
    acquired: 0,
    released: 0,
    lost: 0,
    timeouts: 0,
    wakeups: 0,
    waitWatchEvents: 0,
  };

  private readonly requestTimeout: number;
  private readonly backoff: BackoffOptions;
  private readonly retrying: RetryWhileAliveOptions;
  private readonly queues = new Map<string, LocalQueue>();
  private readonly heldLocks = new Set<Lock>();
  private readonly closeController = new AbortController();
  private closed?: Promise<void>;

  constructor(
    /** The session owner every lock's key is bound to. */
    readonly sessions: Sessions,
    private readonly options: LocksOptions = {},
  ) {
    this.requestTimeout = sessions.settings.requestTimeout;
    this.backoff = sessions.settings.backoff;
    // Once closing, a failed unlock is not retried: see unlockUntilDone.
    this.retrying = {
      backoff: this.backoff,
      onError: error => this.options.onError?.(error),
      giveUp: () => this.closeController.signal.aborted,
    };
  }

  /** True while some lock is held, or some acquire is waiting, in this process. */
  get busy(): boolean {
    return this.queues.size > 0;
  }

  /** The locks this process holds now. */
  held(): Lock[] {
    return [...this.heldLocks].filter(lock => lock.held);
  }

  /**
   * Waits for lock `name` (an etcd prefix, as `etcdctl lock NAME` takes it) and resolves with it
   * held. Survives etcd errors and session losses while waiting (re-queueing with a new session).
   * Rejects with {@link LockTimeoutError} after `wait` ms, or with the signal's reason on abort;
   * either way nothing of the attempt stays in etcd.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<Lock> {
    checkName(name);
    const startedAt = monotonicNow();
    const { wait, signal: userSignal } = options;
    if (wait !== undefined && (typeof wait !== 'number' || !(wait >= 0) || !isFinite(wait))) {
      throw new ElectionOptionsError('wait', wait, 'a number of milliseconds, 0 or more', 'lock');
    }
    if (wait === 0) {
      // Nothing can be waited for in 0 ms: ask once, as tryAcquire does.
      const lock = await this.tryAcquire(name, { signal: userSignal });
      if (lock) return lock;
      this.stats.timeouts++;
      throw new LockTimeoutError(name, 0);
    }
    const timeout = new AbortController();
    const timer =
      wait === undefined
        ? undefined
        : setTimeout(() => timeout.abort(new LockTimeoutError(name, wait)), wait);
    const signal = AbortSignal.any(
      [timeout.signal, this.closeController.signal, userSignal].filter(s => s !== undefined),
    );
    try {
      const queue = this.queueOf(name);
      await queue.enter(signal);
      try {
        return await this.lockInEtcd(name, queue, signal, startedAt);
      } catch (error) {
        queue.leave();
        throw error;
      }
    } catch (error) {
      if (timeout.signal.aborted && error === timeout.signal.reason) this.stats.timeouts++;
      throw error;
    } finally {
      clearTimeout(timer);
      this.dropQueueIfIdle(name);
    }
  }

  /**
   * Go's `TryLock`: resolves with the lock if it is free now, else undefined, leaving no key
   * behind. Held by this process already counts as not free. Rejects on etcd errors, and with
   * {@link NoSessionError} when no session can be had within the request timeout.
   */
  async tryAcquire(
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Lock | undefined> {
    checkName(name);
    const startedAt = monotonicNow();
    const queue = this.queueOf(name);
    if (!queue.tryEnter()) return undefined;
    const signal = AbortSignal.any(
      [this.closeController.signal, options.signal].filter(s => s !== undefined),
    );
    let handedOver = false;
    try {
      const session = await this.sessionWithin(this.requestTimeout, signal);
      const mutex = this.mutex(name);
      const pending = mutex.tryLock(session.leaseId);
      const entry = await settleWithin(pending, signal, async () => {
        const late = await pending.catch(() => undefined);
        if (late) await this.unlockUntilDone(mutex, late.ticket, session);
      });
      if (!entry) return undefined;
      if (!session.isAlive()) {
        await this.unlockUntilDone(mutex, entry.ticket, session);
        return undefined;
      }
      handedOver = true;
      return this.hold(mutex, entry.ticket, entry.revision, session, queue, startedAt);
    } finally {
      if (!handedOver) queue.leave();
      this.dropQueueIfIdle(name);
    }
  }

  /**
   * Gives up for good: pending acquires reject, held locks end (`stopped`: `held` false, signal
   * aborted) at once, but keep their keys, so that no other process starts, while `drain`
   * (bound it yourself) awaits the work they guarded; then the keys are deleted. Does not close
   * the sessions. Idempotent.
   */
  close(options: { drain?: () => Promise<void> } = {}): Promise<void> {
    this.closed ??= (async () => {
      this.closeController.abort(new LocksClosedError());
      const held = [...this.heldLocks];
      let drained: Promise<void> | undefined;
      if (options.drain && held.length > 0) {
        drained = Promise.resolve()
          .then(options.drain)
          .catch(error => this.options.onError?.(error));
      }
      await Promise.allSettled(held.map(lock => lock.end('stopped', drained)));
    })();
    return this.closed;
  }

  private async lockInEtcd(
    name: string,
    queue: LocalQueue,
    signal: AbortSignal,
    startedAt: number,
  ): Promise<Lock> {
    const mutex = this.mutex(name);
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      const session = await this.sessions.get(signal);
      const lost = new AbortController();
      const off = session.onLost(reason => lost.abort(reason));
      const attempt = AbortSignal.any([signal, lost.signal]);
      let ticket: MutexTicket | undefined;
      try {
        const pending = mutex.enqueue(session.leaseId);
        const entry: MutexEntry = await settleWithin(pending, attempt, async () => {
          const late = await pending.catch(() => undefined);
          if (late && !lost.signal.aborted) {
            await this.unlockUntilDone(mutex, late.ticket, session);
          }
        });
        ticket = entry.ticket;
        let verifiedAt = entry.revision;
        if (!entry.held) {
          const own = await mutex.waitForTurn(ticket, attempt, {
            onWatchEvents: count => (this.stats.waitWatchEvents += count),
            onWake: () => this.stats.wakeups++,
          });
          if (!own.owned) {
            // Someone deleted our waiting key (or replaced it): queue again, at the back.
            off();
            if (own.exists) await this.evictUntilDone(mutex, ticket, session);
            await sleep(backoffDelay(failures++, this.backoff), signal);
            continue;
          }
          verifiedAt = own.revision;
        }
        off();
        if (!session.isAlive()) continue;
        if (signal.aborted) {
          await this.unlockUntilDone(mutex, ticket, session);
          signal.throwIfAborted();
        }
        return this.hold(mutex, ticket, verifiedAt, session, queue, startedAt);
      } catch (error) {
        off();
        if (signal.aborted) {
          // Given up (timeout, abort, close): leave etcd's queue before this process's.
          if (ticket && !lost.signal.aborted) await this.unlockUntilDone(mutex, ticket, session);
          throw signal.reason;
        }
        // The session ended: its lease (with our key) is revoked; queue again with the next one.
        if (lost.signal.aborted) continue;
        this.options.onError?.(error);
        await sleep(backoffDelay(failures++, this.backoff), signal).catch(async () => {
          if (ticket) await this.unlockUntilDone(mutex, ticket, session);
          throw signal.reason;
        });
      }
    }
  }

  private hold(
    mutex: Mutex,
    ticket: MutexTicket,
    verifiedAt: string,
    session: Session,
    queue: LocalQueue,
    startedAt: number,
  ): Lock {
    const lock = new Lock(mutex, ticket, session, {
      verifiedAt,
      backoff: this.backoff,
      onError: error => this.options.onError?.(error),
      unlock: reason =>
        reason === 'key-overwritten'
          ? this.evictUntilDone(mutex, ticket, session)
          : this.unlockUntilDone(mutex, ticket, session),
      onEnd: (ended, reason) => {
        this.heldLocks.delete(ended);
        if (reason === 'released' || reason === 'stopped') this.stats.released++;
        else {
          this.stats.lost++;
          this.options.onLost?.(ended, reason);
        }
      },
      onSettled: () => {
        queue.leave();
        this.dropQueueIfIdle(mutex.name);
      },
    });
    this.heldLocks.add(lock);
    this.stats.acquired++;
    publishLockAcquired(lock.name, lock.key, lock.fencingToken, monotonicNow() - startedAt);
    return lock;
  }

  /**
   * Deletes our key (guarded by its create revision), retrying until etcd confirms or the session
   * is gone (its lease, with the key, goes with it). This process's next acquirer of the name
   * writes the same key, so it must not start before this is done. Once closing, tries once: the
   * lease's revoke on shutdown deletes the key anyway.
   */
  private unlockUntilDone(mutex: Mutex, ticket: MutexTicket, session: Session): Promise<void> {
    return retryWhileAlive(session, signal => mutex.unlock(ticket, signal), this.retrying);
  }

  /** Like {@link unlockUntilDone}, for a key someone overwrote: deletes it unguarded. */
  private evictUntilDone(mutex: Mutex, ticket: MutexTicket, session: Session): Promise<void> {
    return retryWhileAlive(session, signal => mutex.evict(ticket, signal), this.retrying);
  }

  /** The live session, waiting at most `ms` for one to be granted. */
  private async sessionWithin(ms: number, signal: AbortSignal): Promise<Session> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new NoSessionError(ms, this.sessions.error)), ms);
    try {
      return await this.sessions.get(AbortSignal.any([signal, timeout.signal]));
    } finally {
      clearTimeout(timer);
    }
  }

  private mutex(name: string): Mutex {
    return new Mutex(this.sessions.client, name, { requestTimeout: this.requestTimeout });
  }

  private queueOf(name: string): LocalQueue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new LocalQueue();
      this.queues.set(name, queue);
    }
    return queue;
  }

  private dropQueueIfIdle(name: string): void {
    if (this.queues.get(name)?.idle) this.queues.delete(name);
  }
}

function checkName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ElectionOptionsError(
      'name',
      name,
      'a non-empty string: the lock name, an etcd prefix as `etcdctl lock NAME` takes it',
      'lock',
    );
  }
}

/**
 * Awaits `pending` unless `signal` aborts first; then runs `cleanup` (which may wait for the
 * abandoned request to settle and undo it) before rejecting with the signal's reason.
 */
async function settleWithin<T>(
  pending: Promise<T>,
  signal: AbortSignal,
  cleanup: () => Promise<void>,
): Promise<T> {
  const aborted = Symbol('aborted');
  let onAbort!: () => void;
  const abort = new Promise<typeof aborted>(resolve => {
    onAbort = () => resolve(aborted);
    if (signal.aborted) resolve(aborted);
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const result = await Promise.race([pending, abort]);
    if (result === aborted) {
      await cleanup();
      throw signal.reason;
    }
    return result;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
