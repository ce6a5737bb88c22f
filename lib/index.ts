export {
  CandidateStoppedError,
  ElectionError,
  ElectionOptionsError,
  LeadershipLostError,
  LeadershipTimeoutError,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
  LocksClosedError,
  NoSessionError,
  NotLeaderError,
  ValueTooLargeError,
} from './core/index.js';
export type {
  AcquireOptions,
  Lock,
  LockLossReason,
  LocksStats,
  SessionsStats,
} from './core/index.js';
export type {
  BackoffOptions,
  CandidateStats,
  FencingToken,
  Handover,
  LeaderInfo,
  LeaderTerm,
  Leadership,
  LeadershipReason,
  Participant,
  Role,
} from './core/index.js';
export * from './decorators/index.js';
export {
  getElectionToken,
  LEADER_HEADER,
  WITHOUT_OVERLAPPING_PREFIX,
} from './election.constants.js';
export { currentLeaderSignal, currentLeaderTerm } from './election.context.js';
export { ElectionModule } from './election.module.js';
export { ElectionRegistry } from './election.registry.js';
export { ElectionService } from './election.service.js';
export * from './guards/index.js';
export * from './interfaces/index.js';
export { currentLock } from './lock.context.js';
export { LockService, type JobStats } from './lock.service.js';
