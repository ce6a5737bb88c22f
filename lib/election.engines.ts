/** The one place the Nest layer builds the engine's primitives: candidates, sessions and locks. */
import type { Etcd3 } from 'etcd3';
import {
  Candidate,
  type CandidateOptions,
  type Lock,
  type LockLossReason,
  Locks,
  type ResolvedCandidateOptions,
  Sessions,
} from './core/index.js';

/** @internal The engine an `ElectionService` wraps: the core's `Candidate`, or a test double. */
export type ElectionEngine = Pick<
  Candidate,
  | 'leadership$'
  | 'leader$'
  | 'errors$'
  | 'leadership'
  | 'stats'
  | 'isLeader'
  | 'hasSession'
  | 'currentTerm'
  | 'guard'
  | 'resign'
  | 'proclaim'
  | 'waitForLeadership'
  | 'participants'
  | 'leader'
  | 'start'
  | 'stop'
>;

/**
 * @internal Makes the engine of one election (`ElectionTestingModule` passes its double), on the
 * application's shared session when `sessions` is given.
 */
export type ElectionEngineFactory = (
  client: Etcd3,
  options: CandidateOptions,
  sessions?: Sessions,
) => ElectionEngine;

/** @internal What a candidate is made of: its identity and the registration's resolved settings. */
export interface CandidateSpec {
  election: string;
  value: string;
  settings: ResolvedCandidateOptions;
}

/** @internal A `Candidate` for `spec`, campaigning on `sessions` (the application's shared one). */
export function createCandidate(client: Etcd3, spec: CandidateSpec, sessions: Sessions): Candidate {
  const { election, value, settings } = spec;
  return new Candidate(client, { election, value, ...settings }, sessions);
}

/** @internal The engine options a test double's factory is given for `spec`. */
export function candidateOptions(spec: CandidateSpec): CandidateOptions {
  const { election, value, settings } = spec;
  return { election, value, ...settings };
}

/** @internal The session owner of one client and one set of lease settings. */
export function createSessions(
  client: Etcd3,
  settings: ResolvedCandidateOptions,
  hooks: { onError?(error: unknown): void } = {},
): Sessions {
  const { ttl, margin, requestTimeout, backoff, clock } = settings;
  return new Sessions(client, { ttl, margin, requestTimeout, backoff, clock, ...hooks });
}

/** @internal The locks of one application, on `sessions`. */
export function createLocks(
  sessions: Sessions,
  settings: ResolvedCandidateOptions,
  hooks: { onLost?(lock: Lock, reason: LockLossReason): void; onError?(error: unknown): void },
): Locks {
  const { requestTimeout, backoff } = settings;
  return new Locks(sessions, { requestTimeout, backoff, ...hooks });
}
