/** The self-healing owner of an application's session, shared by its elections, locks and jobs. */
import type { Etcd3 } from 'etcd3';
import { backoffDelay } from './backoff.js';
import { SessionsClosedError, refusalOf } from './errors/index.js';
import type { SessionSettings } from './options.js';
import { sleep } from './rpc.js';
import { Session, type SessionLossReason, revokeLease } from './session.js';

/** Hooks of {@link Sessions}. */
export interface SessionsHooks {
  /** Called with each failed grant or revoke, for logging. */
  onError?(error: unknown): void;
}

/** The longest pause between grants while etcd does not answer: back within a second of it. */
const PROBE_INTERVAL = 500;

/** Counters of a {@link Sessions} since it was created. */
export interface SessionsStats {
  /** Leases granted. */
  granted: number;
  /** Sessions lost (expired locally or revoked), not counting our own closes. */
  lost: number;
  /** Grants that failed (etcd unreachable, refused …). */
  grantFailures: number;
  /** Old leases revoked after a loss: etcd still had them. */
  revoked: number;
  /** Old leases etcd no longer had when we came to revoke them (expired there already). */
  alreadyGone: number;
}

/**
 * The self-healing owner of one application's session: one client, one lease, one keepalive
 * stream, shared by every election, lock and job. Hands out the live session; when it is lost,
 * every user hears it synchronously (through {@link Session.onLost}, or {@link onLost} here,
 * which outlives each session), then the old lease is revoked (retried until etcd confirms it is
 * gone, so a stale key never blocks a queue) and a new one is granted with backoff.
 *
 * Sessions are granted on demand: nothing is written to etcd before the first {@link get}.
 */
export class Sessions {
  /** Counters since creation. */
  readonly stats: SessionsStats = {
    granted: 0,
    lost: 0,
    grantFailures: 0,
    revoked: 0,
    alreadyGone: 0,
  };

  private readonly closeController = new AbortController();
  private readonly lossListeners = new Set<(session: Session, reason: SessionLossReason) => void>();
  private readonly failureListeners = new Set<(error: unknown) => void>();
  private readonly revocations = new WeakMap<Session, Promise<void>>();
  private session?: Session;
  private granting?: Promise<Session>;
  private failures = 0;
  private lastError?: unknown;
  private readonly revokes = new Set<Promise<void>>();
  private closed?: Promise<void>;

  constructor(
    /** The client every session is granted on. */
    readonly client: Etcd3,
    /** The settings every session is granted with, and the retry pacing (resolved already). */
    readonly settings: SessionSettings,
    private readonly hooks: SessionsHooks = {},
  ) {}

  /** The TTL each session is granted with, in seconds. */
  get ttl(): number {
    return this.settings.ttl;
  }

  /** The live session, checked against its deadline now; undefined while there is none. */
  current(): Session | undefined {
    const session = this.session;
    return session?.isAlive() ? session : undefined;
  }

  /** The error of the last failed grant, while no session could be granted since. */
  get error(): unknown {
    return this.lastError;
  }

  /**
   * Resolves with the live session, granting one (with backoff after failures) if there is none.
   * Keeps trying until one is granted, `signal` aborts (rejects with its reason) or the owner is
   * closed (rejects with {@link SessionsClosedError}).
   */
  async get(signal?: AbortSignal): Promise<Session> {
    for (;;) {
      signal?.throwIfAborted();
      if (this.closeController.signal.aborted) throw new SessionsClosedError();
      const live = this.current();
      if (live) return live;
      this.granting ??= this.grant().finally(() => (this.granting = undefined));
      const session = await abortable(this.granting, signal).catch((error: unknown) => {
        if (signal?.aborted || this.closeController.signal.aborted) throw error;
        return undefined;
      });
      if (session?.isAlive()) return session;
    }
  }

