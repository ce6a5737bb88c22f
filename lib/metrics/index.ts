/**
 * `nestjs-etcd-election/metrics`: Prometheus metrics through prom-client (an optional peer),
 * apart so that apps without Prometheus never load it.
 */
export * from './election-metrics.interface.js';
export * from './election-metrics.module.js';
export * from './election.metrics.js';
export * from './metrics.constants.js';
