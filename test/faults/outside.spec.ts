/**
 * Scenario 4 — someone else takes the leader's place away: an operator revokes its lease, or
 * deletes its key. etcd deletes the key at once, so the successor's wait and the leader's watch
 * on its own key hear of it from the same deletion; the leader steps down on that event and
 * re-campaigns (a new lease after a revoke, the same lease after a delete) at the back.
 *
 * No protocol can make the holder step down before a successor here (etcd tells it after the
 * fact, the successor at the same time): the leader usually wins by the successor's extra read,
 * and the checker reports any overlap apart (`Fault.external`), bounded below by one
 * notification. Writes stay safe through the fencing token, whose key is gone.
 */
import { describe, expect, it } from 'vitest';
import { deleteKey, leaseRevoke } from '../support/index.js';
import { expectSafe, seeded, seedOf, toMs, useLabs } from './fixtures.js';
import type { OurNode } from './nodes.js';

const TTL = 2;
const startLab = useLabs();

describe('scenario 4: lease revoked, key deleted from outside', () => {
  it('the leader steps down on the deletion, the next in line leads at once, the old leader queues again', async () => {
    const seed = seedOf(4);
    const { prng, settle } = seeded(seed);
    const lab = await startLab({
      label: 'outside',
      ttl: TTL,
      ours: prng.shuffle(['n1', 'n2', 'n3']),
    });

    const cases = [
      { kind: 'revoke leader lease', reasons: ['lease-revoked', 'key-deleted'] },
      { kind: 'delete leader key', reasons: ['key-deleted'] },
    ];
    for (const { kind, reasons } of prng.shuffle(cases)) {
      await settle(300, 1200);
      const old = lab.leader() as OurNode;
      const proc = old.proc;
      const { key, lease } = old.state!;
      lab.fault(kind, proc, { external: true });
      if (kind === 'revoke leader lease') expect(await leaseRevoke(lab.cluster, lease!)).toBe(true);
      else expect(await deleteKey(lab.cluster, key!)).toBe(1);
      await lab.waitForLeader({ timeout: 5000, other: old });
      const newKey = await old.waitQueued();
      const stepDown = old
        .linesOf(proc)
        .find(l => l.belief === 'follower' && l.reason !== 'starting');
      expect(reasons).toContain(stepDown?.reason);
      expect(old.state!.lease === lease).toBe(kind === 'delete leader key');
      expect(newKey === key).toBe(kind === 'delete leader key');
    }

    const report = expectSafe(
      lab,
      `scenario 4: lease revoked / key deleted from outside (seed ${seed}, TTL ${TTL} s)`,
    );
    for (const fault of report.faults) {
      // The leader heard of it from the deletion itself (its watch on its own key), not from a
      // keepalive later; and with no lease to wait out, the next in line leads at once.
      expect(toMs(fault.stepDownNs)).toBeLessThan(500);
      expect(toMs(fault.electedNs)).toBeLessThan(1000);
    }
    // The deletion reaches the holder and its successor at the same time: if the successor
    // wins that race, the overlap lasts no longer than one notification.
    for (const overlap of report.overlaps) expect(toMs(overlap.ns)).toBeLessThan(100);
  });
});
