import diagnostics from 'node:diagnostics_channel';
import { GRPCUnavailableError } from 'etcd3';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DIAGNOSTICS_CHANNELS,
  publishElected,
  publishEtcdError,
  publishLeaderObserved,
  publishLockAcquired,
  publishLockEnded,
  publishSessionLost,
  publishState,
  publishTermEnded,
} from '../core/diagnostics/index.js';
import { type Leadership, initialLeadership, transition } from '../core/leadership.js';
import { monotonicNow } from '../core/rpc.js';
import { ElectionMetrics } from './election.metrics.js';
import { ELECTION_METRICS } from './metrics.constants.js';

const open: ElectionMetrics[] = [];
afterEach(() => {
  for (const metrics of open.splice(0)) metrics.close();
});

function create(): ElectionMetrics {
  const metrics = new ElectionMetrics({ registry: new Registry() });
  open.push(metrics);
  return metrics;
}

/** The value of one series (`name` may end in `_bucket`, `_sum` or `_count`), or undefined. */
async function value(
  metrics: ElectionMetrics,
  name: string,
  labels: Record<string, string>,
): Promise<number | undefined> {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const metric = metrics.registry.getSingleMetric(base) ?? metrics.registry.getSingleMetric(name);
  const { values } = await metric!.get();
  const series = name === base && 'le' in labels ? `${name}_bucket` : name;
  const match = values.find(
    v =>
      ((v as { metricName?: string }).metricName ?? base) === series &&
      Object.entries(labels).every(([k, val]) => String(v.labels[k]) === val),
  );
  return match?.value;
}

function step(from: Leadership, patch: Partial<Leadership>): Leadership {
  const next = transition(from, patch);
  publishState(from, next);
  return next;
}

const token = { key: 'jobs/1a', revision: '18446744073709551000' };

