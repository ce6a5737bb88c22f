/** Which etcd member a client talks to, and moving to the next when one fails. */
import { type Etcd3, EtcdInvalidAuthTokenError, castGrpcError } from 'etcd3';
import { classifyEtcdError } from './errors/index.js';

/** The etcd gRPC services the engine calls. */
export type Service = 'KV' | 'Lease' | 'Watch';

/** gRPC metadata, as etcd3 builds it (auth token) and the engine extends it. */
interface Metadata {
  clone(): Metadata;
  set(key: string, value: string): void;
}

interface Call {
  cancel(): void;
}

type UnaryMethod = (
  payload: unknown,
  metadata: Metadata,
  options: { deadline: number },
  callback: (error: Error | null, response: unknown) => void,
) => Call;
type StreamMethod = (metadata: Metadata, options: object) => unknown;

/** One etcd member as etcd3's connection pool holds it. */
export interface Member {
  /** `host:port`, without the scheme. */
  readonly host: string;
  getServiceClient(service: Service): Record<string, UnaryMethod | StreamMethod>;
}

interface Pool {
  hosts: Member[];
  authenticator: { getMetadata(): Promise<Metadata>; invalidateMetadata(): void };
  options?: { auth?: unknown };
}

/** The longest quiet spell after which an auth token is used again, unless etcd shows less. */
const TOKEN_TOUCH_MAX = 60_000;

/** How long a call may take, and when to give up on it. */
export interface CallContext {
  /** The whole budget in milliseconds, over every member tried. */
  timeout: number;
  /** Aborting cancels the call in flight and rejects with `signal.reason`. */
  signal?: AbortSignal;
}

const transports = new WeakMap<Etcd3, Transport>();

/**
 * The engine's way to etcd, shared by everything that uses one `Etcd3` client: every request and
 * stream goes to one member at a time (the current member), and a member that fails or stops
 * answering is left for the next one — requests are retried there within their budget, and the
 * streams still open on the old member are told, so that their owners re-read and move too.
 * No single member can hold the node hostage: a frozen one, one cut off from its peers, a dead one.
 *
 * It calls etcd3's gRPC clients directly (etcd3 offers no choice of member per call); with a
 * client that is not a plain `Etcd3` (a namespace, a test double), it falls back to etcd3's own
 * calls, without failover.
 */
export class Transport {
  private current: number;
  private readonly abandonListeners = new Set<(member: Member, why: string) => void>();
  private lastUse = Date.now();
  private touchEvery = TOKEN_TOUCH_MAX;
  private touchKey?: Buffer;
  private touchTimer?: NodeJS.Timeout;

  private constructor(private readonly pool: Pool) {
    // Replicas start on different members, so that one member's trouble hits few of them.
    this.current = Math.floor(Math.random() * pool.hosts.length);
  }

  /** The transport of `client`, or undefined when it is not a plain etcd3 client. */
  static of(client: Etcd3): Transport | undefined {
    const known = transports.get(client);
    if (known) return known;
    const pool = (client as unknown as { pool?: Partial<Pool> }).pool;
    if (!pool?.hosts?.length || !pool.authenticator) return undefined;
    const transport = new Transport(pool as Pool);
    transports.set(client, transport);
    return transport;
  }

  /** The member calls go to now. */
  get member(): Member {
    return this.pool.hosts[this.current];
  }

  /** How many members the client knows. */
  get size(): number {
    return this.pool.hosts.length;
  }

  /** Every member the client knows, as `host:port`. */
  get hosts(): string[] {
    return this.pool.hosts.map(member => member.host);
  }

  /**
   * Leaves `member` for the next one, if it is the current one and there is another, and tells
   * every listener (the streams open on it end, and their owners re-read elsewhere).
   */
  abandon(member: Member, why: string): void {
    if (this.size < 2 || member !== this.member) return;
    this.current = (this.current + 1) % this.size;
    for (const listener of [...this.abandonListeners]) listener(member, why);
  }

  /**
   * With etcd auth, keeps the client's token valid through quiet spells, so that the request a
   * handover sends after minutes of silence does not first have to re-authenticate (etcd checks
   * passwords with bcrypt). etcd drops a simple token after `--auth-token-ttl` without use
   * (300 s by default) and renews it on each use: when no request went out for a while, a
   * serializable count-only read of `key` (one the caller may read) uses it. The period is the
   * smallest of 60 s, `hint` and half the quietest spell after which etcd was seen to drop a
   * token. Without auth, does nothing.
   */
  keepTokenFresh(key: Buffer, hint: number): void {
    if (!this.pool.options?.auth) return;
    this.touchKey ??= key;
    this.touchEvery = Math.max(200, Math.min(this.touchEvery, hint));
    this.armTouch();
  }

