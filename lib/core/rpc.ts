/** Requests and streams on etcd3's gRPC clients: deadlines, abort signals, failover, closes. */
import type { Etcd3, IEvent, IResponseHeader, IWatchResponse } from 'etcd3';
import { systemClock } from './clock.js';
import { WatchInterruptedError } from './errors/index.js';
import { classifyEtcdError } from './errors/index.js';
import { type Member, type Service, Transport } from './transport.js';

/** gRPC call options as etcd3's raw clients take them. */
export type CallOptions = NonNullable<Parameters<Etcd3['kv']['range']>[1]>;

/** Monotonic milliseconds (CLOCK_MONOTONIC): immune to wall-clock jumps, comparable in-process. */
export function monotonicNow(): number {
  return systemClock.monotonic();
}

/** How long a unary request may take, and when to give up on it. */
export interface RequestContext {
  /** Deadline of the request in milliseconds. */
  timeout: number;
  /** Aborting gives up at once (a result that still arrives goes to `dispose`). */
  signal?: AbortSignal;
}

/**
 * Runs one unary etcd request with a gRPC deadline, rejecting early with `signal.reason` when
 * the signal aborts. Every request the engine makes goes through here, so none can hang. What
 * an abandoned request still creates (a stream, a lease) is handed to `dispose` when it arrives,
 * so that nothing is left open in etcd or in this process.
 */