describe('ElectionMetrics (pure mapping of diagnostics events)', () => {
  it('follows role and session per election through a term and its loss', async () => {
    const metrics = create();
    let l = initialLeadership('jobs', 'a');
    l = step(l, { role: 'follower', reason: 'campaigning', lease: '1a' });
    expect(await value(metrics, ELECTION_METRICS.isLeader, { election: 'jobs' })).toBe(0);
    expect(await value(metrics, ELECTION_METRICS.hasSession, { election: 'jobs' })).toBe(1);

    publishElected('jobs', token, 'a', '1a');
    l = step(l, { role: 'leader', reason: 'elected', key: token.key, revision: token.revision });
    expect(await value(metrics, ELECTION_METRICS.isLeader, { election: 'jobs' })).toBe(1);
    expect(await value(metrics, ELECTION_METRICS.termsWon, { election: 'jobs' })).toBe(1);

    publishSessionLost('1a', 'expired', 10, monotonicNow() - 30);
    publishTermEnded(l, token, 'session-expired', monotonicNow() - 30);
    step(l, { role: 'follower', reason: 'session-expired', lease: undefined, key: undefined });
    expect(await value(metrics, ELECTION_METRICS.isLeader, { election: 'jobs' })).toBe(0);
    expect(await value(metrics, ELECTION_METRICS.hasSession, { election: 'jobs' })).toBe(0);
    expect(
      await value(metrics, ELECTION_METRICS.termsLost, {
        election: 'jobs',
        reason: 'session-expired',
      }),
    ).toBe(1);
    expect(await value(metrics, ELECTION_METRICS.sessionLosses, { reason: 'expired' })).toBe(1);
    // the step-down came ~30 ms after the deadline: one observation in the 0.05 s bucket
    const stepDown = ELECTION_METRICS.stepDownAfterDeadline;
    expect(await value(metrics, `${stepDown}`, { election: 'jobs', le: '0.025' })).toBe(0);
    expect(await value(metrics, `${stepDown}`, { election: 'jobs', le: '0.05' })).toBe(1);

    // a key deleted while the lease still lives is no late step-down; one seen after it is
    publishTermEnded(l, token, 'key-deleted', monotonicNow() + 5000);
    publishTermEnded(l, token, 'resigned', monotonicNow() - 30);
    expect(await value(metrics, `${stepDown}_count`, { election: 'jobs' })).toBe(1);
    publishTermEnded(l, token, 'key-deleted', monotonicNow() - 2000);
    expect(await value(metrics, `${stepDown}`, { election: 'jobs', le: '2.5' })).toBe(2);
    expect(await value(metrics, `${stepDown}`, { election: 'jobs', le: '1' })).toBe(1);

    // a session we close ourselves is not a loss
    publishSessionLost('1b', 'closed', 10, monotonicNow());
    expect(await value(metrics, ELECTION_METRICS.sessionLosses, { reason: 'closed' })).toBe(
      undefined,
    );
  });

  it('counts a leader change once however many local candidates see it, and times it', async () => {
    const metrics = create();
    const a = { key: 'jobs/a', value: 'a', revision: '5', lease: 'a' };
    const b = { key: 'jobs/b', value: 'b', revision: '9', lease: 'b' };
    // the first leader of an empty election is no handover
    for (let observer = 0; observer < 2; observer++)
      publishLeaderObserved('jobs', a, undefined, { to: a, ms: 100 });
    expect(await value(metrics, ELECTION_METRICS.leaderChanges, { election: 'jobs' })).toBe(0);
    expect(await value(metrics, ELECTION_METRICS.leaderPresent, { election: 'jobs' })).toBe(1);

    publishLeaderObserved('jobs', undefined, a, undefined);
    expect(await value(metrics, ELECTION_METRICS.leaderPresent, { election: 'jobs' })).toBe(0);
    for (let observer = 0; observer < 2; observer++)
      publishLeaderObserved('jobs', b, undefined, { from: a, to: b, ms: 7 });
    expect(await value(metrics, ELECTION_METRICS.leaderChanges, { election: 'jobs' })).toBe(1);
    expect(await value(metrics, ELECTION_METRICS.leaderPresent, { election: 'jobs' })).toBe(1);
    const handover = ELECTION_METRICS.handover;
    expect(await value(metrics, `${handover}`, { election: 'jobs', le: '0.005' })).toBe(0);
    expect(await value(metrics, `${handover}`, { election: 'jobs', le: '0.01' })).toBe(1);
    expect(await value(metrics, `${handover}`, { election: 'jobs', le: '+Inf' })).toBe(1);
    expect(await value(metrics, `${handover}`, { election: 'jobs', le: '0.25' })).toBe(1);
  });

  it('counts etcd errors by kind, and locks held, acquired and lost', async () => {
    const metrics = create();
    publishEtcdError('jobs', new GRPCUnavailableError('14 UNAVAILABLE: No connection established'));
    publishEtcdError('jobs', new Error('something else'));
    expect(
      await value(metrics, ELECTION_METRICS.etcdErrors, { election: 'jobs', kind: 'unavailable' }),
    ).toBe(1);
    expect(
      await value(metrics, ELECTION_METRICS.etcdErrors, { election: 'jobs', kind: 'other' }),
    ).toBe(1);

    publishLockAcquired('orders', 'orders/1a', '42', 1500);
    expect(await value(metrics, ELECTION_METRICS.lockHeld, { lock: 'orders' })).toBe(1);
    expect(await value(metrics, ELECTION_METRICS.lockAcquired, { lock: 'orders' })).toBe(1);
    publishLockEnded('orders', 'orders/1a', '42', 10, 'released');
    expect(await value(metrics, ELECTION_METRICS.lockHeld, { lock: 'orders' })).toBe(0);
    publishLockAcquired('orders', 'orders/1b', '50', 0);
    publishLockEnded('orders', 'orders/1b', '50', 10, 'session-expired');
    expect(await value(metrics, ELECTION_METRICS.lockHeld, { lock: 'orders' })).toBe(0);
    expect(
      await value(metrics, ELECTION_METRICS.lockLost, {
        lock: 'orders',
        reason: 'session-expired',
      }),
    ).toBe(1);
    expect(await value(metrics, `${ELECTION_METRICS.lockWait}`, { lock: 'orders', le: '1' })).toBe(
      1,
    );
  });

  it('unregisters on close, refuses a second set in one registry, and names a bad registry', () => {
    const registry = new Registry();
    const listened = () =>
      Object.values(DIAGNOSTICS_CHANNELS).filter(name => diagnostics.channel(name).hasSubscribers);
    expect(listened()).toEqual([]);
    const first = new ElectionMetrics({ registry });
    expect(listened()).toEqual(Object.values(DIAGNOSTICS_CHANNELS));
    expect(() => new ElectionMetrics({ registry })).toThrow(
      /"registry".*etcd_election_is_leader.*close\(\)/,
    );
    first.close();
    expect(registry.getSingleMetric(ELECTION_METRICS.isLeader)).toBeUndefined();
    // closed, it leaves every channel without a listener: publishing is free again
    expect(listened()).toEqual([]);
    const second = new ElectionMetrics({ registry });
    second.close();
    expect(() => new ElectionMetrics({ registry: {} as Registry })).toThrow(
      /Invalid election option "registry".*prom-client Registry/,
    );
  });
});
