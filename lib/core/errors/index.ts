/** Every error class of the library, and the one taxonomy of etcd failures. */
export * from './candidate-stopped.error.js';
export * from './election-options.error.js';
export * from './election.error.js';
export * from './etcd-failure.js';
export * from './leadership-lost.error.js';
export * from './leadership-timeout.error.js';
export * from './lock-lost.error.js';
export * from './lock-not-held.error.js';
export * from './lock-timeout.error.js';
export * from './locks-closed.error.js';
export * from './no-session.error.js';
export * from './not-leader.error.js';
export * from './sessions-closed.error.js';
export * from './value-too-large.error.js';
export * from './watch-interrupted.error.js';
