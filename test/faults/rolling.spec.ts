/**
 * Scenario 7 — a rolling restart (a deploy): every candidate, one at a time, is shut down
 * gracefully (SIGTERM to our Nest app, whose shutdown hooks resign and revoke; SIGINT to Go,
 * which resigns) and started again, which queues it at the back. Each time the leader goes, the
 * next in line must lead within milliseconds; a follower going must change nothing; and there
 * is never a time without a leader longer than one handover.
 */
import { describe, expect, it } from 'vitest';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';

const TTL = 2;
/** "Within milliseconds", with room for a loaded 2-core CI machine. */
const HANDOVER_MS = 250;
const startLab = useLabs();

describe('scenario 7: rolling restart with graceful shutdown', () => {
  it('hands over within milliseconds each time the leader restarts; never longer without a leader', async () => {
    const seed = seedOf(7);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'rolling',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2', 'n3']),
      go: ['g1'],
    });

    // Two rounds over every node, in a seeded order: each node leads at some point.
    const order = [...prng.shuffle(lab.nodes), ...prng.shuffle(lab.nodes)];
    const leaderRestarts: number[] = [];
    for (const node of order) {
      await settle(200, 600);
      const wasLeader = lab.leader() === node;
      if (wasLeader) leaderRestarts.push(lab.recorder.timeline.faults.length);
      lab.fault(`graceful restart${wasLeader ? ' of the leader' : ''}`, node.proc);
      await node.stop();
      if (wasLeader) await lab.waitForLeader({ timeout: 5000, other: node });
      await lab.restart(node);
    }
    await lab.waitForLeader({ timeout: 5000 });

    const report = expectSafe(
      lab,
      `scenario 7: rolling restart, graceful (seed ${seed}, TTL ${TTL} s)`,
    );
    expect(leaderRestarts.length).toBeGreaterThanOrEqual(2);
    for (const fault of report.faults) {
      if (fault.fault.kind.endsWith('of the leader')) {
        expect(fault.successor, `successor after ${fault.fault.target}`).toBeDefined();
        expect(toMs(fault.handoverNs)).toBeLessThan(HANDOVER_MS);
        expect(toMs(fault.longestGapNs)).toBeLessThan(HANDOVER_MS);
      } else {
        expect(fault.changes, `restart of follower ${fault.fault.target}`).toBe(0);
        expect(fault.longestGapNs).toBe(0n);
      }
    }
  });
});
