/**
 * Scenario 8 — one sick member of a 3-member etcd cluster, at TTL 3 s (see member-faults.ts):
 * whatever one member does, a leader again within TTL + 1 s, never two at once, and no change
 * at all when neither the leader's process nor the raft leader was hit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { expectSafe, seedOf, useLabs } from './fixtures.js';
import { BOUND_MS, MEMBER_FAULTS, TTL, runMemberFault } from './member-faults.js';
import type { PeerProxies } from './peer-cut.js';

const startLab = useLabs();
const proxies: PeerProxies[] = [];
afterEach(async () => {
  await Promise.allSettled(proxies.splice(0).map(p => p.close()));
});

describe(`scenario 8: one sick member of three, TTL ${TTL} s`, () => {
  it.each(MEMBER_FAULTS.map(fault => [fault.title, fault] as const))('%s', async (_, fault) => {
    const run = await runMemberFault(fault, seedOf(fault.seed), startLab);
    if (run.peers) proxies.push(run.peers);
    expectSafe(run.lab, `scenario 8: ${fault.title}`);
    console.info(
      `${fault.title}: longest gap ${run.gapMs.toFixed(1)} ms (bound ${BOUND_MS}), ` +
        `${run.elections} elections, ${run.changes} changes of belief`,
    );
    expect(run.gapMs).toBeLessThanOrEqual(BOUND_MS);
    expect(run.lab.leader()).toBeDefined();
    if (fault.noChangeNeeded) {
      expect(run.changes).toBe(0);
      expect(run.sameLeader).toBe(true);
    }
  });
});
