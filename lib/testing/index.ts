/**
 * `nestjs-etcd-election/testing`: a throwaway etcd for your end-to-end tests, and a test double
 * that drives leadership in your unit tests without etcd.
 */
export * from './election-testing.module.js';
export * from './test-election.js';
export * from './test-etcd.js';