  private armTouch(): void {
    clearTimeout(this.touchTimer);
    const due = this.lastUse + this.touchEvery - Date.now();
    this.touchTimer = setTimeout(() => this.touch(), Math.max(0, due));
    this.touchTimer.unref();
  }

  private touch(): void {
    if (Date.now() - this.lastUse < this.touchEvery || !this.touchKey) return this.armTouch();
    const read = { key: this.touchKey, count_only: true, serializable: true, limit: 1 };
    this.unary('KV', 'range', read, { timeout: 5000 }).then(
      () => this.armTouch(),
      (error: unknown) => {
        // A closed client: nothing to keep fresh any more.
        if (!/closed/i.test(String((error as Error)?.message))) this.armTouch();
      },
    );
  }

  /** Calls `listener` when a member is abandoned; returns the function that stops it. */
  onAbandon(listener: (member: Member, why: string) => void): () => void {
    this.abandonListeners.add(listener);
    return () => this.abandonListeners.delete(listener);
  }

  /**
   * One unary call. With several members, each attempt gets a share of the budget (a third of
   * it, or all that is left), and an attempt that times out or finds its member unavailable or
   * without a raft leader is retried on the next member. Other errors (refusals, bad requests)
   * are final.
   */
  async unary<T>(service: Service, method: string, payload: unknown, context: CallContext) {
    const { timeout, signal } = context;
    const end = Date.now() + timeout;
    const share = this.size > 1 ? timeout / Math.min(this.size, 3) : timeout;
    let lastError: unknown;
    let authRetried = false;
    for (let attempt = 0; ; attempt++) {
      signal?.throwIfAborted();
      const left = end - Date.now();
      if (left <= 0 && lastError !== undefined) throw lastError;
      const member = this.member;
      try {
        const res = await this.call<T>(member, service, method, payload, {
          deadline: Date.now() + Math.max(1, Math.min(left, share)),
          signal,
        });
        this.lastUse = Date.now();
        return res;
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        if (error instanceof EtcdInvalidAuthTokenError && !authRetried) {
          // The token expired: get a new one and try again on the same member; touch it more
          // often from now on.
          authRetried = true;
          const quiet = Date.now() - this.lastUse;
          this.touchEvery = Math.max(200, Math.min(this.touchEvery, quiet / 2));
          this.pool.authenticator.invalidateMetadata();
          continue;
        }
        const kind = classifyEtcdError(error);
        const failover = kind === 'timeout' || kind === 'unreachable' || kind === 'no-leader';
        if (!failover || this.size < 2 || attempt >= 2 * this.size) throw error;
        lastError = error;
        this.abandon(member, `${service}.${method}: ${kind}`);
      }
    }
  }

  /**
   * Opens a bidirectional stream on the current member, asking for a member with a raft leader
   * (etcd's `hasleader` metadata, Go's `WithRequireLeader`): a member cut off from its peers
   * cancels it with "no leader" instead of holding it open and silent.
   */
  async stream<S>(service: 'Watch' | 'Lease'): Promise<{ stream: S; member: Member }> {
    const member = this.member;
    const metadata = (await this.pool.authenticator.getMetadata()).clone();
    metadata.set('hasleader', 'true');
    const open = member.getServiceClient(service)[
      service === 'Watch' ? 'watch' : 'leaseKeepAlive'
    ] as StreamMethod;
    return { stream: open.call(member.getServiceClient(service), metadata, {}) as S, member };
  }

  private async call<T>(
    member: Member,
    service: Service,
    method: string,
    payload: unknown,
    options: { deadline: number; signal?: AbortSignal },
  ): Promise<T> {
    const metadata = await this.pool.authenticator.getMetadata();
    const client = member.getServiceClient(service);
    const fn = client[method] as UnaryMethod;
    return new Promise<T>((resolve, reject) => {
      const { signal } = options;
      const onAbort = () => {
        call.cancel();
        reject(signal!.reason);
      };
      const call = fn.call(
        client,
        payload,
        metadata,
        { deadline: options.deadline },
        (error, res) => {
          signal?.removeEventListener('abort', onAbort);
          if (error) reject(castGrpcError(error));
          else resolve(res as T);
        },
      );
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }
}
