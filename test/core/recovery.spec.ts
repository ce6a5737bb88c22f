import { describe, expect, it } from 'vitest';
import { deleteKey, leaseRevoke, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, requeued, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { start } = useCandidates(etcd);

describe('recovery from lost leases and keys', () => {
  it('steps down when its lease is revoked from outside, then leads again on a new lease', async () => {
    const name = uniqueName('revoke');
    const node = start({ election: name, value: 'solo' });
    const first = await node.candidate.waitForLeadership({ timeout: 10_000 });
    const signal = node.candidate.currentTerm()!.signal;
    expect(await leaseRevoke(etcd(), first.lease!)).toBe(true);
    await waitFor(() => signal.aborted, { timeout: 5000, message: 'leader signal aborted' });
    const second = await node.candidate.waitForLeadership({ timeout: 10_000 });
    expect(second.lease).not.toBe(first.lease);
    expect(BigInt(second.revision!)).toBeGreaterThan(BigInt(first.revision!));
    const stepDown = node.history.find(l => l.role === 'follower' && l.reason === 'lease-revoked');
    expect(stepDown).toBeDefined();
    expect(node.candidate.stats.sessionLosses).toBe(1);
  });

  it('hands over to the next in line when the leader lease is revoked', async () => {
    const name = uniqueName('revoke-queue');
    // A long keepalive interval (TTL/3 = 2 s) shows that the watch on its own key, not the next
    // keepalive, is what tells the leader.
    const a = start({ election: name, value: 'a', ttl: 6 });
    const first = await a.candidate.waitForLeadership({ timeout: 10_000 });
    const b = start({ election: name, value: 'b' });
    await queued(b);
    await leaseRevoke(etcd(), first.lease!);
    await b.candidate.waitForLeadership({ timeout: 10_000 });
    await requeued(a, first.revision!);
    expect(a.candidate.isLeader()).toBe(false);
    const queue = await a.candidate.participants();
    expect(queue.map(p => p.value)).toEqual(['b', 'a']);
    // An outside revoke deletes the key at once, so b may win before a hears of it; a must
    // hear of it from the same deletion, not a keepalive later.
    const aLead = a.history.findIndex(l => l.role === 'leader');
    const aDown = a.history.slice(aLead).find(l => l.role !== 'leader')!;
    const bUp = b.history.find(l => l.role === 'leader')!.at;
    expect(['key-deleted', 'lease-revoked']).toContain(aDown.reason);
    expect(Math.abs(aDown.at - bUp)).toBeLessThan(1000);
  });

  it('steps down when its key is deleted from outside, then campaigns again', async () => {
    const name = uniqueName('delete');
    const a = start({ election: name, value: 'a' });
    const first = await a.candidate.waitForLeadership({ timeout: 10_000 });
    const b = start({ election: name, value: 'b' });
    await queued(b);
    expect(await deleteKey(etcd(), first.key!)).toBe(1);
    await b.candidate.waitForLeadership({ timeout: 10_000 });
    await requeued(a, first.revision!);
    expect(a.history.some(l => l.reason === 'key-deleted' && l.role === 'follower')).toBe(true);
    expect(a.candidate.leadership.lease).toBe(first.lease);
    expect((await a.candidate.participants()).map(p => p.value)).toEqual(['b', 'a']);
  });
});
