import type {
  ComparatorBuilder,
  Etcd3,
  IKeyValue,
  IRangeRequest,
  IRangeResponse,
  ITxnRequest,
  ITxnResponse,
} from 'etcd3';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { NotLeaderError, ValueTooLargeError } from './errors.js';
import { refusalOf } from './etcd-errors.js';
import {
  candidateKey,
  electionPrefix,
  leaseHexOfKey,
  leaseIdHex,
  nextRevision,
  prefixRangeEnd,
  previousRevision,
} from './keys.js';
import { sameLeader } from './leadership.js';
import { mark } from './marks.js';
import { monotonicNow, sleep, unary, watch } from './rpc.js';

/** A node's place in the queue: its key, the key's create revision, and the lease it is bound to. */
export interface Ticket {
  /** `<name>/<lease hex>`. */
  key: string;
  /** Create revision of the key: the position in the queue, and the fencing token once leading. */
  revision: string;
  /** The lease id (decimal string of the int64). */
  leaseId: string;
  /** The value our key holds in etcd, as last written or read by us. */
  value: string;
}

/** The leader as any observer sees it: the candidate key with the lowest create revision. */
export interface LeaderInfo {
  /** The leader's key, `<name>/<lease hex>`. */
  key: string;
  /** The leader's proclaimed value (UTF-8). */
  value: string;
  /** Create revision of the leader's key: the fencing token of its term. */
  revision: string;
  /** The leader's lease id, in hex. */
  lease: string;
}

/** One candidate in the queue, as {@link Election.participants} lists them. */
export interface Participant extends LeaderInfo {
  /** True for the head of the queue, which leads. */
  leader: boolean;
}

/** Tuning of an {@link Election}. */
export interface ElectionSettings {
  /** Deadline of each unary request, in milliseconds. */
  requestTimeout: number;
  /** Largest request etcd accepts (etcd's `--max-request-bytes`). */
  maxRequestBytes: number;
}

/** Callbacks the supervisor uses to count what a wait costs. */
export interface WaitHooks {
  /** Called with the number of watch events each time a wait watch delivers some. */
  onWatchEvents?(count: number): void;
  /** Called when the predecessor we waited on is deleted. */
  onWake?(): void;
  /** Called after each successful read of the queue (etcd answers again). */
  onRead?(): void;
}

/** What {@link Election.verify} found of our key. */
export interface Ownership {
  /** The key exists with our create revision and our lease. */
  owned: boolean;
  /** The key exists at all (if not owned: someone overwrote it). */
  exists: boolean;
  /** Header revision of the read. */
  revision: string;
}

/** Why we lost a key we were watching while leading. */
export type KeyLoss = 'key-deleted' | 'key-overwritten';

/**
 * etcd's election recipe, exactly as Go's `concurrency.Election` runs it, plus the ownership
 * check that Go's Mutex gained after Jepsen. Every call takes an `AbortSignal`; none retries —
 * the {@link Candidate} decides what to do on failure.
 */
export class Election {
  /** `<name>/`: the prefix every candidate key of this election has. */
  readonly prefix: string;
  private readonly prefixKey: Buffer;
  private readonly prefixEnd: Buffer;

  constructor(
    private readonly client: Etcd3,
    /** The election name, shared with every other implementation campaigning on it. */
    readonly name: string,
    private readonly settings: ElectionSettings,
  ) {
    this.prefix = electionPrefix(name);
    this.prefixKey = Buffer.from(this.prefix);
    this.prefixEnd = prefixRangeEnd(this.prefixKey);
  }

  /**
   * Throws {@link ValueTooLargeError} when putting `value` under a key of this election would
   * exceed etcd's request limit. Checked before anything is written.
   */
  checkValue(value: string, leaseId: string | bigint = -(2n ** 63n)): void {
    // The key is measured with the longest lease hex (17 bytes), the request framing generously.
    const bytes =
      Buffer.byteLength(candidateKey(this.name, leaseId)) + Buffer.byteLength(value) + 64;
    if (bytes > this.settings.maxRequestBytes) {
      throw new ValueTooLargeError(bytes, this.settings.maxRequestBytes);
    }
  }

