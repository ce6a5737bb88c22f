import { describe, expect, it } from 'vitest';
import {
  ElectionOptionsError,
  LockLostError,
  LockNotHeldError,
  LockTimeoutError,
  LocksClosedError,
  NoSessionError,
  type Lock,
} from '../../lib/core/index.js';
import { diffCounts, parsePrometheus, sumBy } from '../bench/stats.js';
import { delay, deleteKey, leaseRevoke, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';
import { keysOf, leaseList, state, useLockApps } from './lock-fixtures.js';

const etcd = useEtcd();
const app = useLockApps(etcd);

/** Blocks the event loop (no timer, no I/O runs) for `ms`, as a GC pause or SIGSTOP would. */
function freeze(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function throwsNotHeld(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (error) {
    return error instanceof LockNotHeldError;
  }
}

function lostWith(lock: Lock): LockLostError {
  return lock.signal.reason as LockLostError;
}

describe('Locks: one process', () => {
  it('serializes acquires of one name inside the process, first come first served', async () => {
    const name = uniqueName('local');
    const { locks } = app();
    const first = await locks.acquire(name);
    const second = locks.acquire(name);
    const third = locks.acquire(name);
    // Both wait in this process: no second key (which would be the same key) in etcd.
    expect(await state(second)).toBe('pending');
    expect((await keysOf(etcd(), name)).map(k => k.key)).toEqual([first.key]);
    const order: string[] = [];
    void second.then(() => order.push('second'));
    void third.then(() => order.push('third'));

    await first.release();
    const b = await second;
    expect(first.held).toBe(false);
    expect(b.held).toBe(true);
    expect(await state(third)).toBe('pending');
    expect(BigInt(b.fencingToken)).toBeGreaterThan(BigInt(first.fencingToken));
    await b.release();
    const c = await third;
    expect(BigInt(c.fencingToken)).toBeGreaterThan(BigInt(b.fencingToken));
    expect(order).toEqual(['second', 'third']);
    await c.release();
    // tryAcquire sees a local holder as "held" without asking etcd.
    const d = await locks.acquire(name);
    expect(await locks.tryAcquire(name)).toBeUndefined();
    await d.release();
  });

  it('excludes across and within processes under contention: one holder at a time, tokens growing', async () => {
    const name = uniqueName('contention');
    const apps = [app(), app(), app()];
    let active = 0;
    let most = 0;
    const tokens: bigint[] = [];
    const worker = async (locks: (typeof apps)[number]['locks']) => {
      for (let i = 0; i < 5; i++) {
        const lock = await locks.acquire(name, { wait: 30_000 });
        active++;
        most = Math.max(most, active);
        tokens.push(BigInt(lock.fencingToken));
        await delay(2); // simulated work
        expect(lock.held).toBe(true);
        active--;
        await lock.release();
      }
    };
    // Four concurrent callers in each of three applications.
    await Promise.all(apps.flatMap(({ locks }) => [1, 2, 3, 4].map(() => worker(locks))));
    expect(most).toBe(1);
    expect(tokens).toHaveLength(60);
    expect(tokens.every((token, i) => i === 0 || token > tokens[i - 1])).toBe(true);
    expect(await keysOf(etcd(), name)).toEqual([]);
  });

  it('releases with await using, and refuses a fenced write once released', async () => {
    const name = uniqueName('dispose');
    const { locks, client } = app();
    let kept: Lock | undefined;
    {
      await using lock = await locks.acquire(name);
      kept = lock;
      const res = await lock
        .guard()
        .then(client.put(`${name}-data`).value('v1'))
        .commit();
      expect(res.succeeded).toBe(true);
    }
    expect(kept.held).toBe(false);
    expect(kept.signal.aborted).toBe(true);
    expect(lostWith(kept).reason).toBe('released');
    expect(() => kept.guard()).toThrow(LockNotHeldError);
    expect(await keysOf(etcd(), name)).toEqual([]);
    await client.delete().key(`${name}-data`);
  });

  it('loses the lock when its key is deleted: signal aborts, held is false', async () => {
    const name = uniqueName('deleted');
    const lost: string[] = [];
    // A listener that releases the lock it just lost (as cleanup code would) changes nothing.
    const { locks } = app({
      locks: {
        onLost: (ended, reason) => {
          lost.push(reason);
          void ended.release();
        },
      },
    });
    const lock = await locks.acquire(name);
    await deleteKey(etcd(), lock.key);
    await waitFor(() => lock.signal.aborted, { timeout: 10_000, message: 'signal aborted' });
    expect(lock.held).toBe(false);
    expect(lostWith(lock).reason).toBe('key-deleted');
    expect(lost).toEqual(['key-deleted']);
    expect(locks.stats.lost).toBe(1);
    expect(locks.stats.released).toBe(0);
    // The name is free again, in this process too.
    const again = await locks.acquire(name, { wait: 5000 });
    expect(BigInt(again.fencingToken)).toBeGreaterThan(BigInt(lock.fencingToken));
    await again.release();
  });

  it('loses the lock when its key is overwritten, and never takes the foreign key for its own', async () => {
    const name = uniqueName('overwritten');
    const { locks } = app();
    const lock = await locks.acquire(name);
    await etcd().etcdctlOk(['put', lock.key, 'not a lock']);
    await waitFor(() => lock.signal.aborted, { timeout: 10_000, message: 'signal aborted' });
    expect(lock.held).toBe(false);
    expect(lostWith(lock).reason).toBe('key-overwritten');
    const again = await locks.acquire(name, { wait: 5000 });
    const [kv] = await keysOf(etcd(), name);
    expect(kv).toMatchObject({ key: again.key, value: '', createRevision: again.fencingToken });
    expect(BigInt(again.fencingToken)).toBeGreaterThan(BigInt(lock.fencingToken));
    await again.release();
  });

  it('loses every lock when the lease is revoked, then locks again on a new lease', async () => {
    const { locks, sessions } = app({ ttl: 3 });
    const a = await locks.acquire(uniqueName('revoke-a'));
    const b = await locks.acquire(uniqueName('revoke-b'));
    const lease = sessions.current()!;
    const order: string[] = [];
    lease.onLost(() => order.push(`session:${a.held}:${b.held}`));
    await leaseRevoke(etcd(), lease.leaseHex);
    await waitFor(() => a.signal.aborted && b.signal.aborted, {
      timeout: 10_000,
      message: 'both locks lost',
    });
    expect([a.held, b.held]).toEqual([false, false]);
    // The session hears of the revoke at its next keepalive; its listeners find both ended.
    await waitFor(() => order.length > 0, { timeout: 10_000, message: 'session lost' });
    expect(order).toEqual(['session:false:false']);
    expect(['lease-revoked', 'key-deleted']).toContain(lostWith(a).reason);
    const c = await locks.acquire(a.name, { wait: 10_000 });
    expect(c.leaseId).not.toBe(lease.leaseId);
    expect(c.key).toBe(`${a.name}/${sessions.current()!.leaseHex}`);
    await c.release();
  });

  it('after a pause past the lease deadline, held and signal say lost before anything else runs', async () => {
    const name = uniqueName('pause');
    const { locks, sessions } = app({ ttl: 2, margin: 500 });
    const lock = await locks.acquire(name);
    const session = sessions.current()!;
    let timersRan = 0;
    const timer = setInterval(() => timersRan++, 1);
    try {
      const before = timersRan;
      freeze(2000);
      // No timer or I/O callback has run since the freeze; reading the lock checks the deadline.
      expect(timersRan).toBe(before);
      expect(lock.signal.aborted).toBe(true);
      expect(lock.held).toBe(false);
      expect(session.isAlive()).toBe(false);
      expect(lostWith(lock).reason).toBe('session-expired');
    } finally {
      clearInterval(timer);
    }
    // The expired lease is revoked and a new session granted: the lock is free again.
    const again = await locks.acquire(name, { wait: 10_000 });
    expect(again.leaseId).not.toBe(session.leaseId);
    await waitFor(async () => !(await leaseList(etcd())).includes(session.leaseHex), {
      timeout: 10_000,
      message: 'the expired lease revoked',
    });
    await again.release();
  });

  const firstReads: Array<[string, (lock: Lock) => boolean]> = [
    ['signal.reason', lock => lock.signal.reason instanceof LockLostError],
    [
      'signal.throwIfAborted()',
      lock => {
        try {
          lock.signal.throwIfAborted();
          return false;
        } catch (error) {
          return error instanceof LockLostError;
        }
      },
    ],
    ['held', lock => !lock.held],
    ['guard()', lock => throwsNotHeld(() => lock.guard())],
  ];
  it.each(firstReads)('after a pause, %s read first already says lost', async (_, lost) => {
    const { locks } = app({ ttl: 2, margin: 500 });
    const lock = await locks.acquire(uniqueName('pause-read'));
    freeze(2000);
    expect(lost(lock)).toBe(true);
    expect(lock.signal.aborted).toBe(true);
  });

  it('keeps 10 locks on one lease, and leaves no key or lease behind on close', async () => {
    const { locks, sessions } = app();
    const names = Array.from({ length: 10 }, (_, i) => uniqueName(`many-${i}`));
    const held = await Promise.all(names.map(name => locks.acquire(name)));
    const lease = sessions.current()!.leaseHex;
    expect(new Set(held.map(lock => lock.leaseId)).size).toBe(1);
    expect(held.map(lock => lock.key)).toEqual(names.map(name => `${name}/${lease}`));
    expect(sessions.stats.granted).toBe(1);
    expect(locks.held()).toHaveLength(10);

    await locks.close();
    expect(held.every(lock => !lock.held && lostWith(lock).reason === 'stopped')).toBe(true);
    await expect(locks.acquire(names[0])).rejects.toBeInstanceOf(LocksClosedError);
    for (const name of names) expect(await keysOf(etcd(), name)).toEqual([]);
    await sessions.close();
    expect(await leaseList(etcd())).not.toContain(lease);
  });

  it('revokes a lease lost while etcd was down as soon as etcd is back', async () => {
    const { sessions } = app({ ttl: 5, margin: 1000, requestTimeout: 500 });
    const session = await sessions.get();
    const heard: string[] = [];
    sessions.onLost((lost, reason) => heard.push(`${lost.leaseHex}:${reason}`));
    const member = etcd().members[0];
    await member.stop();
    try {
      await waitFor(() => !session.isAlive(), { timeout: 10_000, message: 'session expired' });
      expect(heard).toEqual([`${session.leaseHex}:expired`]);
      expect(sessions.current()).toBeUndefined();
    } finally {
      await member.start();
    }
    // etcd restores the lease with a fresh TTL on restart; the retried revoke removes it.
    await waitFor(() => sessions.stats.revoked === 1, {
      timeout: 10_000,
      message: 'old lease revoked',
    });
    expect(sessions.stats.alreadyGone).toBe(0);
    expect(await leaseList(etcd())).not.toContain(session.leaseHex);
    const fresh = await sessions.get();
    expect(fresh.leaseId).not.toBe(session.leaseId);
    expect(sessions.stats).toMatchObject({ granted: 2, lost: 1 });
  });

  it('costs etcd only keepalives while 10 locks are held and 10 acquires wait', async () => {
    const holder = app({ ttl: 3 });
    const waiter = app({ ttl: 3 });
    const names = Array.from({ length: 10 }, (_, i) => uniqueName(`idle-${i}`));
    const held = await Promise.all(names.map(name => holder.locks.acquire(name)));
    const waiting = names.map(name => waiter.locks.acquire(name));
    await waitFor(
      async () =>
        (await Promise.all(names.map(name => keysOf(etcd(), name)))).every(k => k.length === 2),
      { timeout: 10_000, message: 'every waiter queued' },
    );
    const scrape = async () => {
      const samples = parsePrometheus(await etcd().members[0].metrics());
      const typed = (unary: boolean) => (l: Record<string, string>) =>
        l.grpc_type !== undefined && (l.grpc_type === 'unary') === unary;
      return {
        unary: sumBy(samples, 'grpc_server_handled_total', 'grpc_method', typed(true)),
        messages: sumBy(samples, 'grpc_server_msg_received_total', 'grpc_method', typed(false)),
        streams: sumBy(samples, 'grpc_server_started_total', 'grpc_method', typed(false)),
      };
    };
    const before = await scrape();
    await delay(3500); // the measuring window: nothing to wait for, only time to pass
    const after = await scrape();
    const nonZero = (m: Map<string, number>) => Object.fromEntries([...m].filter(([, v]) => v));
    expect(nonZero(diffCounts(before.unary, after.unary))).toEqual({});
    expect(nonZero(diffCounts(before.streams, after.streams))).toEqual({});
    const messages = nonZero(diffCounts(before.messages, after.messages));
    expect(Object.keys(messages)).toEqual(['LeaseKeepAlive']);
    // Two leases (one per app), one keepalive each per TTL/3 = 1 s: about 7 in 3.5 s.
    expect(messages.LeaseKeepAlive).toBeGreaterThanOrEqual(4);
    expect(messages.LeaseKeepAlive).toBeLessThanOrEqual(10);
    console.info(`idle 3.5 s, 10 held + 10 waiting locks, 2 leases: ${JSON.stringify(messages)}`);

    await Promise.all(held.map(lock => lock.release()));
    await Promise.all((await Promise.all(waiting)).map(lock => lock.release()));
  });

  it('without etcd: tryAcquire fails within the request timeout, acquire within wait', async () => {
    // Nothing listens on port 9.
    const { locks, sessions } = app({ hosts: ['http://127.0.0.1:9'], requestTimeout: 500 });
    const error = await locks.tryAcquire('unreachable').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoSessionError);
    expect((error as Error).message).toMatch(
      /No etcd session within 500 ms.*the "etcd.hosts" option/,
    );
    await expect(locks.acquire('unreachable', { wait: 800 })).rejects.toBeInstanceOf(
      LockTimeoutError,
    );
    expect(sessions.stats.grantFailures).toBeGreaterThan(0);
    expect(sessions.current()).toBeUndefined();
  });

  it('names the field, the value and the fix on bad input', async () => {
    const { locks } = app();
    await expect(locks.acquire('')).rejects.toThrow(ElectionOptionsError);
    await expect(locks.acquire('')).rejects.toThrow(
      /^Invalid lock option "name": "".*non-empty string/,
    );
    await expect(locks.acquire('x', { wait: -1 })).rejects.toThrow(
      /^Invalid lock option "wait": -1/,
    );
  });
});
