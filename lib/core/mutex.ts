import type { ComparatorBuilder, Etcd3, IKeyValue } from 'etcd3';
import {
  candidateKey,
  electionPrefix,
  nextRevision,
  prefixRangeEnd,
  previousRevision,
} from './keys.js';
import { request, watch } from './rpc.js';

/** One waiter's place in a lock's queue: its key, the key's create revision, and its lease. */
export interface MutexTicket {
  /** `<name>/<lease hex>`, as Go's `concurrency.Mutex` writes it. */
  key: string;
  /** Create revision of the key: the place in the queue, and the fencing token once held. */
  revision: string;
  /** The lease id (decimal string of the int64). */
  leaseId: string;
}

/** What the lock transaction found: our ticket, and whether we hold the lock already. */
export interface MutexEntry {
  ticket: MutexTicket;
  /** True when our key is the oldest under the prefix: the lock is ours at once. */
  held: boolean;
  /** Header revision of the transaction. */
  revision: string;
}

/** What a read of our own key says about our hold on it. */
export interface MutexOwnership {
  /** The key exists with our create revision and our lease. */
  owned: boolean;
  /** The key exists at all (if not owned: someone overwrote it). */
  exists: boolean;
  /** Header revision of the read. */
  revision: string;
}

/** Callbacks that count what a wait costs. */
export interface MutexWaitHooks {
  /** Called with the number of events each time the wait's watch delivers some. */
  onWatchEvents?(count: number): void;
  /** Called each time the predecessor we waited on is deleted. */
  onWake?(): void;
}

/** Why a held key stopped being ours. */
export type MutexKeyLoss = 'key-deleted' | 'key-overwritten';

/** Tuning of a {@link Mutex}. */
export interface MutexSettings {
  /** Deadline of each unary request, in milliseconds. */
  requestTimeout: number;
}

/**
 * etcd's lock recipe, exactly as Go's `concurrency.Mutex` runs it (and `etcdctl lock`, and etcd's
 * `v3lock` service), plus the post-wait ownership check. Every call takes an `AbortSignal`; none
 * retries: the lock supervisor decides what to do on failure.
 */
export class Mutex {
  /** `<name>/`: the prefix every waiter's key has. */
  readonly prefix: string;
  private readonly prefixKey: Buffer;
  private readonly prefixEnd: Buffer;

  constructor(
    private readonly client: Etcd3,
    /** The lock name, shared with every other implementation locking it. */
    readonly name: string,
    private readonly settings: MutexSettings,
  ) {
    this.prefix = electionPrefix(name);
    this.prefixKey = Buffer.from(this.prefix);
    this.prefixEnd = prefixRangeEnd(this.prefixKey);
  }

  /** The key a waiter holding `leaseId` writes: `<name>/<lease hex>`. */
  keyOf(leaseId: string): string {
    return candidateKey(this.name, leaseId);
  }

  /**
   * Joins the queue with the session's lease, in one transaction: `If(CreateRevision(key) == 0)
   * Then Put(key, "", lease), Get(prefix, FirstCreate) Else Get(key), Get(prefix, FirstCreate)`.
   * An existing key (a retry) keeps its place.
   */
  async enqueue(leaseId: string, signal?: AbortSignal): Promise<MutexEntry> {
    const key = Buffer.from(this.keyOf(leaseId));
    const owner = {
      request_range: {
        key: this.prefixKey,
        range_end: this.prefixEnd,
        sort_target: 'Create' as const,
        sort_order: 'Ascend' as const,
        limit: 1,
      },
    };
    const res = await this.request(
      o =>
        this.client.kv.txn(
          {
            compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
            success: [{ request_put: { key, value: Buffer.alloc(0), lease: leaseId } }, owner],
            failure: [{ request_range: { key } }, owner],
          },
          o,
        ),
      signal,
    );
    let revision = res.header.revision;
    if (!res.succeeded) {
      const existing = res.responses[0]?.response_range?.kvs[0];
      if (existing) revision = existing.create_revision;
    }
    const first = res.responses[1]?.response_range?.kvs[0];
    return {
      ticket: { key: key.toString(), revision, leaseId },
      held: !first || first.create_revision === revision,
      revision: res.header.revision,
    };
  }

