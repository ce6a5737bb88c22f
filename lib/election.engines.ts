/** The one place the Nest layer builds the engine's primitives: candidates, sessions and locks. */
import type { Etcd3 } from 'etcd3';
import {
  Candidate,
  type CandidateConfig,
  type Lock,
  type LockLossReason,
  Locks,
  type SessionSettings,
  Sessions,
  type SessionsHooks,
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
  config: CandidateConfig,
  sessions?: Sessions,
) => ElectionEngine;

/** @internal A `Candidate` for `config`, campaigning on `sessions` (the application's shared one). */
export function createCandidate(
  client: Etcd3,
  config: CandidateConfig,
  sessions: Sessions,
): Candidate {
  return new Candidate(client, config, sessions);
}

/** @internal The session owner of one client and one set of lease settings. */
export function createSessions(
  client: Etcd3,
  settings: SessionSettings,
  hooks: SessionsHooks = {},
): Sessions {
  return new Sessions(client, settings, hooks);
}

/** @internal The locks of one application, on `sessions`. */
export function createLocks(
  sessions: Sessions,
  hooks: { onLost?(lock: Lock, reason: LockLossReason): void; onError?(error: unknown): void },
): Locks {
  return new Locks(sessions, hooks);
}
