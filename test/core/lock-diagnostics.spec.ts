import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import { DIAGNOSTICS_CHANNELS, type LockEvent } from '../../lib/core/index.js';
import { deleteKey, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';
import { useLockApps } from './lock-fixtures.js';

const etcd = useEtcd();
const app = useLockApps(etcd);
const unsubscribers: Array<() => void> = [];

afterEach(() => unsubscribers.splice(0).forEach(off => off()));

type LockChannel = 'lockAcquired' | 'lockReleased' | 'lockLost';

/** Records every lock event of lock `name`, in order. */
function listen(name: string): Array<{ channel: LockChannel; event: LockEvent }> {
  const heard: Array<{ channel: LockChannel; event: LockEvent }> = [];
  for (const channel of ['lockAcquired', 'lockReleased', 'lockLost'] as const) {
    const onMessage = (message: unknown) => {
      const event = message as LockEvent;
      if (event.name === name) heard.push({ channel, event });
    };
    diagnostics.subscribe(DIAGNOSTICS_CHANNELS[channel], onMessage);
    unsubscribers.push(() => diagnostics.unsubscribe(DIAGNOSTICS_CHANNELS[channel], onMessage));
  }
  return heard;
}

describe('lock diagnostics', () => {
  it('publishes acquired (with the wait), released and lost (with the reason)', async () => {
    const name = uniqueName('diag-lock');
    const heard = listen(name);
    const { locks } = app();
    const first = await locks.acquire(name);
    const second = locks.acquire(name);
    await first.release();
    const next = await second;
    expect(await deleteKey(etcd(), next.key)).toBe(1);
    await waitFor(() => !next.held, { timeout: 5000, message: 'lock lost' });

    expect(heard.map(h => h.channel)).toEqual([
      'lockAcquired',
      'lockReleased',
      'lockAcquired',
      'lockLost',
    ]);
    const [acquired, released, reacquired, lost] = heard.map(h => h.event);
    expect(acquired).toMatchObject({ key: first.key, fencingToken: first.fencingToken });
    expect(acquired.waitedMs).toBeGreaterThanOrEqual(0);
    expect(released).toMatchObject({ key: first.key, fencingToken: first.fencingToken });
    expect(released.heldMs).toBeGreaterThanOrEqual(0);
    expect(reacquired.fencingToken).toBe(next.fencingToken);
    // The second acquire waited at least as long as the first lock was held.
    expect(reacquired.waitedMs!).toBeGreaterThanOrEqual(released.heldMs!);
    expect(lost).toMatchObject({ key: next.key, reason: 'key-deleted' });
  });

  it('publishes nothing for a tryAcquire that finds the lock held', async () => {
    const name = uniqueName('diag-try');
    const heard = listen(name);
    const a = app();
    const b = app();
    const lock = await a.locks.acquire(name);
    expect(await b.locks.tryAcquire(name)).toBeUndefined();
    await lock.release();
    expect(heard.map(h => h.channel)).toEqual(['lockAcquired', 'lockReleased']);
  });
});
