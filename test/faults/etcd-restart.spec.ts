/**
 * Scenario 5 — the single etcd is stopped for longer than the TTL, then started again with the
 * same data dir. The leader cannot renew its lease: it steps down at its local deadline, before
 * anyone could be elected; while etcd is down nobody leads; when it is back, the old leases are
 * restored by etcd with a fresh TTL (nobody keeps them alive, so their keys expire), every
 * candidate re-campaigns, and exactly one leads.
 */
import { describe, expect, it } from 'vitest';
import { delay } from '../support/index.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import { now, type OurNode } from './nodes.js';

const TTL = 2;
const startLab = useLabs();

describe('scenario 5: single etcd stopped longer than TTL, then restarted', () => {
  it('steps down, nobody leads meanwhile, then exactly one leader', async () => {
    const seed = seedOf(5);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'etcd-restart',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2']),
      go: ['g1'],
    });
    await settle(300, 1200);
    const old = lab.leader() as OurNode;
    const proc = old.proc;
    const [member] = lab.cluster.members;

    const stoppedAt = now();
    lab.fault('stop etcd for TTL + 1.5 s', member.name);
    await member.stop();
    await delay(TTL * 1000 + 1500);
    const restartAt = now();
    await member.start();
    // Back: the old keys expire one TTL after the restart; the first in the new queue leads.
    const next = await lab.waitForLeader({ timeout: (TTL + 8) * 1000 });
    await Promise.all(lab.ours.map(n => n.waitQueued()));
    const report = expectSafe(
      lab,
      `scenario 5: etcd stopped > TTL and restarted (seed ${seed}, TTL ${TTL} s)`,
    );

    // Stepped down at the local deadline: before etcd could have expired the lease.
    const stepDown = old
      .linesOf(proc)
      .find(l => l.belief === 'follower' && l.reason !== 'starting')!;
    expect(stepDown.reason).toBe('session-expired');
    expect(BigInt(stepDown.t)).toBeLessThan(stoppedAt + BigInt(TTL) * 1_000_000_000n);
    // Nobody led while etcd was down.
    const duringOutage = report.intervals.filter(i => i.from > stoppedAt && i.from < restartAt);
    expect(duringOutage).toEqual([]);
    // Then exactly one leader, which every node agrees on.
    expect(lab.leaders()).toEqual([next]);
    const [fault] = report.faults;
    console.info(
      `leader again ${toMs(fault.electedNs! - (restartAt - stoppedAt)).toFixed(0)} ms after etcd's restart began`,
    );
  });
});
