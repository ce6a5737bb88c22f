/** One lease: its keepalive stream, its local deadline on two clocks, and the news of its loss. */
import type { Etcd3, ILeaseKeepAliveResponse } from 'etcd3';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { type Clock, type Instant, instant, later, remaining, timerDelay } from './clock.js';
import { classifyEtcdError, isLeaseNotFound } from './errors/index.js';
import { publishSessionLost } from './diagnostics/index.js';
import { leaseIdHex } from './keys.js';
import { type SessionSettings, keepaliveInterval } from './options.js';
import { type DuplexStream, closeStream, openStream, unary } from './rpc.js';
import { type Member, Transport } from './transport.js';

/** Why a session ended. */
export type SessionLossReason =
  /** No keepalive was acknowledged in time: the local lease deadline passed. */
  | 'expired'
  /** etcd answered a keepalive with TTL 0: the lease was revoked or had already expired there. */
  | 'revoked'
  /** We closed it. */
  | 'closed';

/** How {@link Session.close} revokes the lease. */
export interface CloseOptions {
  /**
   * Keep trying until etcd answers: the lease is revoked, or etcd says it is gone (recovery
   * after a loss, where a stale key would block the queue; etcd restores every lease with a
   * fresh TTL when it restarts, so only etcd can tell that a lease is gone). Otherwise one
   * attempt, bounded by the request timeout (shutdown, where every key was already deleted).
   * @default false
   */
  persist?: boolean;
}

type KeepAliveStream = DuplexStream;

/**
 * A lease kept alive every TTL/3, with a local deadline that never trusts etcd's side:
 * deadline = the time at which the last acknowledged keepalive was SENT + TTL − margin, on two
 * clocks (see {@link Clock}). etcd renews the lease when it receives the keepalive, which is
 * after we sent it, so etcd cannot expire the lease (and no other node can win with it gone)
 * before our deadline — not even across a suspend, which the wall clock counts.
 *
 * Loss is reported synchronously to `onLost` listeners, whichever way it happens: the deadline
 * timer fires, a keepalive answer says the lease is gone, or {@link isAlive} notices at call
 * time that the deadline passed (a paused or suspended process whose timers have not run yet).
 */
export class Session {
  /** The lease id, as etcd3 hands it (decimal string of the int64). */
  readonly leaseId: string;
  /** The lease id in lowercase hex, as it appears in candidate keys and in `etcdctl`. */
  readonly leaseHex: string;
  /** The TTL etcd granted, in seconds (etcd may raise a too-small TTL to its minimum). */
  readonly ttl: number;

  private readonly clock: Clock;
  private deadlineAt: Instant;
  private lastSent: Instant;
  private lostReason?: SessionLossReason;
  private readonly listeners = new Set<(reason: SessionLossReason) => void>();
  private stream?: KeepAliveStream;
  private streamMember?: Member;
  private opening?: AbortController;
  private ackTimer?: NodeJS.Timeout;
  private readonly transport?: Transport;
  private stopListening?: () => void;
  private readonly pending: Instant[] = [];
  private keepaliveTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private reopenTimer?: NodeJS.Timeout;
  private revoked?: Promise<void>;

  private constructor(
    private readonly client: Etcd3,
    leaseId: string,
    ttl: number,
    grantSentAt: Instant,
    private readonly settings: SessionSettings,
  ) {
    this.leaseId = leaseId;
    this.leaseHex = leaseIdHex(leaseId);
    this.ttl = ttl;
    this.clock = settings.clock;
    this.lastSent = grantSentAt;
    this.deadlineAt = later(grantSentAt, ttl * 1000 - settings.margin);
    this.transport = Transport.of(client);
  }

  /**
   * How long an acknowledgement may take before the stream counts as stuck and moves to another
   * member: a tenth of the TTL, from 200 ms to 1 s — well before the deadline.
   */
  get ackPatience(): number {
    return Math.min(1000, Math.max(200, (this.ttl * 1000) / 10));
  }

  /**
   * Grants a lease with `settings` and starts keeping it alive. Aborting `signal` gives up on the
   * grant (a lease granted anyway is revoked when it arrives).
   */
  static async grant(
    client: Etcd3,
    settings: SessionSettings,
    signal?: AbortSignal,
  ): Promise<Session> {
    const sentAt = instant(settings.clock);
    const res = await unary<{ ID: string; TTL: string }>(
      client,
      'Lease',
      'leaseGrant',
      { TTL: settings.ttl },
      { timeout: settings.requestTimeout, signal },
      late => void revokeLease(client, late.ID, settings.requestTimeout),
    );
    const session = new Session(client, res.ID, Number(res.TTL), sentAt, settings);
    if (signal?.aborted) {
      await session.close();
      throw signal.reason;
    }
    session.start();
    return session;
  }

