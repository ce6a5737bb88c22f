/**
 * Publishes the library's events. Every function checks `hasSubscribers` first, so an event
 * nobody listens to costs one property read.
 */
import diagnostics from 'node:diagnostics_channel';
import type { LeaderInfo } from '../election.js';
import { etcdErrorKind } from '../errors/index.js';
import type { FencingToken, Leadership, LeadershipReason } from '../leadership.js';
import { monotonicNow } from '../rpc.js';
import type { SessionLossReason } from '../session.js';
import { DIAGNOSTICS_CHANNELS } from './channels.js';
import type {
  ElectedEvent,
  EtcdErrorEvent,
  LeaderObservedEvent,
  LockEvent,
  RebalancedEvent,
  SessionLostEvent,
  StateEvent,
  TermEndedEvent,
} from './events.js';

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

/**
 * @internal Publishes the end of a held lock: on `lock-released` when its holder gave it up
 * (`released`, `stopped`), else on `lock-lost`, with the reason.
 */
export function publishLockEnded(
  name: string,
  key: string,
  fencingToken: string,
  heldMs: number,
  reason: string,
): void {
  const released = reason === 'released' || reason === 'stopped';
  const channel = released ? channels.lockReleased : channels.lockLost;
  if (!channel.hasSubscribers) return;
  const event: LockEvent = { at: monotonicNow(), name, key, fencingToken, heldMs };
  if (!released) event.reason = reason;
  channel.publish(event);
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
