/**
 * Shared etcd test harness (framework-free; usable from Vitest specs, benchmarks and demos).
 * The Vitest-only `useEtcd` hook lives in `./use-etcd.js` and is deliberately not re-exported.
 */
export * from './ports.js';
export * from './wait.js';
export * from './processes.js';
export * from './etcd.js';
export * from './etcdctl-elect.js';
export * from './metrics.js';
export * from './auth.js';