  /** The moment, on both clocks, until which this session is certainly alive if not lost before. */
  get deadline(): Instant {
    return this.deadlineAt;
  }

  /** Why the session ended, or undefined while it lives. */
  get lossReason(): SessionLossReason | undefined {
    return this.lostReason;
  }

  /**
   * True while the lease certainly exists. Checks the deadline on both clocks at call time and,
   * when it has passed, declares the loss right here, before returning false.
   */
  isAlive(): boolean {
    if (this.lostReason) return false;
    if (remaining(this.deadlineAt, this.clock) <= 0) {
      this.lose('expired');
      return false;
    }
    return true;
  }

  /**
   * Calls `listener` synchronously when the session is lost (at once if it already is).
   * Returns a function that removes the listener.
   */
  onLost(listener: (reason: SessionLossReason) => void): () => void {
    if (this.lostReason) {
      listener(this.lostReason);
      return () => undefined;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Ends the session: stops the keepalives and revokes the lease, which deletes every key
   * attached to it. A lease that cannot be revoked expires on its own after its TTL; with
   * `persist` the revoke is retried until it succeeds or the lease has certainly expired.
   * Idempotent (the first call's options count).
   */
  close(options: CloseOptions = {}): Promise<void> {
    this.lose('closed');
    this.revoked ??= revokeLease(this.client, this.leaseId, this.settings.requestTimeout, {
      persist: options.persist ?? false,
    }).then(() => undefined);
    return this.revoked;
  }

  private start(): void {
    const interval = timerDelay(Math.max(50, keepaliveInterval(this.ttl)));
    this.keepaliveTimer = setInterval(() => this.sendKeepalive(), interval);
    this.armDeadline();
    // Another user of the client found our member failing: move with it at once.
    this.stopListening = this.transport?.onAbandon(member => {
      if (this.stream && member === this.streamMember) this.onStreamBroken(this.stream, 0);
    });
    void this.openStream();
  }

  private async openStream(): Promise<void> {
    if (this.lostReason || this.opening || this.stream) return;
    const opening = new AbortController();
    this.opening = opening;
    try {
      const { stream, member } = await openStream<KeepAliveStream>(this.client, 'Lease', {
        timeout: this.settings.requestTimeout,
        signal: opening.signal,
      });
      this.stream = stream;
      this.streamMember = member;
      stream.on('data', (res: ILeaseKeepAliveResponse) => this.onAck(stream, res));
      stream.on('error', (error: Error) => {
        const kind = classifyEtcdError(error);
        if (member && (kind === 'unreachable' || kind === 'no-leader')) {
          this.transport?.abandon(member, `keepalive: ${kind}`);
        }
        this.onStreamBroken(stream);
      });
      stream.on('end', () => this.onStreamBroken(stream));
      this.sendKeepalive();
    } catch {
      this.scheduleReopen();
    } finally {
      if (this.opening === opening) this.opening = undefined;
    }
  }

  private sendKeepalive(): void {
    // A keepalive sent after the deadline could renew a lease we already count as lost (a
    // process resumed from a pause runs this timer before the deadline timer): declare the loss.
    if (!this.isAlive()) return;
    if (!this.stream) {
      void this.openStream();
      return;
    }
    const sentAt = instant(this.clock);
    this.pending.push(sentAt);
    this.lastSent = sentAt;
    this.stream.write({ ID: this.leaseId });
    if (!this.ackTimer) this.armAckWatch(this.stream);
  }

  /**
   * A member that stalls (frozen, overloaded, cut off from its peers) keeps the stream open and
   * silent: when an acknowledgement is overdue, leave that member and keep the lease alive
   * through another, well before the deadline.
   */
  private armAckWatch(stream: KeepAliveStream): void {
    this.ackTimer = setTimeout(() => {
      this.ackTimer = undefined;
      if (stream !== this.stream || this.lostReason || this.pending.length === 0) return;
      const member = this.streamMember;
      if (member && this.transport && this.transport.size > 1) {
        this.transport.abandon(member, 'keepalive acknowledgement overdue');
      }
      // Abandoning moved us already when the member was the client's current one.
      if (stream === this.stream) this.onStreamBroken(stream, 0);
    }, this.ackPatience);
  }

  private onAck(stream: KeepAliveStream, res: ILeaseKeepAliveResponse): void {
    if (stream !== this.stream || this.lostReason) return;
    const sentAt = this.pending.shift();
    const ttl = Number(res.TTL);
    if (!(ttl > 0)) {
      this.lose('revoked');
      return;
    }
    if (sentAt === undefined) return;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    if (this.pending.length > 0) this.armAckWatch(stream);
    const deadline = later(sentAt, ttl * 1000 - this.settings.margin);
    if (deadline.monotonic > this.deadlineAt.monotonic) {
      this.deadlineAt = deadline;
      this.armDeadline();
    }
  }

  private onStreamBroken(stream: KeepAliveStream, reopenIn?: number): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.streamMember = undefined;
    this.pending.length = 0;
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    closeStream(stream);
    this.scheduleReopen(reopenIn);
  }

  private scheduleReopen(delay = Math.min(250, (this.ttl * 1000) / 10)): void {
    if (this.lostReason || this.reopenTimer) return;
    // Retry well within the deadline; the deadline timer, not this loop, decides the loss.
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.openStream();
    }, delay);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    // A timer may fire early (a deadline beyond what a timer holds): it just re-arms.
    this.deadlineTimer = setTimeout(
      () => {
        if (this.isAlive()) this.armDeadline();
      },
      timerDelay(remaining(this.deadlineAt, this.clock) + 1),
    );
  }

