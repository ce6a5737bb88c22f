/**
 * The names of the library's `node:diagnostics_channel` channels: public API, as the payload
 * shapes in `events.ts` are.
 */

/** The names of every channel this library publishes on. */
export const DIAGNOSTICS_CHANNELS = {
  /** This node won a term: {@link ElectedEvent}. */
  elected: 'nestjs-etcd-election:elected',
  /** A term ended against this node's will (lease, key, etcd): {@link TermEndedEvent}. */
  lost: 'nestjs-etcd-election:lost',
  /** This node gave a term up (`resign()`, or `stop()` on shutdown): {@link TermEndedEvent}. */
  resigned: 'nestjs-etcd-election:resigned',
  /** This node's view of an election changed (role, reason, key, leader): {@link StateEvent}. */
  state: 'nestjs-etcd-election:state',
  /** The observed leader changed, whoever runs it: {@link LeaderObservedEvent}. */
  leaderObserved: 'nestjs-etcd-election:leader-observed',
  /** A session (lease) was lost: expired locally or revoked in etcd: {@link SessionLostEvent}. */
  sessionLost: 'nestjs-etcd-election:session-lost',
  /** A lock was acquired: {@link LockEvent}. */
  lockAcquired: 'nestjs-etcd-election:lock-acquired',
  /** A lock was released by its holder: {@link LockEvent}. */
  lockReleased: 'nestjs-etcd-election:lock-released',
  /** A lock was lost (session lost, key deleted): {@link LockEvent}. */
  lockLost: 'nestjs-etcd-election:lock-lost',
  /** This node resigned a term to even out leadership across replicas: {@link RebalancedEvent}. */
  rebalanced: 'nestjs-etcd-election:rebalanced',
  /** The engine met an etcd error and will retry: {@link EtcdErrorEvent}. */
  etcdError: 'nestjs-etcd-election:etcd-error',
} as const;

/** One of the {@link DIAGNOSTICS_CHANNELS} names. */
export type DiagnosticsChannelName =
  (typeof DIAGNOSTICS_CHANNELS)[keyof typeof DIAGNOSTICS_CHANNELS];
