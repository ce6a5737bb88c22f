/**
 * Scenario 1 — the leader is SIGKILLed: no resign, no revoke; its key goes when etcd expires its
 * lease. A successor must lead within TTL + 1 s, and nobody may lead twice at once.
 */
import { describe, expect, it } from 'vitest';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';

const TTL = 2;
const startLab = useLabs();

describe('scenario 1: leader SIGKILLed', () => {
  it('a successor leads within TTL + 1 s, every time, ours or Go', async () => {
    const seed = seedOf(1);
    const { prng, settle } = seeded(seed);
    // Ours first (shuffled by the seed), Go last: the second kill hands over to Go.
    const lab = await startLab({
      label: 'kill',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2']),
      go: ['g1'],
    });

    for (let round = 1; round <= 2; round++) {
      await settle(300, 1200);
      const leader = lab.leader()!;
      expect(leader.kind).toBe('ours');
      lab.fault('kill -9 leader', leader.proc);
      await leader.kill();
      const successor = await lab.waitForLeader({ timeout: (TTL + 3) * 1000, other: leader });
      // The killed node comes back and queues at the back.
      await lab.restart(leader);
      expect(successor).not.toBe(leader);
    }

    const report = expectSafe(lab, `scenario 1: leader SIGKILLed (seed ${seed}, TTL ${TTL} s)`);
    expect(report.faults).toHaveLength(2);
    for (const fault of report.faults) {
      expect(fault.successor).toBeDefined();
      expect(toMs(fault.electedNs)).toBeLessThanOrEqual((TTL + 1) * 1000);
    }
    // The second successor is the Go candidate: our dead leader's lease expiry woke it.
    expect(report.faults[1].successor).toBe('g1#1');
  });
});
