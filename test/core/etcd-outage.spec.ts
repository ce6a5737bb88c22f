import { describe, expect, it } from 'vitest';
import { monotonicNow } from '../../lib/core/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { start } = useCandidates(etcd);

describe('etcd outage', () => {
  it('steps down before its lease deadline while etcd is stopped, and rejoins when it is back', async () => {
    const ttl = 2;
    const name = uniqueName('outage');
    const node = start({ election: name, value: 'a', ttl, backoff: { initial: 50, max: 500 } });
    const first = await node.candidate.waitForLeadership({ timeout: 10_000 });
    const signal = node.candidate.currentTerm()!.signal;

    const stoppedAt = monotonicNow();
    await etcd().members[0].stop();
    await waitFor(() => signal.aborted, { timeout: ttl * 1000 + 2000, message: 'step-down' });
    const stepDown = node.history.find(l => l.reason === 'session-expired')!;
    expect(stepDown).toBeDefined();
    // Every keepalive acknowledged was sent before the stop, so etcd cannot expire the lease
    // earlier than stoppedAt + TTL; the node must be down before that.
    expect(stepDown.at).toBeLessThan(stoppedAt + ttl * 1000);
    expect(node.candidate.isLeader()).toBe(false);

    // Stay down longer than the TTL, then come back with the same data.
    await waitFor(
      () =>
        monotonicNow() > stoppedAt + ttl * 1000 + 500 &&
        node.candidate.leadership.role === 'disconnected',
      {
        timeout: 15_000,
        message: 'disconnected while etcd is down',
      },
    );
    await etcd().members[0].start();
    const again = await node.candidate.waitForLeadership({ timeout: 15_000 });
    expect(again.lease).not.toBe(first.lease);
  });
});
