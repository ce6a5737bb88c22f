/** The public API of `nestjs-etcd-election`. */
export {
  CandidateStoppedError,
  createEtcdClient,
  DIAGNOSTICS_CHANNELS,
  ElectionError,
  ElectionOptionsError,
  etcdErrorKind,
  LeadershipLostError,
  LeadershipTimeoutError,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
  LocksClosedError,
  NoSessionError,
  NotLeaderError,
  ValueTooLargeError,
  WatchInterruptedError,
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
  BalancedElection,
  CandidateStats,
  DiagnosticsChannelName,
  DiagnosticsEvent,
  ElectedEvent,
  EtcdErrorEvent,
  EtcdErrorKind,
  FencingToken,
  Handover,
  LeaderInfo,
  LeaderObservedEvent,
  LeaderTerm,
  Leadership,
  LeadershipReason,
  LockEvent,
  Participant,
  RebalancedEvent,
  RebalanceStep,
  Role,
  SessionLostEvent,
  StateEvent,
  TermEndedEvent,
} from './core/index.js';
export { compareFencingTokens, fencingRevision, type FencingTokenLike } from './core/fencing.js';
export * from './decorators/index.js';
export {
  getElectionToken,
  LEADER_HEADER,
  ON_ONE_INSTANCE_PREFIX,
  WITHOUT_OVERLAPPING_PREFIX,
} from './election.constants.js';
export { currentLeaderSignal, currentLeaderTerm } from './elections/election.context.js';
export { ElectionBalancer } from './elections/election.balancer.js';
export { ElectionModule } from './election.module.js';
export { ElectionRegistry } from './elections/election.registry.js';
export { ElectionService } from './elections/election.service.js';
export * from './guards/index.js';
export * from './interfaces/index.js';
export { currentLock } from './locks/lock.context.js';
export { LockService, type JobStats } from './locks/lock.service.js';
export { OneInstanceService, type OneInstanceJobStats } from './jobs/one-instance.service.js';
