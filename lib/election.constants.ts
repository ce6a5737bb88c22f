/** Every token and metadata key of the Nest layer, namespaced so they cannot collide with yours. */

/** Logger context of every line the library writes. */
export const ELECTION_LOGGER_CONTEXT = 'Election';

/** The options one `forRoot` / `forRootAsync` registration was given (private to it). */
export const ELECTION_MODULE_OPTIONS = 'nestjs-etcd-election:module-options';

/** The static description of one registration (private to it; the registry reads it). */
export const ELECTION_REGISTRATION = 'nestjs-etcd-election:registration';

/** The `ElectionService` instance of one registration (private to it). */
export const ELECTION_INSTANCE = 'nestjs-etcd-election:instance';

/** Metadata key of `@OnLeader`. */
export const ON_LEADER_METADATA = 'nestjs-etcd-election:on-leader';

/** Metadata key of `@OnFollower`. */
export const ON_FOLLOWER_METADATA = 'nestjs-etcd-election:on-follower';

/** Metadata key of `@LeaderOnly` (set on the wrapper it installs). */
export const LEADER_ONLY_METADATA = 'nestjs-etcd-election:leader-only';

/** Metadata key of `@LeaderRoute` (which election a `LeaderGuard` checks). */
export const LEADER_ROUTE_METADATA = 'nestjs-etcd-election:leader-route';

/** Response header in which a follower names the current leader's value. */
export const LEADER_HEADER = 'X-Election-Leader';

/**
 * The injection token of the `ElectionService` of election `name`, as `@InjectElection(name)`
 * uses it. The class token `ElectionService` itself resolves to the default election.
 */
export function getElectionToken(name: string): string {
  return `nestjs-etcd-election:election:${name}`;
}

/** Logger context of the lines about locks and `@WithoutOverlapping` jobs. */
export const LOCK_LOGGER_CONTEXT = 'Lock';

/**
 * The options of one registration, resolved once (private to it; `ElectionConnections` reads
 * them to tell import order).
 */
export const ELECTION_RESOLVED = 'nestjs-etcd-election:resolved';

/** Metadata key of `@WithoutOverlapping` (set on the wrapper it installs). */
export const WITHOUT_OVERLAPPING_METADATA = 'nestjs-etcd-election:without-overlapping';

/**
 * The prefix of the lock name a `@WithoutOverlapping` job gets when its options name none:
 * `nestjs-etcd-election/jobs/<Class>.<method>`.
 */
export const WITHOUT_OVERLAPPING_PREFIX = 'nestjs-etcd-election/jobs/';

/** Metadata key of `@OnOneInstance` (set on the wrapper it installs). */
export const ON_ONE_INSTANCE_METADATA = 'nestjs-etcd-election:on-one-instance';

/**
 * The prefix of the election name an `@OnOneInstance` job gets when its options name none:
 * `nestjs-etcd-election/one-instance/<Class>.<method>`.
 */
export const ON_ONE_INSTANCE_PREFIX = 'nestjs-etcd-election/one-instance/';
