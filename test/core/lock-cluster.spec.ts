import { describe, expect, it } from 'vitest';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';
import { keysOf, useLockApps } from './lock-fixtures.js';

const etcd = useEtcd({ members: 3 });
const app = useLockApps(etcd);

describe('Locks on a 3-member cluster', () => {
  it('hands the lock over with one member dead', async () => {
    const name = uniqueName('cluster');
    const holder = app({ ttl: 10, margin: 2000, requestTimeout: 2000 });
    const waiter = app({ ttl: 10, margin: 2000, requestTimeout: 2000 });
    const lock = await holder.locks.acquire(name);
    const next = waiter.locks.acquire(name, { wait: 20_000 });
    await expect.poll(async () => (await keysOf(etcd(), name)).length, { timeout: 10_000 }).toBe(2);

    await etcd().members[0].kill();
    await lock.release();
    const got = await next;
    expect(got.held).toBe(true);
    expect(BigInt(got.fencingToken)).toBeGreaterThan(BigInt(lock.fencingToken));
    expect((await keysOf(etcd(), name)).map(k => k.key)).toEqual([got.key]);
    await got.release();
    await etcd().members[0].start();
  });
});
