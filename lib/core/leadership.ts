/** One node's standing in one election (`Leadership`) and the pure transition between snapshots. */
import type { LeaderInfo } from './election.js';

/** This node's role in an election. */
export type Role =
  /** This node leads: it holds the oldest key and its lease deadline has not passed. */
  | 'leader'
  /** This node has a live session and waits in the queue (or is about to join it). */
  | 'follower'
  /** This node has no session: etcd is unreachable or refuses it, or the candidate has stopped. */
  | 'disconnected';

/** Why the role is what it is: the event of the latest transition. */
export type LeadershipReason =
  | 'starting'
  | 'etcd-unreachable'
  | 'campaigning'
  | 'elected'
  | 'resigned'
  /** This node gave the term (or its place in the queue) up to even out leadership across replicas. */
  | 'rebalanced'
  | 'session-expired'
  | 'lease-revoked'
  | 'key-deleted'
  | 'key-overwritten'
  | 'leader-changed'
  /** etcd rejected the user name or password. */
  | 'auth-failed'
  /** etcd's RBAC denies this user the election's keys. */
  | 'permission-denied'
  /** The TLS handshake with etcd failed. */
  | 'tls-rejected'
  | 'stopping'
  | 'stopped';

/** A snapshot of this node's standing in one election. */
export interface Leadership {
  /** The election name. */
  election: string;
  /** This node's role. */
  role: Role;
  /** What caused the latest transition. */
  reason: LeadershipReason;
  /** This node's value (its proposal, proclaimed while it leads). */
  value: string;
  /** This node's key in the queue, `<name>/<lease hex>`, while it holds one. */
  key?: string;
  /** This node's lease id in hex, while it has a session. */
  lease?: string;
  /** Create revision of this node's key while it holds one: the fencing token while leading. */
  revision?: string;
  /** The current leader, whoever runs it, when known. */
  leader?: LeaderInfo;
  /** When the role last changed (wall clock). */
  since: Date;
}

/** The fencing token of a term: the leader key and its create revision, which only grows. */
export interface FencingToken {
  /** The leader's key. */
  key: string;
  /** Create revision of the leader's key (decimal string of an int64). */
  revision: string;
}

/** The last change of a node that left its election for good (`stop()`). */
export const LEFT_ELECTION: Partial<Leadership> = Object.freeze({
  role: 'disconnected',
  reason: 'stopped',
  key: undefined,
  lease: undefined,
  revision: undefined,
});

/** The snapshot of a candidate that has not started yet. */
export function initialLeadership(election: string, value: string): Leadership {
  return { election, role: 'disconnected', reason: 'starting', value, since: new Date() };
}

/**
 * Applies `patch` to `current`. Returns the new snapshot, or `current` itself when nothing a
 * subscriber could see has changed; `since` moves only when the role changes.
 */
export function transition(current: Leadership, patch: Partial<Leadership>): Leadership {
  const next: Leadership = { ...current, ...patch, since: current.since };
  const changed =
    next.role !== current.role ||
    next.reason !== current.reason ||
    next.value !== current.value ||
    next.key !== current.key ||
    next.lease !== current.lease ||
    next.revision !== current.revision ||
    !sameLeader(next.leader, current.leader);
  if (!changed) return current;
  if (next.role !== current.role) next.since = new Date();
  return next;
}

/** True when both name the same leader term with the same value. */
export function sameLeader(a: LeaderInfo | undefined, b: LeaderInfo | undefined): boolean {
  if (!a || !b) return a === b;
  return a.key === b.key && a.revision === b.revision && a.value === b.value;
}
