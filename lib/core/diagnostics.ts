import diagnostics from 'node:diagnostics_channel';
import {
  EtcdInvalidAuthTokenError,
  EtcdLeaseInvalidError,
  EtcdWatchStreamEnded,
  GRPCCancelledError,
  GRPCUnauthenticatedError,
} from 'etcd3';
import type { LeaderInfo } from './election.js';
import { WatchInterruptedError } from './errors.js';
import { type EtcdFailureKind, classifyEtcdError } from './etcd-errors.js';
import type { FencingToken, Leadership, LeadershipReason } from './leadership.js';
import { monotonicNow } from './rpc.js';
import type { SessionLossReason } from './session.js';

/**
 * The library's events on `node:diagnostics_channel`. Channel names and payload shapes are
 * public API. Every publish function checks `hasSubscribers` first, so an event nobody listens
 * to costs one property read.
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

/** What every event carries. */
export interface DiagnosticsEvent {
  /** Monotonic milliseconds (`process.hrtime`) when the event happened; comparable in-process. */
  at: number;
}

/** `nestjs-etcd-election:elected`. */
export interface ElectedEvent extends DiagnosticsEvent {
  /** The election name. */
  election: string;
  /** The fencing token of the new term. */
  token: FencingToken;
  /** This node's value. */
  value: string;
  /** This node's lease id in hex. */
  lease?: string;
}

/** `nestjs-etcd-election:lost` and `nestjs-etcd-election:resigned`. */
export interface TermEndedEvent extends DiagnosticsEvent {
  /** The election name. */
  election: string;
  /** The fencing token of the term that ended. */
  token: FencingToken;
  /** Why it ended. */
  reason: LeadershipReason;
  /** How long the term lasted, in milliseconds (wall clock). */
  heldMs: number;
  /**
   * For a term that ended after its local lease deadline had passed (`session-expired`, or the
   * expired lease's key deletion seen first): milliseconds from the deadline to the step-down,
   * that is how late the process noticed (timer lateness, a pause). Undefined otherwise.
   */
  afterDeadlineMs?: number;
}

/** `nestjs-etcd-election:state`. */
export interface StateEvent extends DiagnosticsEvent {
  /** The new snapshot. */
  leadership: Leadership;
  /** The snapshot before. */
  previous: Leadership;
}

/** `nestjs-etcd-election:leader-observed`. */
export interface LeaderObservedEvent extends DiagnosticsEvent {
  /** The election name. */
  election: string;
  /** The leader now seen; undefined when its key went and nobody leads yet. */
  leader?: LeaderInfo;
  /** The leader before, when known. */
  previous?: LeaderInfo;
  /** When a new leader follows a deleted leader key: the leader whose key went. */
  from?: LeaderInfo;
  /** When a new leader follows a deleted leader key: milliseconds from the deletion to it. */
  handoverMs?: number;
}

/** `nestjs-etcd-election:session-lost`. */
export interface SessionLostEvent extends DiagnosticsEvent {
  /** The lease id in hex. */
  lease: string;
  /** Why: `expired` (no keepalive acknowledged in time) or `revoked` (etcd says it is gone). */
  reason: Exclude<SessionLossReason, 'closed'>;
  /** The lease TTL in seconds. */
  ttl: number;
  /** Milliseconds from the local deadline to the moment the loss was declared (≥ 0 if expired). */
  afterDeadlineMs: number;
}

/** `nestjs-etcd-election:lock-acquired`, `…:lock-released` and `…:lock-lost`. */
export interface LockEvent extends DiagnosticsEvent {
  /** The lock name (its etcd prefix). */
  name: string;
  /** The holder's key. */
  key: string;
  /** The lock's fencing token: its key's create revision (decimal string of an int64). */
  fencingToken: string;
  /** Acquired: milliseconds spent waiting in the queue. */
  waitedMs?: number;
  /** Released or lost: milliseconds the lock was held. */
  heldMs?: number;
  /** Lost: why (`session-expired`, `lease-revoked`, `key-deleted` …). */
  reason?: string;
}

