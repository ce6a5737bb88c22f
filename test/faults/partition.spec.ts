/**
 * Scenario 3 — the leader is cut off from etcd by its proxy while etcd stays healthy: a stall
 * (black hole: sockets open, nothing goes through) or a drop (connections reset and refused).
 * Its keepalives stop being acknowledged, so it must step down at its local lease deadline —
 * before etcd expires the lease, so before the successor's `@OnLeader` fires (Go's elected line
 * when the successor is Go). After the link heals it rejoins as a follower.
 */
import { describe, expect, it } from 'vitest';
import { delay } from '../support/index.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import type { Lab } from './lab.js';
import type { GoNode, OurNode } from './nodes.js';

const TTL = 2;
const startLab = useLabs();

/** The instant the successor's leader work could start: its @OnLeader call, or Go's elected line. */
function onLeaderAt(node: OurNode | GoNode, proc: string): bigint {
  if (node.kind === 'go') {
    const elected = node.candidate?.process.lines.find(l => l.stream === 'stdout');
    if (!elected) throw new Error(`${proc} never printed its elected line`);
    return elected.at;
  }
  const hook = node.linesOf(proc).find(l => l.hook === 'onLeader');
  if (!hook) throw new Error(`${proc} never called @OnLeader`);
  return BigInt(hook.t);
}

/** Cuts the leader off with `cut`, heals after 2 × TTL, and checks the order of events. */
async function cutOffLeader(lab: Lab, how: 'stall' | 'drop', settle: () => Promise<void>) {
  await settle();
  const old = lab.leader() as OurNode;
  const proc = old.proc;
  const link = lab.link(old);
  lab.fault(`${how} leader link`, proc);
  link[how]();
  const successor = (await lab.waitForLeader({ timeout: (TTL + 3) * 1000, other: old })) as
    OurNode | GoNode;
  const successorProc = successor.proc;
  // Stay cut off for 2 × TTL in all, then heal: the old leader must find its way back.
  await delay(TTL * 1000);
  link.heal();
  const stepDown = old.linesOf(proc).find(l => l.belief === 'follower' && l.reason !== 'starting');
  await old.waitQueued(15_000);
  await lab.waitForLeader({ timeout: 5000 });
  return { old, proc, stepDown, successor, successorProc };
}

describe('scenario 3: leader cut off from etcd through its proxy', () => {
  it('steps down before the successor’s @OnLeader fires (stall, then drop), and rejoins as follower', async () => {
    const seed = seedOf(3);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'partition',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2']),
      go: ['g1'],
      proxied: true,
    });

    for (const how of ['stall', 'drop'] as const) {
      const { old, proc, stepDown, successor, successorProc } = await cutOffLeader(lab, how, () =>
        settle(300, 1200),
      );
      expect(stepDown, `${proc} stepped down while cut off`).toMatchObject({
        belief: 'follower',
        reason: 'session-expired',
      });
      const successorLeads = onLeaderAt(successor, successorProc);
      console.info(
        `${how}: ${proc} stepped down ${(Number(successorLeads - BigInt(stepDown!.t)) / 1e6).toFixed(1)} ms before ${successorProc}'s @OnLeader`,
      );
      expect(BigInt(stepDown!.t)).toBeLessThan(successorLeads);
      expect(old.belief).toBe('follower');
    }

    const report = expectSafe(
      lab,
      `scenario 3: leader cut off through its proxy (seed ${seed}, TTL ${TTL} s)`,
    );
    for (const fault of report.faults) {
      // Step-down at the local deadline: at most TTL − margin after the last acknowledged
      // keepalive, which was sent before the cut.
      expect(toMs(fault.stepDownNs)).toBeLessThanOrEqual(TTL * 1000);
      expect(toMs(fault.electedNs)).toBeLessThanOrEqual((TTL + 1) * 1000);
    }
  });
});
