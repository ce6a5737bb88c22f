/** The etcd3 client as the engine wants it: no gRPC retries, keepalive pings, fast reconnects. */
import { Etcd3, type IOptions } from 'etcd3';

type FaultPolicy = NonNullable<NonNullable<IOptions['faultHandling']>['global']>;

/**
 * A policy that runs each call once, as is. The engine retries with its own backoff; etcd3's
 * default circuit breaker would instead refuse every call for 5 s after 3 failures, delaying
 * recovery after an etcd restart by up to 5 s.
 */
const passthrough = {
  // Async like cockatiel's policies: etcd3 relies on a thrown error becoming a rejection.
  execute: async (fn: (context: { signal: AbortSignal }) => unknown) =>
    fn({ signal: new AbortController().signal }),
} as unknown as FaultPolicy;

/**
 * Creates the etcd3 client the library uses when it owns one: no circuit breaker and no hidden
 * retries (the engine retries with backoff), gRPC keepalive pings so that a connection silently
 * cut off (a stalled network) is noticed within seconds, and gRPC's reconnect backoff capped at
 * half a second (its default grows to two minutes), so that after an outage the node is back
 * within a second of etcd. Options the caller sets win.
 */
export function createEtcdClient(options: IOptions): Etcd3 {
  return new Etcd3({
    ...options,
    grpcOptions: {
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5_000,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
      ...options.grpcOptions,
    },
    faultHandling: {
      host: () => passthrough,
      global: passthrough,
      ...options.faultHandling,
    },
  });
}
