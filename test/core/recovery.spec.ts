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

describe('stopping', () => {
  it('never leads again while draining, keeps its place until it resigns, then hands over', async () => {
    const name = uniqueName('drain');
    const a = start({ election: name, value: 'a' });
    const first = await a.candidate.waitForLeadership({ timeout: 10_000 });
    const b = start({ election: name, value: 'b' });
    await queued(b);
    const errors: unknown[] = [];
    a.candidate.errors$.subscribe(error => errors.push(error));
    let drained = false;
    const stopping = a.candidate.stop({
      drain: async () => {
        // While the old leader's work winds down, its key still heads the queue: nobody leads.
        await waitFor(() => a.history.some(l => l.reason === 'stopping'), {
          timeout: 5000,
          message: 'a stepping down',
        });
        const until = Date.now() + 1000;
        await waitFor(() => Date.now() > until, { timeout: 2000, message: 'drain period' });
        expect((await a.candidate.participants())[0]?.key).toBe(first.key);
        expect(b.candidate.isLeader()).toBe(false);
        drained = true;
      },
    });
    expect(a.candidate.isLeader()).toBe(false);
    await stopping;
    expect(drained).toBe(true);
    await b.candidate.waitForLeadership({ timeout: 10_000 });
    expect(a.candidate.stats.elected).toBe(1);
    expect(a.history.filter(l => l.role === 'leader')).toHaveLength(1);
    expect(errors).toEqual([]);
    await expect(a.candidate.resign()).rejects.toThrow(/stopped/);
  });
});