/** `nestjs-etcd-election:rebalanced`. */
export interface RebalancedEvent extends DiagnosticsEvent {
  /** The election given up. */
  election: string;
  /** The fencing token of the term given up. */
  token: FencingToken;
  /** Balanced elections this replica led before giving this one up. */
  leading: number;
  /** Its fair share, ceil(E / R). */
  fairShare: number;
  /** Live replicas it could see. */
  replicas: number;
}

/** What kind of etcd error an {@link EtcdErrorEvent} reports. */
export type EtcdErrorKind =
  | 'unavailable'
  | 'deadline-exceeded'
  | 'auth-failed'
  | 'permission-denied'
  | 'tls-rejected'
  | 'no-leader'
  | 'lease-not-found'
  | 'watch-interrupted'
  | 'cancelled'
  | 'other';

/** `nestjs-etcd-election:etcd-error`. */
export interface EtcdErrorEvent extends DiagnosticsEvent {
  /** The election whose engine met the error. */
  election: string;
  /** The error's kind, a stable label value. */
  kind: EtcdErrorKind;
  /** The error itself. */
  error: unknown;
}

const channels = {
  elected: diagnostics.channel(DIAGNOSTICS_CHANNELS.elected),
  lost: diagnostics.channel(DIAGNOSTICS_CHANNELS.lost),
  resigned: diagnostics.channel(DIAGNOSTICS_CHANNELS.resigned),
  state: diagnostics.channel(DIAGNOSTICS_CHANNELS.state),
  leaderObserved: diagnostics.channel(DIAGNOSTICS_CHANNELS.leaderObserved),
  sessionLost: diagnostics.channel(DIAGNOSTICS_CHANNELS.sessionLost),
  lockAcquired: diagnostics.channel(DIAGNOSTICS_CHANNELS.lockAcquired),
  lockReleased: diagnostics.channel(DIAGNOSTICS_CHANNELS.lockReleased),
  lockLost: diagnostics.channel(DIAGNOSTICS_CHANNELS.lockLost),
  rebalanced: diagnostics.channel(DIAGNOSTICS_CHANNELS.rebalanced),
  etcdError: diagnostics.channel(DIAGNOSTICS_CHANNELS.etcdError),
};

/** Voluntary ends of a term go to `resigned`; every other end to `lost`. */
const VOLUNTARY: ReadonlySet<LeadershipReason> = new Set(['resigned', 'rebalanced', 'stopping']);

/** @internal Publishes `elected`. */
export function publishElected(
  election: string,
  token: FencingToken,
  value: string,
  lease: string | undefined,
): void {
  if (!channels.elected.hasSubscribers) return;
  const event: ElectedEvent = { at: monotonicNow(), election, token: { ...token }, value, lease };
  channels.elected.publish(event);
}

/**
 * @internal Publishes the end of a term on `resigned` or `lost`, by reason. `leading` is the
 * snapshot of the term (its `since` is when the term began); `deadline` the session's monotonic
 * lease deadline, if there is one.
 */
export function publishTermEnded(
  leading: Leadership,
  token: FencingToken,
  reason: LeadershipReason,
  deadline: number | undefined,
): void {
  const channel = VOLUNTARY.has(reason) ? channels.resigned : channels.lost;
  if (!channel.hasSubscribers) return;
  const at = monotonicNow();
  const event: TermEndedEvent = {
    at,
    election: leading.election,
    token: { ...token },
    reason,
    heldMs: Math.max(0, Date.now() - leading.since.getTime()),
    afterDeadlineMs:
      !VOLUNTARY.has(reason) && deadline !== undefined && at >= deadline
        ? at - deadline
        : undefined,
  };
  channel.publish(event);
}

/** @internal Publishes `state` when `next` differs from `previous`. */
export function publishState(previous: Leadership, next: Leadership): void {
  if (next === previous || !channels.state.hasSubscribers) return;
  const event: StateEvent = { at: monotonicNow(), leadership: next, previous };
  channels.state.publish(event);
}

/**
 * @internal Publishes `leader-observed`. `handover` is the candidate's latest handover record;
 * it is reported only when it belongs to this very observation and follows a leader (the first
 * leader of an empty election is no handover).
 */