  /**
   * Joins the queue with the session's lease: `If(CreateRevision(key) == 0) Then Put(key, value,
   * lease) Else Get(key)`. If the key already exists (a retry), keeps its place and proclaims
   * `value` when it differs; if that proclaim fails, resigns and fails the campaign, as Go does.
   */
  async campaign(leaseId: string, value: string, signal?: AbortSignal): Promise<Ticket> {
    this.checkValue(value, leaseId);
    const key = Buffer.from(candidateKey(this.name, leaseId));
    const res = await this.request(
      'txn',
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.from(value), lease: leaseId } }],
        failure: [{ request_range: { key } }],
      },
      signal,
    );
    const ticket: Ticket = { key: key.toString(), revision: res.header.revision, leaseId, value };
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs[0];
      if (existing) {
        ticket.revision = existing.create_revision;
        ticket.value = existing.value.toString();
        if (ticket.value !== value && !(await this.proclaim(ticket, value, signal))) {
          await this.resign(ticket, signal).catch(() => false);
          throw new NotLeaderError(this.name, 'campaign (the key changed under us)');
        }
      }
    }
    return ticket;
  }

  /**
   * Resolves when no key with a lower create revision than ours is left, with our own key as
   * read at that same revision (the post-wait ownership check, see {@link verify}, at no extra
   * round trip: both reads go in one read-only transaction). Waits on the predecessor only (the
   * key just before ours), never on the whole prefix, so one leader change wakes exactly one
   * waiter.
   */
  async waitForTurn(
    ticket: Ticket,
    signal?: AbortSignal,
    hooks: WaitHooks = {},
  ): Promise<Ownership> {
    const own = Buffer.from(ticket.key);
    for (;;) {
      const res = await this.request(
        'txn',
        {
          success: [
            {
              request_range: {
                key: this.prefixKey,
                range_end: this.prefixEnd,
                sort_target: 'Create',
                sort_order: 'Descend',
                limit: 1,
                max_create_revision: previousRevision(ticket.revision),
              },
            },
            { request_range: { key: own } },
          ],
        },
        signal,
      );
      hooks.onRead?.();
      mark('wait-read');
      const predecessor = res.responses[0]?.response_range?.kvs[0];
      if (!predecessor) {
        return ownership(ticket, res.responses[1]?.response_range?.kvs[0], res.header.revision);
      }
      await watch(
        this.client,
        { key: predecessor.key, startRevision: res.header.revision },
        events => {
          mark('wait-event');
          hooks.onWatchEvents?.(events.length);
          return events.some(event => event.type === 'Delete');
        },
        { signal, timeout: this.settings.requestTimeout },
      );
      hooks.onWake?.();
    }
  }

  /** Re-reads our key: it must still exist with our create revision and our lease. */
  async verify(ticket: Ticket, signal?: AbortSignal): Promise<Ownership> {
    const res = await this.range({ key: Buffer.from(ticket.key) }, signal);
    return ownership(ticket, res.kvs[0], res.header.revision);
  }

  /**
   * Watches our key from `afterRevision` on and resolves when someone else deletes it or
   * overwrites it (another create revision, or a put that detached it from our lease).
   * Rejects when the watch breaks; the caller re-verifies and watches again.
   */
  async watchOwnership(
    ticket: Ticket,
    afterRevision: string,
    signal?: AbortSignal,
  ): Promise<KeyLoss> {
    let loss: KeyLoss = 'key-deleted';
    await watch(
      this.client,
      { key: Buffer.from(ticket.key), startRevision: nextRevision(afterRevision) },
      events => {
        for (const event of events) {
          if (event.type === 'Delete') {
            loss = 'key-deleted';
            return true;
          }
          if (event.kv.create_revision !== ticket.revision || event.kv.lease !== ticket.leaseId) {
            loss = 'key-overwritten';
            return true;
          }
        }
        return false;
      },
      { signal, timeout: this.settings.requestTimeout },
    );
    return loss;
  }

  /**
   * Replaces our value, guarded: `If(CreateRevision(key) == ours) Then Put(key, value, lease)`.
   * Returns false when the key is no longer ours (we are not in the queue, so not leader).
   */
  async proclaim(ticket: Ticket, value: string, signal?: AbortSignal): Promise<boolean> {
    this.checkValue(value, ticket.leaseId);
    const key = Buffer.from(ticket.key);
    const res = await this.request(
      'txn',
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: ticket.revision }],
        success: [{ request_put: { key, value: Buffer.from(value), lease: ticket.leaseId } }],
      },
      signal,
    );
    if (res.succeeded) ticket.value = value;
    return res.succeeded;
  }

  /**
   * Leaves the queue, guarded: `If(CreateRevision(key) == ours) Then Delete(key)`. Returns
   * false when the key was already gone or is someone else's.
   */
  async resign(ticket: Ticket, signal?: AbortSignal): Promise<boolean> {
    const key = Buffer.from(ticket.key);
    mark('resign-sent');
    const res = await this.request(
      'txn',
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: ticket.revision }],
        success: [{ request_delete_range: { key } }],
      },
      signal,
    );
    mark('resign-acked');
    return res.succeeded;
  }

  /**
   * Leaves the queue when our create revision is not known (a campaign abandoned in flight may
   * still have written the key): `If(Lease(key) == ours) Then Delete(key)`. Only our lease writes
   * `<name>/<lease hex>`, so this deletes our key and nothing else.
   */
  async resignLease(leaseId: string, signal?: AbortSignal): Promise<boolean> {
    const key = Buffer.from(candidateKey(this.name, leaseId));
    const res = await this.request(
      'txn',
      {
        compare: [{ key, target: 'Lease', result: 'Equal', lease: leaseId }],
        success: [{ request_delete_range: { key } }],
      },
      signal,
    );
    return res.succeeded;
  }

  /** The current leader, as Go's `Election.Leader()` reads it; undefined when nobody campaigns. */
  async leader(signal?: AbortSignal): Promise<LeaderInfo | undefined> {
    const res = await this.queue(signal, 1);
    return res.kvs[0] && this.toLeader(res.kvs[0]);
  }

  /** Every candidate in the queue, leader first, in campaign (create revision) order. */
  async participants(signal?: AbortSignal): Promise<Participant[]> {
    const res = await this.queue(signal);
    return res.kvs.map((kv, index) => ({ ...this.toLeader(kv), leader: index === 0 }));
  }

  /**
   * Follows the leader, whoever runs it: calls `onChange` with each new leader or proclaimed
   * value, and with `undefined` when the leader's key is deleted or the election is empty.
   * Survives broken watches and compaction by reading again (never reporting a leader that is
   * gone); returns only when `signal` aborts.
   */
  async observe(
    onChange: (leader: LeaderInfo | undefined, at: number) => void,
    options: { signal: AbortSignal; backoff: BackoffOptions; onError?: (error: unknown) => void },
  ): Promise<void> {
    const { signal } = options;
    let last: LeaderInfo | undefined | null = null;
    const emit = (leader: LeaderInfo | undefined) => {
      if (last !== null && sameLeader(last, leader)) return;
      last = leader;
      onChange(leader, monotonicNow());
    };
    let failures = 0;
    while (!signal.aborted) {
      try {
        const res = await this.queue(signal, 1);
        let kv: IKeyValue | undefined = res.kvs[0];
        let revision = res.header.revision;
        if (!kv) {
          emit(undefined);
          await watch(
            this.client,
            { key: this.prefixKey, rangeEnd: this.prefixEnd, startRevision: revision },
            events => {
              const put = events.find(event => event.type === 'Put');
              if (!put) return false;
              kv = put.kv;
              revision = put.kv.mod_revision;
              return true;
            },
            { signal, timeout: this.settings.requestTimeout },
          );
        }
        const leaderKv: IKeyValue = kv!;
        emit(this.toLeader(leaderKv));
        failures = 0;
        await watch(
          this.client,
          { key: leaderKv.key, startRevision: nextRevision(revision) },
          events => {
            for (const event of events) {
              if (event.type === 'Delete') {
                emit(undefined);
                return true;
              }
              emit(this.toLeader(event.kv));
            }
            return false;
          },
          { signal, timeout: this.settings.requestTimeout },
        );
        // The leader is gone. A candidate of this process waiting on the same key got the same
        // deletion, maybe in the same read from the socket: let it read first, since its read
        // decides who leads and ours only reports it.
        await new Promise(resolve => setImmediate(resolve));
      } catch (error) {
        if (signal.aborted) return;
        options.onError?.(error);
        // Refused (auth, permission, TLS): retrying soon cannot help, so retry slowly.
        const pause = refusalOf(error)
          ? Math.max(options.backoff.max, backoffDelay(failures++, options.backoff))
          : backoffDelay(failures++, options.backoff);
        await sleep(pause, signal).catch(() => undefined);
      }
    }
  }

  /**
   * An etcd3 transaction builder guarded by `CreateRevision(key) == revision`: its `then` branch
   * runs only while the ticket's key still leads with that fencing token.
   */
  guard(ticket: Pick<Ticket, 'key' | 'revision'>): ComparatorBuilder {
    return this.client.if(ticket.key, 'Create', '==', ticket.revision);
  }

  private toLeader(kv: IKeyValue): LeaderInfo {
    const key = kv.key.toString();
    return {
      key,
      value: kv.value.toString(),
      revision: kv.create_revision,
      lease: leaseHexOfKey(this.prefix, key) ?? leaseIdHex(kv.lease),
    };
  }

  /** The queue (or its first `limit` keys) in campaign order: leader first. */
  private queue(signal?: AbortSignal, limit?: number) {
    return this.range(
      {
        key: this.prefixKey,
        range_end: this.prefixEnd,
        sort_target: 'Create',
        sort_order: 'Ascend',
        limit,
      },
      signal,
    );
  }

  private range(req: IRangeRequest, signal?: AbortSignal) {
    return this.request<IRangeResponse>('range', req, signal);
  }

  private request<T = ITxnResponse>(
    method: 'txn' | 'range',
    payload: ITxnRequest | IRangeRequest,
    signal?: AbortSignal,
  ): Promise<T> {
    const context = { timeout: this.settings.requestTimeout, signal };
    return unary<T>(this.client, 'KV', method, payload, context).catch((error: unknown) => {
      // Our own limit normally stops an oversized value first; this covers an etcd configured
      // with a smaller --max-request-bytes than we were told.
      if (
        error instanceof Error &&
        /request is too large|message larger than max/.test(error.message)
      ) {
        throw new ValueTooLargeError(NaN, this.settings.maxRequestBytes);
      }
      throw error;
    });
  }
}

/** What `kv`, our key as read at `revision` (undefined: not found), says about our ownership. */
function ownership(ticket: Ticket, kv: IKeyValue | undefined, revision: string): Ownership {
  return {
    owned: !!kv && kv.create_revision === ticket.revision && kv.lease === ticket.leaseId,
    exists: !!kv,
    revision,
  };
}
