import { describe, expect, it } from 'vitest';
import { LockTimeoutError, type Lock } from '../../lib/core/index.js';
import { waitFor } from '../support/index.js';
import {
  GoLocker,
  gatewayLeaseGrant,
  gatewayLeaseRevoke,
  gatewayLock,
  gatewayUnlock,
} from '../support/etcdctl-lock.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';
import { keysOf, leaseList, state, useLockApps } from './lock-fixtures.js';

const etcd = useEtcd();
const app = useLockApps(etcd);

const ms = (ns: bigint) => Number(ns) / 1e6;

/** Waits until `count` keys wait under `<name>/`. */
function queueLength(name: string, count: number) {
  return waitFor(async () => (await keysOf(etcd(), name)).length === count, {
    timeout: 10_000,
    message: `${count} keys under ${name}/`,
  });
}

describe('the mutex recipe, as Go runs it', () => {
  it('writes Go format keys: <name>/<lease hex>, empty value, token = create revision', async () => {
    const name = uniqueName('format');
    const { locks, sessions } = app();
    const lock = await locks.acquire(name);
    const session = sessions.current()!;
    const [kv] = await keysOf(etcd(), name);
    expect(kv).toEqual({
      key: `${name}/${session.leaseHex}`,
      value: '',
      createRevision: lock.fencingToken,
      lease: session.leaseHex,
    });
    expect(lock.key).toBe(kv.key);
    expect(await leaseList(etcd())).toContain(session.leaseHex);
    await lock.release();
    expect(await keysOf(etcd(), name)).toEqual([]);
  });

  it('waits while etcdctl lock holds, and gets the lock as soon as it releases', async () => {
    const name = uniqueName('go-holds');
    const go = GoLocker.start(etcd(), name, { ttl: 30 });
    await go.waitAcquired(10_000);
    expect(go.key).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));
    const { locks } = app();
    let acquiredAt = 0n;
    const acquiring = locks.acquire(name).then(lock => {
      acquiredAt = process.hrtime.bigint();
      return lock;
    });
    await queueLength(name, 2);
    expect(await state(acquiring)).toBe('pending');

    const releasedAt = await go.release();
    const lock = await acquiring;
    expect(lock.held).toBe(true);
    const handover = ms(acquiredAt) - ms(releasedAt);
    console.info(
      `etcdctl lock -> ours: ${handover.toFixed(1)} ms from SIGINT (incl. etcdctl exit)`,
    );
    // etcdctl's lease lives 30 s: only its unlock, not an expiry, can explain a handover this fast.
    expect(handover).toBeLessThan(5000);
    const [kv] = await keysOf(etcd(), name);
    expect(kv.key).toBe(lock.key);
    expect(BigInt(lock.fencingToken)).toBe(BigInt(kv.createRevision));
  });

  it('makes etcdctl lock NAME <command> wait while it holds, with a larger revision after', async () => {
    const name = uniqueName('ours-holds');
    const { locks } = app();
    const lock = await locks.acquire(name);
    const go = GoLocker.start(etcd(), name, {
      ttl: 30,
      command: ['sh', '-c', 'echo "$ETCD_LOCK_KEY $ETCD_LOCK_REV"'],
    });
    await queueLength(name, 2);
    expect(await state(go.acquired)).toBe('pending');
    const goKey = (await keysOf(etcd(), name))[1].key;
    expect(goKey).toMatch(new RegExp(`^${name}/[0-9a-f]+$`));

    await lock.release();
    await go.waitAcquired(10_000);
    const [key, revision] = go.firstLine!.split(' ');
    expect(key).toBe(goKey);
    expect(BigInt(revision)).toBeGreaterThan(BigInt(lock.fencingToken));
    expect((await go.exited).code).toBe(0);
    await waitFor(async () => (await keysOf(etcd(), name)).length === 0, {
      timeout: 10_000,
      message: 'etcdctl unlocked after its command',
    });
  });

  it('shares one queue with etcd’s lock service through the HTTP gateway, both ways', async () => {
    const name = uniqueName('gateway');
    const endpoint = etcd().endpoints[0];
    const lease = await gatewayLeaseGrant(endpoint, 30);
    try {
      // Ours first, the gateway waits.
      const { locks } = app();
      const ours = await locks.acquire(name);
      const pending = gatewayLock(endpoint, name, lease);
      await queueLength(name, 2);
      expect(await state(pending)).toBe('pending');
      await ours.release();
      const held = await pending;
      expect(held.key).toBe(`${name}/${BigInt(lease).toString(16)}`);

      // The gateway holds, ours waits.
      const acquiring = locks.acquire(name);
      await queueLength(name, 2);
      expect(await state(acquiring)).toBe('pending');
      await gatewayUnlock(endpoint, held.key);
      const next = await acquiring;
      expect(next.held).toBe(true);
      expect(BigInt(next.fencingToken)).toBeGreaterThan(BigInt(ours.fencingToken));
      await next.release();
    } finally {
      await gatewayLeaseRevoke(endpoint, lease);
    }
  });

  it('keeps one FIFO queue with etcdctl lock waiters in it', async () => {
    const name = uniqueName('mixed');
    const first = app();
    const held = await first.locks.acquire(name);
    const go = GoLocker.start(etcd(), name, { ttl: 30 });
    await queueLength(name, 2);
    const second = app();
    const acquiring = second.locks.acquire(name);
    await queueLength(name, 3);

    await held.release();
    await go.waitAcquired(10_000);
    // Go was queued first: ours still waits, behind it.
    expect(await state(acquiring)).toBe('pending');
    expect((await keysOf(etcd(), name))[0].key).toBe(go.key);
    await go.release();
    const lock = await acquiring;
    expect(lock.held).toBe(true);
    expect(second.locks.stats.wakeups).toBe(1);
    await lock.release();
  });

  it('serves waiters first come, first served, waking only the next one per release', async () => {
    const name = uniqueName('fifo');
    const holder = app();
    const first = await holder.locks.acquire(name);
    const waiters = Array.from({ length: 5 }, () => app());
    const order: number[] = [];
    const acquired: Array<Promise<Lock>> = [];
    for (const [index, waiter] of waiters.entries()) {
      acquired.push(
        waiter.locks.acquire(name).then(lock => {
          order.push(index);
          return lock;
        }),
      );
      await queueLength(name, index + 2);
    }
    const wakeups = () => waiters.reduce((sum, w) => sum + w.locks.stats.wakeups, 0);
    const events = () => waiters.reduce((sum, w) => sum + w.locks.stats.waitWatchEvents, 0);
    expect(wakeups()).toBe(0);

    await first.release();
    const lock0 = await acquired[0];
    // One release, one wake-up: only the direct successor watched the released key.
    expect(wakeups()).toBe(1);
    expect(events()).toBe(1);
    let lock = lock0;
    for (let i = 1; i < waiters.length; i++) {
      await lock.release();
      lock = await acquired[i];
      expect(wakeups()).toBe(i + 1);
    }
    await lock.release();
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(waiters.map(w => w.locks.stats.wakeups)).toEqual([1, 1, 1, 1, 1]);
    expect(events()).toBe(5);
  });

  it('tryAcquire on a held lock reports it locked and leaves no key behind', async () => {
    const name = uniqueName('try');
    const holder = app();
    const lock = await holder.locks.acquire(name);
    const before = await keysOf(etcd(), name);
    const other = app();
    await other.sessions.get();
    const revision = async () =>
      BigInt((await other.client.kv.range({ key: Buffer.from(name) })).header.revision);
    const start = await revision();
    expect(await other.locks.tryAcquire(name)).toBeUndefined();
    expect(await keysOf(etcd(), name)).toEqual(before);
    // It did queue (a put) and leave again (a delete), as Go's TryLock does.
    expect((await revision()) - start).toBe(2n);

    await lock.release();
    const got = await other.locks.tryAcquire(name);
    expect(got?.held).toBe(true);
    expect((await keysOf(etcd(), name)).map(k => k.key)).toEqual([got!.key]);
    await got!.release();
  });

  it('gives up after wait with LockTimeoutError, leaving nothing in etcd', async () => {
    const name = uniqueName('timeout');
    const holder = app();
    const lock = await holder.locks.acquire(name);
    const other = app();
    await expect(other.locks.acquire(name, { wait: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(other.locks.stats.timeouts).toBe(1);
    // wait: 0 asks once, like tryAcquire, and times out at once.
    await expect(other.locks.acquire(name, { wait: 0 })).rejects.toBeInstanceOf(LockTimeoutError);
    expect(other.locks.stats.timeouts).toBe(2);
    expect((await keysOf(etcd(), name)).map(k => k.key)).toEqual([lock.key]);

    const controller = new AbortController();
    const aborted = other.locks.acquire(name, { signal: controller.signal });
    await queueLength(name, 2);
    controller.abort(new Error('not needed any more'));
    await expect(aborted).rejects.toThrow('not needed any more');
    expect((await keysOf(etcd(), name)).map(k => k.key)).toEqual([lock.key]);
    await lock.release();
    const free = await other.locks.acquire(name, { wait: 0 });
    expect(free.held).toBe(true);
    await free.release();
  });
});
