/**
 * Scenario 2 — the leader is SIGSTOPped for 2 × TTL, then SIGCONTed: a process paused by GC, a
 * debugger or a laptop lid. Meanwhile its lease expires and a successor leads; on resume its
 * memory still says "leader", so `isLeader()` must be false before any timer callback of the
 * process can run leader-only work (the app's `@Interval` + `@LeaderOnly` probe, every 25 ms, is
 * long overdue at that moment), and it must rejoin the queue as a follower.
 */
import { describe, expect, it } from 'vitest';
import { delay } from '../support/index.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import type { OurNode } from './nodes.js';

const TTL = 2;
const startLab = useLabs();

describe('scenario 2: leader SIGSTOPped for 2 × TTL', () => {
  it('a successor leads meanwhile; on resume the old leader steps down before any leader-only work, then rejoins as follower', async () => {
    const seed = seedOf(2);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'pause',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2']),
      go: ['g1'],
    });
    await settle(300, 1200);
    const old = lab.leader() as OurNode;
    const proc = old.proc;
    const key = old.state!.key!;

    lab.fault('SIGSTOP leader for 2 × TTL', proc);
    await old.pause();
    // The pause itself is the fault: 2 × TTL of frozen time.
    await delay(2 * TTL * 1000);
    const successor = lab.leader();
    await old.resume();
    const resumedAt = lab.recorder.timeline.freezes.at(-1)!.to!;

    // Rejoins as follower: a new key (new session), behind the successor.
    await old.waitQueued();
    await lab.waitForLeader({ timeout: 5000 });
    await delay(200); // let the overdue probe timer fire a few more times, if it would
    const report = expectSafe(lab, `scenario 2: leader SIGSTOPped (seed ${seed}, TTL ${TTL} s)`);

    expect(successor, 'a successor led while the old leader was frozen').toBeDefined();
    expect(successor).not.toBe(old);
    const [fault] = report.faults;
    expect(toMs(fault.electedNs)).toBeLessThanOrEqual((TTL + 1) * 1000);

    // On resume, the first thing the old leader printed was its step-down, and no leader-only
    // work ran after the freeze.
    const after = old.linesOf(proc).filter(l => BigInt(l.t) >= resumedAt && (l.belief || l.probe));
    expect(after[0]).toMatchObject({ belief: 'follower' });
    expect(['session-expired', 'lease-revoked', 'key-deleted']).toContain(after[0].reason);
    expect(after.filter(l => l.probe !== undefined)).toEqual([]);
    console.info(
      `step-down ${(Number(BigInt(after[0].t) - resumedAt) / 1e6).toFixed(2)} ms after SIGCONT (${after[0].reason})`,
    );

    expect(old.belief).toBe('follower');
    expect(old.state!.key).not.toBe(key);
    expect(old.state!.leader).toBe(lab.leader()!.name);
  });
});