export function publishLeaderObserved(
  election: string,
  leader: LeaderInfo | undefined,
  previous: LeaderInfo | undefined,
  handover: { from?: LeaderInfo; to: LeaderInfo; ms: number } | undefined,
): void {
  if (!channels.leaderObserved.hasSubscribers) return;
  const current = handover?.from && leader && handover.to === leader ? handover : undefined;
  const event: LeaderObservedEvent = {
    at: monotonicNow(),
    election,
    leader,
    previous,
    from: current?.from,
    handoverMs: current?.ms,
  };
  channels.leaderObserved.publish(event);
}

/** @internal Publishes `session-lost`; a session we closed ourselves is not a loss. */
export function publishSessionLost(
  lease: string,
  reason: SessionLossReason,
  ttl: number,
  deadline: number,
): void {
  if (reason === 'closed' || !channels.sessionLost.hasSubscribers) return;
  const at = monotonicNow();
  const event: SessionLostEvent = { at, lease, reason, ttl, afterDeadlineMs: at - deadline };
  channels.sessionLost.publish(event);
}

/** @internal Publishes `lock-acquired`. */
export function publishLockAcquired(
  name: string,
  key: string,
  fencingToken: string,
  waitedMs: number,
): void {
  if (!channels.lockAcquired.hasSubscribers) return;
  const event: LockEvent = { at: monotonicNow(), name, key, fencingToken, waitedMs };
  channels.lockAcquired.publish(event);
}

/** @internal Publishes `lock-released`. */
export function publishLockReleased(
  name: string,
  key: string,
  fencingToken: string,
  heldMs: number,
): void {
  if (!channels.lockReleased.hasSubscribers) return;
  const event: LockEvent = { at: monotonicNow(), name, key, fencingToken, heldMs };
  channels.lockReleased.publish(event);
}

/** @internal Publishes `lock-lost`. */
export function publishLockLost(
  name: string,
  key: string,
  fencingToken: string,
  heldMs: number,
  reason: string,
): void {
  if (!channels.lockLost.hasSubscribers) return;
  const event: LockEvent = { at: monotonicNow(), name, key, fencingToken, heldMs, reason };
  channels.lockLost.publish(event);
}

/** @internal Publishes `rebalanced`. */
export function publishRebalanced(
  election: string,
  token: FencingToken,
  leading: number,
  fairShare: number,
  replicas: number,
): void {
  if (!channels.rebalanced.hasSubscribers) return;
  const event: RebalancedEvent = {
    at: monotonicNow(),
    election,
    token: { ...token },
    leading,
    fairShare,
    replicas,
  };
  channels.rebalanced.publish(event);
}

/** @internal Publishes `etcd-error`, with the error's {@link EtcdErrorKind}. */
export function publishEtcdError(election: string, error: unknown): void {
  if (!channels.etcdError.hasSubscribers) return;
  const event: EtcdErrorEvent = {
    at: monotonicNow(),
    election,
    kind: etcdErrorKind(error),
    error,
  };
  channels.etcdError.publish(event);
}

/** Sorts an error the engine met into a stable {@link EtcdErrorKind}. */
export function etcdErrorKind(error: unknown): EtcdErrorKind {
  if (error instanceof EtcdInvalidAuthTokenError || error instanceof GRPCUnauthenticatedError)
    return 'auth-failed';
  if (error instanceof EtcdLeaseInvalidError) return 'lease-not-found';
  if (error instanceof WatchInterruptedError || error instanceof EtcdWatchStreamEnded)
    return 'watch-interrupted';
  if (error instanceof GRPCCancelledError) return 'cancelled';
  return KIND_OF_FAILURE[classifyEtcdError(error)];
}

const KIND_OF_FAILURE: Record<EtcdFailureKind, EtcdErrorKind> = {
  'auth-failed': 'auth-failed',
  'permission-denied': 'permission-denied',
  'tls-rejected': 'tls-rejected',
  'no-leader': 'no-leader',
  timeout: 'deadline-exceeded',
  unreachable: 'unavailable',
  other: 'other',
};
