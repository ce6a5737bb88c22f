/** etcd's election recipe, as Go's `concurrency.Election` has it: campaign, proclaim, resign, observe. */
import type { Etcd3, IKeyValue, ITxnResponse } from 'etcd3';
import { type BackoffOptions, backoffDelay } from './backoff.js';
import { NotLeaderError, ValueTooLargeError } from './errors/index.js';
import { refusalOf } from './errors/index.js';
import { candidateKey, leaseHexOfKey, leaseIdHex, nextRevision } from './keys.js';
import { sameLeader } from './leadership.js';
import { mark } from './marks.js';
import { KeyQueue, type QueueTicket } from './queue.js';
import { monotonicNow, sleep, watch } from './rpc.js';
import { Transport } from './transport.js';

export type { KeyLoss, Ownership, WaitHooks } from './queue.js';

/** A node's place in the queue: its key, the key's create revision, and the lease it is bound to. */
export interface Ticket extends QueueTicket {
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
  /** With etcd auth, the longest quiet spell before the token is used again (ms). */
  tokenRefresh?: number;
}

/**
 * etcd's election recipe, exactly as Go's `concurrency.Election` runs it, plus the ownership
 * check that Go's Mutex gained after Jepsen. Every call takes an `AbortSignal`; none retries —
 * the {@link Candidate} decides what to do on failure.
 */
export class Election extends KeyQueue {
  declare protected readonly settings: ElectionSettings;

  constructor(client: Etcd3, name: string, settings: ElectionSettings) {
    super(client, name, settings);
    Transport.of(client)?.keepTokenFresh(this.prefixKey, settings.tokenRefresh ?? 60_000);
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
    const res = await this.request<ITxnResponse>(
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
   * Replaces our value, guarded: `If(CreateRevision(key) == ours) Then Put(key, value, lease)`.
   * Returns false when the key is no longer ours (we are not in the queue, so not leader).
   */
  async proclaim(ticket: Ticket, value: string, signal?: AbortSignal): Promise<boolean> {
    this.checkValue(value, ticket.leaseId);
    const key = Buffer.from(ticket.key);
    const res = await this.request<ITxnResponse>(
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

  /** Go's `Resign`: leaves the queue, guarded by our create revision (see {@link leave}). */
  async resign(ticket: Ticket, signal?: AbortSignal): Promise<boolean> {
    mark('resign-sent');
    const left = await this.leave(ticket, signal);
    mark('resign-acked');
    return left;
  }

  /** Leaves the queue without knowing our create revision (see {@link leaveLease}). */
  resignLease(leaseId: string, signal?: AbortSignal): Promise<boolean> {
    return this.leaveLease(leaseId, signal);
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
    options: {
      signal: AbortSignal;
      backoff: BackoffOptions;
      onError?: (error: unknown) => void;
      /**
       * Given the key whose deletion the observer saw: resolves once a read that decides who
       * leads (a waiter's, woken by the same deletion) is answered; the observer holds back
       * until then (at most 100 ms), so that its own work does not delay it.
       */
      decided?: (deletedKey: string) => Promise<void> | undefined;
    },
  ): Promise<void> {
    const { signal } = options;
    let last: LeaderInfo | undefined | null = null;
    const emit = (leader: LeaderInfo | undefined, at = monotonicNow()) => {
      if (last !== null && sameLeader(last, leader)) return;
      last = leader;
      onChange(leader, at);
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
            {
              key: this.prefixKey,
              rangeEnd: this.prefixEnd,
              startRevision: nextRevision(revision),
            },
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
        let goneAt = 0;
        await watch(
          this.client,
          { key: leaderKv.key, startRevision: nextRevision(revision) },
          events => {
            for (const event of events) {
              if (event.type === 'Delete') {
                goneAt = monotonicNow();
                return true;
              }
              emit(this.toLeader(event.kv));
            }
            return false;
          },
          { signal, timeout: this.settings.requestTimeout },
        );
        // The leader is gone. A candidate of this process waiting on the same key got the same
        // deletion, maybe in the same read from the socket: let its read go out and come back
        // first (bounded), since it decides who leads and ours only reports it.
        await new Promise(resolve => setImmediate(resolve));
        const decided = options.decided?.(leaderKv.key.toString());
        if (decided) await Promise.race([decided, sleep(100, signal)]);
        emit(undefined, goneAt);
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

  private toLeader(kv: IKeyValue): LeaderInfo {
    const key = kv.key.toString();
    return {
      key,
      value: kv.value.toString(),
      revision: kv.create_revision,
      lease: leaseHexOfKey(this.prefix, key) ?? leaseIdHex(kv.lease),
    };
  }
}
