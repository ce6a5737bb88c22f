/** The queue both recipes share: keys under a prefix, oldest first, and the wait on a predecessor. */
import type {
  ComparatorBuilder,
  Etcd3,
  IKeyValue,
  IRangeRequest,
  IRangeResponse,
  ITxnRequest,
  ITxnResponse,
} from 'etcd3';
import { ValueTooLargeError } from './errors/index.js';
import {
  candidateKey,
  electionPrefix,
  nextRevision,
  prefixRangeEnd,
  previousRevision,
} from './keys.js';
import { mark } from './marks.js';
import { sleep, unary, watch } from './rpc.js';

/** A place in a queue: its key, the key's create revision, and the lease it is bound to. */
export interface QueueTicket {
  /** `<name>/<lease hex>`. */
  key: string;
  /** Create revision of the key: the place in the queue, and the fencing token at its head. */
  revision: string;
  /** The lease id (decimal string of the int64). */
  leaseId: string;
}

/** Callbacks that count what a wait costs. */
export interface WaitHooks {
  /** Called with the number of watch events each time a wait watch delivers some. */
  onWatchEvents?(count: number): void;
  /** Called with the predecessor's key as the wait starts watching it. */
  onWait?(predecessor: string): void;
  /** Called when the predecessor we waited on is deleted. */
  onWake?(): void;
  /** Called after each successful read of the queue (etcd answers again). */
  onRead?(): void;
}

/** What a read of our own key says about our place. */
export interface Ownership {
  /** The key exists with our create revision and our lease. */
  owned: boolean;
  /** The key exists at all (if not owned: someone overwrote it). */
  exists: boolean;
  /** Header revision of the read. */
  revision: string;
}

/** Why we lost a key we were watching while at the head of the queue. */
export type KeyLoss = 'key-deleted' | 'key-overwritten';

/** Tuning of a {@link KeyQueue}. */
export interface QueueSettings {
  /** Time budget of each unary request, in milliseconds. */
  requestTimeout: number;
  /** Largest request etcd accepts (etcd's `--max-request-bytes`), when known. */
  maxRequestBytes?: number;
}

/**
 * The queue both of etcd's recipes keep under `<name>/` — Go's `concurrency.Election` and
 * `concurrency.Mutex` alike: keys ordered by create revision, the oldest at the head, each waiter
 * watching only its predecessor. The recipes add how a key joins ({@link Election.campaign},
 * {@link Mutex.enqueue}) and what the head means.
 */
export class KeyQueue {
  /** `<name>/`: the prefix every key of this queue has. */
  readonly prefix: string;
  protected readonly prefixKey: Buffer;
  protected readonly prefixEnd: Buffer;

  constructor(
    protected readonly client: Etcd3,
    /** The name, shared with every other implementation using it. */
    readonly name: string,
    protected readonly settings: QueueSettings,
  ) {
    this.prefix = electionPrefix(name);
    this.prefixKey = Buffer.from(this.prefix);
    this.prefixEnd = prefixRangeEnd(this.prefixKey);
  }

  /** The key a waiter holding `leaseId` writes: `<name>/<lease hex>`. */
  keyOf(leaseId: string | bigint): string {
    return candidateKey(this.name, leaseId);
  }

