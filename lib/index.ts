export {
  CandidateStoppedError,
  ElectionError,
  ElectionOptionsError,
  LeadershipLostError,
  LeadershipTimeoutError,
  NotLeaderError,
  ValueTooLargeError,
  WatchInterruptedError,
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
export { compareFencingTokens, fencingRevision, type FencingTokenLike } from './core/fencing.js';
export * from './decorators/index.js';
export { getElectionToken, LEADER_HEADER } from './election.constants.js';
export { currentLeaderSignal, currentLeaderTerm } from './election.context.js';
export { ElectionModule } from './election.module.js';
export { ElectionRegistry } from './election.registry.js';
export { ElectionService } from './election.service.js';
export * from './guards/index.js';
export * from './interfaces/index.js';