export function request<T>(
  fn: (options: CallOptions) => Promise<T>,
  { timeout, signal }: RequestContext,
  dispose?: (value: T) => void,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  const pending = fn({ deadline: Date.now() + timeout });
  if (!signal) return pending;
  return new Promise<T>((resolve, reject) => {
    let abandoned = false;
    const onAbort = () => {
      abandoned = true;
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    pending.then(
      value => {
        signal.removeEventListener('abort', onAbort);
        if (abandoned) dispose?.(value);
        else resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A gRPC duplex stream as the engine uses it. */
export interface DuplexStream {
  on(event: string, listener: (arg: never) => void): unknown;
  write(message: unknown): unknown;
  end(): void;
  cancel(): void;
}

/** An open stream and the member it runs on (unknown without a {@link Transport}). */
export interface OpenStream<S> {
  stream: S;
  member?: Member;
}

/**
 * Opens a Watch or LeaseKeepAlive stream on the client's current member, asking for a member
 * with a raft leader (see {@link Transport.stream}). A stream that arrives after `signal` aborted
 * is closed at once.
 */
export function openStream<S extends DuplexStream>(
  client: Etcd3,
  service: 'Watch' | 'Lease',
  context: RequestContext,
): Promise<OpenStream<S>> {
  const transport = Transport.of(client);
  // A cancelled or broken stream still emits 'error'; an unheard one would crash the process.
  const heard = (open: OpenStream<S>): OpenStream<S> => {
    open.stream.on('error', () => undefined);
    return open;
  };
  const open = (): Promise<OpenStream<S>> =>
    transport
      ? transport.stream<S>(service).then(heard)
      : (
          (service === 'Watch'
            ? client.watchClient.watch()
            : client.leaseClient.leaseKeepAlive()) as unknown as Promise<S>
        ).then(stream => heard({ stream }));
  return request(open, context, ({ stream }) => closeStream(stream));
}

/** The etcd3 sub-client of each service, for clients without a {@link Transport}. */
const FALLBACK = { KV: 'kv', Lease: 'leaseClient', Watch: 'watchClient' } as const;

/**
 * One unary etcd call with a time budget, through the client's {@link Transport} (failover to
 * another member) when it has one. What an abandoned call still creates goes to `dispose`.
 */
export function unary<T>(
  client: Etcd3,
  service: Service,
  method: string,
  payload: unknown,
  context: RequestContext,
  dispose?: (value: T) => void,
): Promise<T> {
  const transport = Transport.of(client);
  if (!transport) {
    const sub = client[FALLBACK[service]] as unknown as Record<
      string,
      (payload: unknown, options: CallOptions) => Promise<T>
    >;
    return request(o => sub[method](payload, o), context, dispose);
  }
  // With something to dispose of, the call itself is not cancelled on abort: its result is
  // awaited in the background and handed over.
  if (dispose) {
    return request(
      () => transport.unary<T>(service, method, payload, { timeout: context.timeout }),
      context,
      dispose,
    );
  }
  return transport.unary<T>(service, method, payload, context);
}

/** Half-closes and cancels a stream; safe on one that is already closed. */
export function closeStream(stream: { end(): void; cancel(): void }): void {
  try {
    stream.end();
    stream.cancel();
  } catch {
    // already closed
  }
}

/** Waits `ms` milliseconds, or rejects with `signal.reason` as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Never resolves; rejects with `signal.reason` once the signal aborts. */
export function untilAborted(signal: AbortSignal): Promise<never> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
}

/**
 * How long a watch that ended successfully stays open before it is closed, in milliseconds:
 * longer than the round trip its caller sends on waking, so the close runs after the answer.
 */
const SETTLED_CLOSE_DELAY = 50;

/** What to watch: one key, or a range when `rangeEnd` is given, from `startRevision` on. */
export interface WatchTarget {
  key: Buffer;
  rangeEnd?: Buffer;
  startRevision: string;
}

/**
 * Receives each batch of events; returning true ends the watch successfully.
 */
export type WatchHandler = (events: IEvent[], header: IResponseHeader) => boolean | void;

/**
 * Watches `target` on a gRPC stream of its own until `onEvents` returns true (resolves), the
 * signal aborts (rejects with its reason), or the watch breaks: stream error or end, or etcd
 * cancelled it, e.g. because `startRevision` was compacted (rejects with
 * {@link WatchInterruptedError}; the caller re-reads and watches again). No progress
 * notifications are requested, so an idle watch costs no traffic.
 */
export async function watch(
  client: Etcd3,
  target: WatchTarget,
  onEvents: WatchHandler,
  context: RequestContext,
): Promise<void> {
  const { stream, member } = await openStream<DuplexStream>(client, 'Watch', context);
  const { signal } = context;
  const transport = Transport.of(client);
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    // The member was left (it stopped answering, lost its leader …): re-read elsewhere.
    const stopListening = transport?.onAbandon((left, why) => {
      if (left === member) finish(new WatchInterruptedError(`member ${left.host} left (${why})`));
    });
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      stopListening?.();
      signal?.removeEventListener('abort', onAbort);
      if (error === undefined) resolve();
      else reject(error);
      // Tear the stream down once the caller has moved on: closing a gRPC stream costs about a
      // millisecond of CPU. A watch that saw what it waited for wakes a caller that sends a
      // request at once and decides on its answer (a waiter's post-wait read), so its close
      // waits until that answer is in, well past the next turn of the event loop; the others
      // close on the next turn. Half-close first: a stream that is no longer writable is not
      // reported to etcd3's circuit breaker when the cancel below surfaces as a CANCELLED error.
      if (error === undefined) setTimeout(() => closeStream(stream), SETTLED_CLOSE_DELAY).unref();
      else setImmediate(() => closeStream(stream));
    };
    const onAbort = () => finish(signal!.reason);
    if (signal?.aborted) return finish(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });

    stream.on('data', (res: IWatchResponse) => {
      if (settled) return;
      if (res.canceled) {
        const compacted = res.compact_revision && res.compact_revision !== '0';
        return finish(
          new WatchInterruptedError(
            compacted
              ? `revision ${target.startRevision} was compacted (compact revision ${res.compact_revision})`
              : res.cancel_reason || 'cancelled by etcd',
            compacted ? res.compact_revision : undefined,
          ),
        );
      }
      if (res.created || res.events.length === 0) return;
      let done: boolean | void;
      try {
        done = onEvents(res.events, res.header);
      } catch (error) {
        return finish(error);
      }
      if (done) finish();
    });
    stream.on('error', (error: Error) => {
      if (settled) return;
      const kind = classifyEtcdError(error);
      if (member && (kind === 'unreachable' || kind === 'no-leader')) {
        transport?.abandon(member, `watch: ${kind}`);
      }
      finish(new WatchInterruptedError(error.message));
    });
    stream.on('end', () => finish(new WatchInterruptedError('stream ended')));
    stream.write({
      create_request: {
        key: target.key,
        range_end: target.rangeEnd,
        start_revision: target.startRevision,
      },
    });
  });
}

/** True when `error` is the reason of an aborted `signal` (i.e. the abort, not a failure). */
export function isAbortOf(signal: AbortSignal, error: unknown): boolean {
  return signal.aborted && error === signal.reason;
}