  /**
   * Resolves when no key with a lower create revision than ours is left, with our own key as
   * read at that same revision (the post-wait ownership check, at no extra round trip: both reads
   * go in one read-only transaction). Waits on the predecessor only (the newest key older than
   * ours), never on the whole prefix, so one departure wakes exactly one waiter.
   */
  async waitForTurn(
    ticket: QueueTicket,
    signal?: AbortSignal,
    hooks: WaitHooks = {},
  ): Promise<Ownership> {
    const own = Buffer.from(ticket.key);
    for (;;) {
      const res = await this.request<ITxnResponse>(
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
      hooks.onWait?.(predecessor.key.toString());
      await watch(
        this.client,
        { key: predecessor.key, startRevision: nextRevision(res.header.revision) },
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
  async verify(ticket: QueueTicket, signal?: AbortSignal): Promise<Ownership> {
    const res = await this.range({ key: Buffer.from(ticket.key) }, signal);
    return ownership(ticket, res.kvs[0], res.header.revision);
  }

  /**
   * Watches our key from `afterRevision` on and resolves when someone else deletes it or
   * overwrites it (another create revision, or a put that detached it from our lease).
   * Rejects when the watch breaks; the caller re-verifies and watches again.
   */
  async watchOwnership(
    ticket: QueueTicket,
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
   * Leaves the queue, guarded: `If(CreateRevision(key) == ours) Then Delete(key)` (Go's
   * `Resign` and `Unlock`). Returns false when the key was already gone or is someone else's.
   */
  async leave(ticket: QueueTicket, signal?: AbortSignal): Promise<boolean> {
    const key = Buffer.from(ticket.key);
    const res = await this.request<ITxnResponse>(
      'txn',
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: ticket.revision }],
        success: [{ request_delete_range: { key } }],
      },
      signal,
    );
    return res.succeeded;
  }

  /**
   * Leaves the queue when our create revision is not known (a join abandoned in flight may still
   * have written the key): `If(Lease(key) == ours) Then Delete(key)`. Only our lease writes
   * `<name>/<lease hex>`, so this deletes our key and nothing else.
   */
  async leaveLease(leaseId: string, signal?: AbortSignal): Promise<boolean> {
    const key = Buffer.from(this.keyOf(leaseId));
    const res = await this.request<ITxnResponse>(
      'txn',
      {
        compare: [{ key, target: 'Lease', result: 'Equal', lease: leaseId }],
        success: [{ request_delete_range: { key } }],
      },
      signal,
    );
    return res.succeeded;
  }

  /**
   * Calls `onChange` whenever a key of the queue is put or deleted (a waiter joins, leaves, or
   * rewrites its value), from now until `signal` aborts; also after a broken watch, which may
   * have missed one. One watch on the prefix: it costs nothing while the queue is quiet.
   */
  async watchQueue(onChange: () => void, signal: AbortSignal): Promise<void> {
    for (let failures = 0; !signal.aborted;) {
      try {
        const res = await this.range(
          { key: this.prefixKey, range_end: this.prefixEnd, count_only: true },
          signal,
        );
        failures = 0;
        await watch(
          this.client,
          {
            key: this.prefixKey,
            rangeEnd: this.prefixEnd,
            startRevision: nextRevision(res.header.revision),
          },
          () => {
            onChange();
            return false;
          },
          { signal, timeout: this.settings.requestTimeout },
        );
      } catch {
        if (signal.aborted) return;
        onChange();
        await sleep(Math.min(5000, 250 * 2 ** failures++), signal).catch(() => undefined);
      }
    }
  }

  /**
   * An etcd3 transaction builder guarded by `CreateRevision(key) == revision`: its `then` branch
   * runs only while that key is still there with that create revision (the fencing token).
   */
  guard(ticket: Pick<QueueTicket, 'key' | 'revision'>): ComparatorBuilder {
    return this.client.if(ticket.key, 'Create', '==', ticket.revision);
  }

  /** The queue (or its first `limit` keys) in order: the head first. */
  protected queue(signal?: AbortSignal, limit?: number): Promise<IRangeResponse> {
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

  protected range(req: IRangeRequest, signal?: AbortSignal): Promise<IRangeResponse> {
    return this.request<IRangeResponse>('range', req, signal);
  }

  /** One KV call through the client's transport (failover to another member within budget). */
  protected request<T>(
    method: 'txn' | 'range' | 'deleteRange',
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
        throw new ValueTooLargeError(NaN, this.settings.maxRequestBytes ?? NaN);
      }
      throw error;
    });
  }
}

/** What `kv`, our key as read at `revision` (undefined: not found), says about our place. */
function ownership(ticket: QueueTicket, kv: IKeyValue | undefined, revision: string): Ownership {
  return {
    owned: !!kv && kv.create_revision === ticket.revision && kv.lease === ticket.leaseId,
    exists: !!kv,
    revision,
  };
}