  /**
   * Resolves once no key older than ours is left, with our own key as read at that same revision
   * (the post-wait ownership check, in the same read-only transaction). Waits on the predecessor
   * only, the newest key older than ours, so one release wakes exactly one waiter.
   */
  async waitForTurn(
    ticket: MutexTicket,
    signal?: AbortSignal,
    hooks: MutexWaitHooks = {},
  ): Promise<MutexOwnership> {
    const own = Buffer.from(ticket.key);
    for (;;) {
      const res = await this.request(
        o =>
          this.client.kv.txn(
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
            o,
          ),
        signal,
      );
      const predecessor = res.responses[0]?.response_range?.kvs[0];
      if (!predecessor) {
        return ownership(ticket, res.responses[1]?.response_range?.kvs[0], res.header.revision);
      }
      await watch(
        this.client,
        { key: predecessor.key, startRevision: res.header.revision },
        events => {
          hooks.onWatchEvents?.(events.length);
          return events.some(event => event.type === 'Delete');
        },
        { signal, timeout: this.settings.requestTimeout },
      );
      hooks.onWake?.();
    }
  }

  /**
   * Go's `TryLock`: joins the queue and, unless the lock is ours at once, leaves it again
   * (guarded delete) and resolves undefined. Resolves with the entry when held.
   */
  async tryLock(leaseId: string, signal?: AbortSignal): Promise<MutexEntry | undefined> {
    const entry = await this.enqueue(leaseId, signal);
    if (entry.held) return entry;
    await this.unlock(entry.ticket);
    return undefined;
  }

  /** Re-reads our key: it must still exist with our create revision and our lease. */
  async verify(ticket: MutexTicket, signal?: AbortSignal): Promise<MutexOwnership> {
    const res = await this.request(
      o => this.client.kv.range({ key: Buffer.from(ticket.key) }, o),
      signal,
    );
    return ownership(ticket, res.kvs[0], res.header.revision);
  }

  /**
   * Watches our key from after `afterRevision` and resolves when someone deletes it or overwrites
   * it. Rejects when the watch breaks; the caller re-verifies and watches again.
   */
  async watchOwnership(
    ticket: MutexTicket,
    afterRevision: string,
    signal?: AbortSignal,
  ): Promise<MutexKeyLoss> {
    let loss: MutexKeyLoss = 'key-deleted';
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
   * Leaves the queue (or releases the lock), guarded: `If(CreateRevision(key) == ours) Then
   * Delete(key)`. Returns false when the key was already gone or is someone else's.
   */
  async unlock(ticket: MutexTicket, signal?: AbortSignal): Promise<boolean> {
    const key = Buffer.from(ticket.key);
    const res = await this.request(
      o =>
        this.client.kv.txn(
          {
            compare: [{ key, target: 'Create', result: 'Equal', create_revision: ticket.revision }],
            success: [{ request_delete_range: { key } }],
          },
          o,
        ),
      signal,
    );
    return res.succeeded;
  }

  /**
   * Deletes whatever sits at our key now, unguarded: for a key someone overwrote (another create
   * revision or lease). `<name>/<our lease hex>` is ours by name, and a foreign value there would
   * otherwise be taken for our place in the queue by the next lock transaction.
   */
  async evict(ticket: Pick<MutexTicket, 'key'>, signal?: AbortSignal): Promise<void> {
    await this.request(
      o => this.client.kv.deleteRange({ key: Buffer.from(ticket.key) }, o),
      signal,
    );
  }

  /** The holder's key and create revision as etcd has them now; undefined when nobody waits. */
  async holder(signal?: AbortSignal): Promise<{ key: string; revision: string } | undefined> {
    const res = await this.request(
      o =>
        this.client.kv.range(
          {
            key: this.prefixKey,
            range_end: this.prefixEnd,
            sort_target: 'Create',
            sort_order: 'Ascend',
            limit: 1,
          },
          o,
        ),
      signal,
    );
    const kv = res.kvs[0];
    return kv && { key: kv.key.toString(), revision: kv.create_revision };
  }

  /**
   * An etcd3 transaction builder guarded by `CreateRevision(key) == revision`: its `then` branch
   * runs only while that key still holds the lock with that fencing token.
   */
  guard(ticket: Pick<MutexTicket, 'key' | 'revision'>): ComparatorBuilder {
    return this.client.if(ticket.key, 'Create', '==', ticket.revision);
  }

  private request<T>(fn: Parameters<typeof request<T>>[0], signal?: AbortSignal): Promise<T> {
    return request(fn, { timeout: this.settings.requestTimeout, signal });
  }
}

function ownership(
  ticket: MutexTicket,
  kv: IKeyValue | undefined,
  revision: string,
): MutexOwnership {
  return {
    owned: !!kv && kv.create_revision === ticket.revision && kv.lease === ticket.leaseId,
    exists: !!kv,
    revision,
  };
}
