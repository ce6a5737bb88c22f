/**
 * Scenario 9 — the single etcd is stopped past the TTL, then started again. Every node revokes
 * its old lease as soon as etcd answers (etcd restores leases with a fresh TTL on restart, so a
 * stale key would otherwise block the queue for a whole TTL), and campaigns again: a leader
 * within 1 s of etcd being healthy, whatever the TTL and however long the outage.
 */
import { describe, expect, it } from 'vitest';
import { delay } from '../support/index.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import { now } from './nodes.js';

const startLab = useLabs();

describe('scenario 9: etcd back after an outage longer than the TTL', () => {
  it.each([3, 10])('TTL %i s: a leader within 1 s of etcd being healthy again', async ttl => {
    const seed = seedOf(90 + ttl);
    const { prng } = seeded(seed);
    const lab = await startLab({
      label: `etcd-return-${ttl}`,
      ttl,
      ours: prng.shuffle(['n1', 'n2', 'n3']),
    });
    const [member] = lab.cluster.members;
    lab.fault(`stop etcd for TTL + 2 s`, member.name);
    await member.stop();
    await delay(ttl * 1000 + 2000);
    await member.start(); // resolves once etcd reports healthy
    const healthyAt = now();
    lab.fault('etcd healthy again', member.name);
    await lab.waitForLeader({ timeout: (ttl + 5) * 1000 });
    const ms = toMs(now() - healthyAt);
    expectSafe(lab, `scenario 9: etcd stopped > TTL, back (seed ${seed}, TTL ${ttl} s)`);
    console.info(`TTL ${ttl} s: leader ${ms.toFixed(0)} ms after etcd is healthy`);
    expect(ms).toBeLessThanOrEqual(1000);
  });
});
