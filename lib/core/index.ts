/** The engine: etcd's recipes and their supervisors. Imports etcd3 and rxjs, never @nestjs/*. */
export * from './backoff.js';
export * from './candidate.js';
export * from './client.js';
export * from './clock.js';
export {
  DIAGNOSTICS_CHANNELS,
  type DiagnosticsChannelName,
  type DiagnosticsEvent,
  type ElectedEvent,
  type EtcdErrorEvent,
  type LeaderObservedEvent,
  type LockEvent,
  type RebalancedEvent,
  type SessionLostEvent,
  type StateEvent,
  type TermEndedEvent,
} from './diagnostics/index.js';
export * from './election.js';
export type { Handover } from './leader-observer.js';
export * from './errors/index.js';
export * from './keys.js';
export * from './leadership.js';
export * from './options.js';
export { monotonicNow } from './rpc.js';
export { Transport } from './transport.js';
export * from './session.js';
export * from './lock.js';
export * from './locks.js';
export * from './mutex.js';
export * from './sessions.js';
export * from './balancer.js';
export * from './rebalance-plan.js';
