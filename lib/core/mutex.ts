/** etcd's mutex recipe, as Go's `concurrency.Mutex` has it: lock, try-lock, unlock. */
import type { Etcd3, ITxnResponse, IRangeResponse } from 'etcd3';
import {
  KeyQueue,
  type KeyLoss,
  type Ownership,
  type QueueTicket,
  type WaitHooks,
} from './queue.js';

/** One waiter's place in a lock's queue: its key, the key's create revision, and its lease. */
export type MutexTicket = QueueTicket;

/** What the lock transaction found: our ticket, and whether we hold the lock already. */
export interface MutexEntry {
  ticket: MutexTicket;
  /** True when our key is the oldest under the prefix: the lock is ours at once. */
  held: boolean;
  /** Header revision of the transaction. */
  revision: string;
}

/** What a read of our own key says about our hold on it. */
export type MutexOwnership = Ownership;

/** Callbacks that count what a wait costs. */
export type MutexWaitHooks = WaitHooks;

/** Why a held key stopped being ours. */
export type MutexKeyLoss = KeyLoss;

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
export class Mutex extends KeyQueue {
  constructor(client: Etcd3, name: string, settings: MutexSettings) {
    super(client, name, settings);
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
    const res = await this.request<ITxnResponse>(
      'txn',
      {
        compare: [{ key, target: 'Create', result: 'Equal', create_revision: 0 }],
        success: [{ request_put: { key, value: Buffer.alloc(0), lease: leaseId } }, owner],
        failure: [{ request_range: { key } }, owner],
      },
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
   * Go's `TryLock`: joins the queue and, unless the lock is ours at once, leaves it again
   * (guarded delete) and resolves undefined. Resolves with the entry when held.
   */
  async tryLock(leaseId: string, signal?: AbortSignal): Promise<MutexEntry | undefined> {
    const entry = await this.enqueue(leaseId, signal);
    if (entry.held) return entry;
    await this.unlock(entry.ticket);
    return undefined;
  }

  /** Go's `Unlock`: leaves the queue (or releases the lock), guarded (see {@link leave}). */
  unlock(ticket: MutexTicket, signal?: AbortSignal): Promise<boolean> {
    return this.leave(ticket, signal);
  }

  /**
   * Deletes whatever sits at our key now, unguarded: for a key someone overwrote (another create
   * revision or lease). `<name>/<our lease hex>` is ours by name, and a foreign value there would
   * otherwise be taken for our place in the queue by the next lock transaction.
   */
  async evict(ticket: Pick<MutexTicket, 'key'>, signal?: AbortSignal): Promise<void> {
    await this.request('deleteRange', { key: Buffer.from(ticket.key) }, signal);
  }

  /** The holder's key and create revision as etcd has them now; undefined when nobody waits. */
  async holder(signal?: AbortSignal): Promise<{ key: string; revision: string } | undefined> {
    const res: IRangeResponse = await this.queue(signal, 1);
    const kv = res.kvs[0];
    return kv && { key: kv.key.toString(), revision: kv.create_revision };
  }
}