  private lose(reason: SessionLossReason): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    publishSessionLost(this.leaseHex, reason, this.ttl, this.deadlineAt.monotonic);
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.reopenTimer);
    clearTimeout(this.ackTimer);
    this.stopListening?.();
    this.opening?.abort();
    if (this.stream) closeStream(this.stream);
    this.stream = undefined;
    const listeners = [...this.listeners];
    this.listeners.clear();
    let failure: unknown;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch (error) {
        failure ??= error;
      }
    }
    if (failure !== undefined) throw failure;
  }
}

/** How {@link revokeLease} ended: etcd revoked the lease, had it no more, or we stopped trying. */
export type RevokeOutcome = 'revoked' | 'already-gone' | 'abandoned';

/** How {@link revokeLease} retries. */
export interface RevokeOptions {
  /**
   * Retry until etcd answers: revoked, or the lease is gone already. Otherwise one attempt.
   * @default false
   */
  persist?: boolean;
  /**
   * Delays between attempts, each capped at 500 ms.
   * @default doubling from 50 ms
   */
  backoff?: BackoffOptions;
  /** Called with each failed attempt's error (not "lease not found"), for logging. */
  onError?(error: unknown): void;
  /**
   * Aborting stops the retries: the attempt after the pause it cuts short is the last one.
   */
  signal?: AbortSignal;
}

/** The longest pause between revoke attempts: etcd answering again finds the lease gone at once. */
const REVOKE_PROBE_INTERVAL = 500;

/**
 * Revokes lease `id`. Without `persist`, one attempt; with it, retried (at most 0.5 s apart)
 * until etcd answers: revoked, or the lease is gone already. Stops when the client is closed, or
 * after the attempt that follows `signal` aborting. Its timers never keep the process alive.
 * Never rejects.
 */
export async function revokeLease(
  client: Etcd3,
  id: string,
  timeout: number,
  options: RevokeOptions = {},
): Promise<RevokeOutcome> {
  const { signal } = options;
  for (let attempt = 0; ; attempt++) {
    try {
      await unary(client, 'Lease', 'leaseRevoke', { ID: id }, { timeout });
      return 'revoked';
    } catch (error) {
      if (isLeaseNotFound(error)) return 'already-gone';
      if (signal?.aborted) return 'abandoned';
      options.onError?.(error);
      const message = String((error as Error)?.message);
      if (!options.persist || /client was already closed|ClientClosed/i.test(message)) {
        return 'abandoned';
      }
    }
    const delay = options.backoff ? backoffDelay(attempt, options.backoff) : 50 * 2 ** attempt;
    await pause(Math.min(REVOKE_PROBE_INTERVAL, delay), signal);
  }
}

/** Waits `ms` on a timer that never keeps the process alive, or until `signal` aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms).unref();
    if (signal?.aborted) done();
    else signal?.addEventListener('abort', done, { once: true });
  });
}
