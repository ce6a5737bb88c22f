import type { Etcd3 } from 'etcd3';
import { afterEach } from 'vitest';
import {
  Locks,
  type LocksOptions,
  Sessions,
  type SessionSettingsOptions,
  createEtcdClient,
  resolveSessionSettings,
} from '../../lib/core/index.js';
import { type EtcdCluster, parseEtcdJson } from '../support/index.js';

/** One simulated application: its own client, session owner and locks. */
export interface LockApp {
  client: Etcd3;
  sessions: Sessions;
  locks: Locks;
  /** Errors the supervisor recovered from. */
  errors: unknown[];
}

/**
 * Creates {@link LockApp}s for one test file and closes all of them (locks, then sessions, which
 * revokes the leases, then clients) after each test, whatever the outcome.
 */
export function useLockApps(cluster: () => EtcdCluster) {
  const apps: LockApp[] = [];
  afterEach(async () => {
    const open = apps.splice(0);
    await Promise.allSettled(open.map(app => app.locks.close()));
    await Promise.allSettled(open.map(app => app.sessions.close()));
    for (const app of open) app.client.close();
  });
  return (
    options: SessionSettingsOptions & { locks?: LocksOptions; hosts?: string[] } = {},
  ): LockApp => {
    const client = createEtcdClient({ hosts: options.hosts ?? cluster().endpoints });
    const sessions = new Sessions(
      client,
      resolveSessionSettings({
        ttl: options.ttl ?? 5,
        margin: options.margin ?? 1000,
        requestTimeout: options.requestTimeout ?? 5000,
        backoff: options.backoff ?? { initial: 50, max: 500 },
      }),
    );
    const errors: unknown[] = [];
    const locks = new Locks(sessions, {
      onError: error => errors.push(error),
      ...options.locks,
    });
    const app = { client, sessions, locks, errors };
    apps.push(app);
    return app;
  };
}

/** One key as etcdctl reads it. */
export interface EtcdKey {
  key: string;
  value: string;
  createRevision: string;
  lease: string;
}

/** Every key under `<name>/`, in create order, read with etcdctl (Go's client). */
export async function keysOf(cluster: EtcdCluster, name: string): Promise<EtcdKey[]> {
  const out = await cluster.etcdctlOk([
    'get',
    '--prefix',
    `${name}/`,
    '--sort-by=CREATE',
    '--order=ASCEND',
    '-w',
    'json',
  ]);
  const parsed = parseEtcdJson<{
    kvs?: Array<{ key: string; value?: string; create_revision: number; lease?: string | number }>;
  }>(out);
  return (parsed.kvs ?? []).map(kv => ({
    key: Buffer.from(kv.key, 'base64').toString(),
    value: Buffer.from(kv.value ?? '', 'base64').toString(),
    createRevision: String(kv.create_revision),
    lease: BigInt(kv.lease ?? 0).toString(16),
  }));
}

/** The ids of every lease etcd holds now, in Go's `%x` (etcdctl lists them zero-padded). */
export async function leaseList(cluster: EtcdCluster): Promise<string[]> {
  const out = await cluster.etcdctlOk(['lease', 'list']);
  return out
    .split('\n')
    .slice(1)
    .map(line => line.trim())
    .filter(line => /^[0-9a-f]+$/.test(line))
    .map(line => BigInt(`0x${line}`).toString(16));
}

/** Settles with 'pending' if `promise` has not settled yet (after letting microtasks run). */
export async function state(promise: Promise<unknown>): Promise<'pending' | 'settled'> {
  const marker = Symbol('pending');
  const result = await Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<typeof marker>(resolve => setImmediate(() => resolve(marker))),
  ]);
  return result === marker ? 'pending' : 'settled';
}
