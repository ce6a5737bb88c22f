import type { Etcd3, IDuplexStream, ILeaseKeepAliveRequest, ILeaseKeepAliveResponse } from 'etcd3';
import { publishSessionLost } from './diagnostics.js';
import { leaseIdHex } from './keys.js';
import { monotonicNow, request } from './rpc.js';

/** Why a session ended. */
export type SessionLossReason =
  /** No keepalive was acknowledged in time: the local lease deadline passed. */
  | 'expired'
  /** etcd answered a keepalive with TTL 0: the lease was revoked or had already expired there. */
  | 'revoked'
  /** We closed it. */
  | 'closed';

/** Settings of a {@link Session}. */
export interface SessionOptions {
  /** Lease TTL in seconds. */
  ttl: number;
  /** Safety margin in milliseconds subtracted from every local deadline. */
  margin: number;
  /** Deadline of each unary request in milliseconds. */
  requestTimeout: number;
  /** Gives up on the lease grant. */
  signal?: AbortSignal;
}

/**
 * A lease kept alive every TTL/3, with a local deadline that never trusts etcd's side:
 * deadline = monotonic time at which the last acknowledged keepalive was SENT + TTL − margin.
 * etcd renews the lease when it receives the keepalive, which is after we sent it, so etcd
 * cannot expire the lease (and no other node can win with it gone) before our deadline.
 *
 * Loss is reported synchronously to `onLost` listeners, whichever way it happens: the deadline
 * timer fires, a keepalive answer says the lease is gone, or {@link isAlive} notices at call
 * time that the deadline passed (a paused process whose timers have not run yet).
 */
export class Session {
  /** The lease id, as etcd3 hands it (decimal string of the int64). */
  readonly leaseId: string;
  /** The lease id in lowercase hex, as it appears in candidate keys and in `etcdctl`. */
  readonly leaseHex: string;
  /** The TTL etcd granted, in seconds (etcd may raise a too-small TTL to its minimum). */
  readonly ttl: number;

  private deadlineAt: number;
  private lostReason?: SessionLossReason;
  private readonly listeners = new Set<(reason: SessionLossReason) => void>();
  private stream?: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>;
  private opening = false;
  private readonly pending: number[] = [];
  private keepaliveTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private reopenTimer?: NodeJS.Timeout;
  private revoked?: Promise<void>;

  private constructor(
    private readonly client: Etcd3,
    leaseId: string,
    ttl: number,
    grantSentAt: number,
    private readonly options: SessionOptions,
  ) {
    this.leaseId = leaseId;
    this.leaseHex = leaseIdHex(leaseId);
    this.ttl = ttl;
    this.deadlineAt = grantSentAt + ttl * 1000 - options.margin;
  }

  /** Grants a lease and starts keeping it alive. */
  static async grant(client: Etcd3, options: SessionOptions): Promise<Session> {
    const sentAt = monotonicNow();
    const res = await request(o => client.leaseClient.leaseGrant({ TTL: options.ttl }, o), {
      timeout: options.requestTimeout,
      signal: options.signal,
    });
    const session = new Session(client, res.ID, Number(res.TTL), sentAt, options);
    if (options.signal?.aborted) {
      await session.close();
      throw options.signal.reason;
    }
    session.start();
    return session;
  }

  /** Monotonic time (ms) until which this session is certainly alive, if not lost before. */
  get deadline(): number {
    return this.deadlineAt;
  }

  /** Why the session ended, or undefined while it lives. */
  get lossReason(): SessionLossReason | undefined {
    return this.lostReason;
  }

  /**
   * True while the lease certainly exists. Checks the deadline at call time and, when it has
   * passed, declares the loss right here, before returning false.
   */
  isAlive(): boolean {
    if (this.lostReason) return false;
    if (monotonicNow() >= this.deadlineAt) {
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
   * Ends the session: stops the keepalives and revokes the lease (best effort: a lease that
   * cannot be revoked expires on its own after its TTL), which deletes every key attached to
   * it. Idempotent.
   */
  close(): Promise<void> {
    this.lose('closed');
    this.revoked ??= request(o => this.client.leaseClient.leaseRevoke({ ID: this.leaseId }, o), {
      timeout: this.options.requestTimeout,
    }).then(
      () => undefined,
      () => undefined,
    );
    return this.revoked;
  }

  private start(): void {
    const interval = Math.max(50, (this.ttl * 1000) / 3);
    this.keepaliveTimer = setInterval(() => this.sendKeepalive(), interval);
    this.armDeadline();
    void this.openStream();
  }

  private async openStream(): Promise<void> {
    if (this.lostReason || this.opening || this.stream) return;
    this.opening = true;
    try {
      const stream = await request(() => this.client.leaseClient.leaseKeepAlive(), {
        timeout: this.options.requestTimeout,
      });
      // A cancelled or broken stream still emits 'error'; an unheard one would crash the process.
      stream.on('error', () => undefined);
      if (this.lostReason) {
        closeStream(stream);
        return;
      }
      this.stream = stream;
      stream.on('data', res => this.onAck(stream, res));
      stream.on('error', () => this.onStreamBroken(stream));
      stream.on('end', () => this.onStreamBroken(stream));
      this.sendKeepalive();
    } catch {
      this.scheduleReopen();
    } finally {
      this.opening = false;
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
    this.pending.push(monotonicNow());
    this.stream.write({ ID: this.leaseId });
  }

  private onAck(
    stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>,
    res: ILeaseKeepAliveResponse,
  ): void {
    if (stream !== this.stream || this.lostReason) return;
    const sentAt = this.pending.shift();
    const ttl = Number(res.TTL);
    if (!(ttl > 0)) {
      this.lose('revoked');
      return;
    }
    if (sentAt === undefined) return;
    const deadline = sentAt + ttl * 1000 - this.options.margin;
    if (deadline > this.deadlineAt) {
      this.deadlineAt = deadline;
      this.armDeadline();
    }
  }

  private onStreamBroken(stream: IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>) {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.pending.length = 0;
    closeStream(stream);
    this.scheduleReopen();
  }

  private scheduleReopen(): void {
    if (this.lostReason || this.reopenTimer) return;
    // Retry well within the deadline; the deadline timer, not this loop, decides the loss.
    const delay = Math.min(250, (this.ttl * 1000) / 10);
    this.reopenTimer = setTimeout(() => {
      this.reopenTimer = undefined;
      void this.openStream();
    }, delay);
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const wait = Math.max(0, this.deadlineAt - monotonicNow());
    this.deadlineTimer = setTimeout(() => {
      if (this.isAlive()) this.armDeadline();
    }, wait + 1);
  }

  private lose(reason: SessionLossReason): void {
    if (this.lostReason) return;
    this.lostReason = reason;
    publishSessionLost(this.leaseHex, reason, this.ttl, this.deadlineAt);
    clearInterval(this.keepaliveTimer);
    clearTimeout(this.deadlineTimer);
    clearTimeout(this.reopenTimer);
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

function closeStream(stream: { end(): void; cancel(): void }): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already closed
  }
}