  /**
   * Calls `listener` synchronously whenever a session of this owner is lost (not when closed),
   * from within the loss, before any recovery starts. Returns a function that removes it.
   */
  onLost(listener: (session: Session, reason: SessionLossReason) => void): () => void {
    this.lossListeners.add(listener);
    return () => this.lossListeners.delete(listener);
  }

  /**
   * Calls `listener` with the error of each failed grant (etcd unreachable, or refusing us), so
   * that every user can tell why it has no session. Returns a function that removes it.
   */
  onGrantFailed(listener: (error: unknown) => void): () => void {
    this.failureListeners.add(listener);
    return () => this.failureListeners.delete(listener);
  }

  /**
   * Settles once lost `session`'s lease is certainly gone from etcd (revoked, or found expired
   * there), or the owner is closed; at once for a session this owner holds no revoke of.
   */
  revocation(session: Session): Promise<void> {
    return this.revocations.get(session) ?? Promise.resolve();
  }

  /**
   * Ends the session for good: revokes the live lease (deleting every key on it), waits (bounded
   * by the request timeout) for revokes of lost leases still in flight, and grants no more.
   * Does not close the client. Idempotent.
   */
  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closeController.abort(new SessionsClosedError());
      await this.granting?.catch(() => undefined);
      const session = this.session;
      this.session = undefined;
      await session?.close();
      await Promise.allSettled([...this.revokes]);
    })();
    return this.closed;
  }

  private async grant(): Promise<Session> {
    const stop = this.closeController.signal;
    if (this.failures > 0) await sleep(this.retryDelay(), stop);
    let session: Session;
    try {
      session = await Session.grant(this.client, this.settings, stop);
    } catch (error) {
      if (!stop.aborted) {
        this.failures++;
        this.stats.grantFailures++;
        this.lastError = error;
        this.hooks.onError?.(error);
        for (const listener of [...this.failureListeners]) {
          try {
            listener(error);
          } catch (failure) {
            this.hooks.onError?.(failure);
          }
        }
      }
      throw error;
    }
    this.failures = 0;
    this.lastError = undefined;
    this.stats.granted++;
    this.session = session;
    session.onLost(reason => this.onSessionLost(session, reason));
    return session;
  }

  /**
   * The pause before the next grant: etcd refusing us (auth, permission, TLS) is retried slowly,
   * someone has to fix the set-up; an etcd that does not answer is probed every half second.
   */
  private retryDelay(): number {
    const { backoff } = this.settings;
    const delay = backoffDelay(this.failures - 1, backoff);
    if (refusalOf(this.lastError)) return Math.max(backoff.max, delay);
    return Math.min(PROBE_INTERVAL, delay);
  }

  private onSessionLost(session: Session, reason: SessionLossReason): void {
    if (reason === 'closed') return;
    if (this.session === session) this.session = undefined;
    this.stats.lost++;
    for (const listener of [...this.lossListeners]) {
      try {
        listener(session, reason);
      } catch (error) {
        this.hooks.onError?.(error);
      }
    }
    // Recovery starts only once every listener of the session (ours is its first) has heard of
    // the loss: after this synchronous round of listeners.
    const revoke = Promise.resolve()
      .then(() => this.revokeUntilGone(session))
      .finally(() => this.revokes.delete(revoke));
    this.revokes.add(revoke);
    this.revocations.set(session, revoke);
  }

  /**
   * Revokes a lost lease until etcd confirms it (or says it is gone already): a lease our clock
   * gave up on may live on in etcd, holding keys that block every queue they are in. After
   * {@link close}, one last attempt.
   */
  private async revokeUntilGone(session: Session): Promise<void> {
    const outcome = await revokeLease(this.client, session.leaseId, this.settings.requestTimeout, {
      persist: true,
      backoff: this.settings.backoff,
      onError: error => this.hooks.onError?.(error),
      signal: this.closeController.signal,
    });
    if (outcome === 'revoked') this.stats.revoked++;
    else if (outcome === 'already-gone') this.stats.alreadyGone++;
  }
}

/** `promise`, or a rejection with `signal.reason` as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      value => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
