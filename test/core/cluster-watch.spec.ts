/**
 * Watches ask for a member with a raft leader: a member that loses its peers cancels them, and
 * the waiter reads again instead of waiting on a member that cannot see the DELETE.
 */
import { describe, expect, it } from 'vitest';
import { WatchInterruptedError } from '../../lib/core/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd({ members: 3 });
const { client, start } = useCandidates(etcd);

describe('a member without a raft leader', () => {
  it("cancels a waiter's watch, which the waiter takes as an interruption", async () => {
    const cluster = etcd();
    const [m1, m2, m3] = cluster.members;
    const name = uniqueName('no-leader');
    const a = start({ election: name, value: 'a', ttl: 10 }, client([m1.clientUrl]));
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const b = start(
      { election: name, value: 'b', ttl: 10, observe: false },
      client([m1.clientUrl]),
    );
    await queued(b);
    const errors: unknown[] = [];
    b.candidate.errors$.subscribe(error => errors.push(error));
    try {
      await Promise.all([m2.kill(), m3.kill()]);
      const interrupted = await waitFor(
        () => errors.find(e => e instanceof WatchInterruptedError && /no leader/i.test(e.message)),
        { timeout: 8000, message: "b's watch cancelled for want of a leader" },
      );
      expect((interrupted as Error).message).toMatch(/no leader/);
    } finally {
      await Promise.all([m2.start({ waitHealthy: false }), m3.start({ waitHealthy: false })]);
    }
    await cluster.waitForRaftLeader({ timeout: 20_000 });
    // Back with a quorum: one leader again, whoever it is.
    await waitFor(() => a.candidate.isLeader() || b.candidate.isLeader(), {
      timeout: 20_000,
      message: 'a leader again',
    });
    expect(a.candidate.isLeader() && b.candidate.isLeader()).toBe(false);
  });
});
