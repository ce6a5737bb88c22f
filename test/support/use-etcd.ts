/**
 * Vitest-only convenience (the rest of `test/support` is framework-free): starts an etcd cluster
 * in `beforeAll`, closes it in `afterAll`, and kills any leftover tracked child process.
 *
 * Not re-exported from `index.ts` so that the barrel stays importable from plain Node.
 */
import { afterAll, beforeAll } from 'vitest';
import { startEtcd, type EtcdCluster, type StartEtcdOptions } from './etcd.js';
import { killAll } from './processes.js';

/**
 * Registers `beforeAll(startEtcd(options))` and `afterAll(close + killAll)` in the current
 * suite and returns a getter for the cluster (throws if called before `beforeAll` ran).
 */
export function useEtcd(options: StartEtcdOptions = {}): () => EtcdCluster {
  let cluster: EtcdCluster | undefined;
  beforeAll(async () => {
    cluster = await startEtcd(options);
  });
  afterAll(async () => {
    try {
      await cluster?.close();
    } finally {
      await killAll();
    }
  });
  return () => {
    if (!cluster) throw new Error('useEtcd: cluster not started yet (use it inside tests/hooks)');
    return cluster;
  };
}
