/**
 * The name of every metric `nestjs-etcd-election/metrics` exports. Names and label sets are
 * stable: a change to either is a breaking change of the package.
 */
export const ELECTION_METRICS = {
  /** Gauge `{election}`: 1 while this process leads the election, else 0. */
  isLeader: 'etcd_election_is_leader',
  /** Gauge `{election}`: 1 while this process's candidate holds a live etcd session, else 0. */
  hasSession: 'etcd_election_has_session',
  /** Gauge `{election}`: 1 while this process sees some leader (any language), else 0. */
  leaderPresent: 'etcd_election_leader_present',
  /** Counter `{election}`: terms this process won. */
  termsWon: 'etcd_election_terms_won_total',
  /** Counter `{election, reason}`: terms this process ended, resigns included. */
  termsLost: 'etcd_election_terms_lost_total',
  /** Counter `{election}`: changes of leader this process observed (whoever leads). */
  leaderChanges: 'etcd_election_leader_changes_total',
  /** Counter `{reason}`: sessions (leases) lost, `expired` or `revoked`. */
  sessionLosses: 'etcd_election_session_losses_total',
  /** Counter `{election, kind}`: etcd errors the engine met and retried. */
  etcdErrors: 'etcd_election_etcd_errors_total',
  /** Counter `{election}`: terms given up to even out leadership across replicas. */
  rebalanced: 'etcd_election_rebalanced_total',
  /** Histogram `{election}`: seconds from the old leader's key deleted to the new leader seen. */
  handover: 'etcd_election_handover_seconds',
  /** Histogram `{election}`: seconds from the local lease deadline to the step-down. */
  stepDownAfterDeadline: 'etcd_election_step_down_after_deadline_seconds',
  /** Gauge `{lock}`: 1 while this process holds the lock, else 0. */
  lockHeld: 'etcd_election_lock_held',
  /** Counter `{lock}`: times this process acquired the lock. */
  lockAcquired: 'etcd_election_lock_acquired_total',
  /** Counter `{lock, reason}`: times this process lost the lock while holding it. */
  lockLost: 'etcd_election_lock_lost_total',
  /** Histogram `{lock}`: seconds spent waiting for the lock. */
  lockWait: 'etcd_election_lock_wait_seconds',
} as const;

/** Buckets of {@link ELECTION_METRICS.handover}, in seconds: from a resign (ms) to a TTL (s). */
export const HANDOVER_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];

/** Buckets of {@link ELECTION_METRICS.stepDownAfterDeadline}, in seconds. */
export const STEP_DOWN_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Buckets of {@link ELECTION_METRICS.lockWait}, in seconds. */
export const LOCK_WAIT_BUCKETS = [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/** Injection token of the options of `ElectionMetricsModule`. */
export const ELECTION_METRICS_OPTIONS = 'nestjs-etcd-election:metrics-options';
