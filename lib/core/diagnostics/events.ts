/** The payload of every event the library publishes on `node:diagnostics_channel`. */
import type { LeaderInfo } from '../election.js';
import type { EtcdErrorKind } from '../errors/index.js';
import type { FencingToken, Leadership, LeadershipReason } from '../leadership.js';
import type { SessionLossReason } from '../session.js';

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

/** `nestjs-etcd-election:etcd-error`. */
export interface EtcdErrorEvent extends DiagnosticsEvent {
  /** The election whose engine met the error. */
  election: string;
  /** The error's kind, a stable label value. */
  kind: EtcdErrorKind;
  /** The error itself. */
  error: unknown;
}
