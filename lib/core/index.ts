export * from './backoff.js';
export * from './candidate.js';
export * from './client.js';
export * from './election.js';
export * from './errors.js';
export * from './keys.js';
export * from './leadership.js';
export { monotonicNow } from './rpc.js';
export * from './session.js';
