import { describe, expect, it } from 'vitest';
import type { LeaderInfo } from '../../lib/core/index.js';
import { GoCandidate, GoObserver, goLeader, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { start } = useCandidates(etcd);

const ms = (ns: bigint) => Number(ns) / 1e6;

describe('interoperability with Go (etcdctl elect)', () => {
  it('queues behind a Go leader and leads when it resigns', async () => {
    const name = uniqueName('go-first');
    const go = GoCandidate.start(etcd(), name, 'go-leader');
    await go.waitElected(10_000);
    const ours = start({ election: name, value: 'ts-node' });
    await queued(ours);
    expect(ours.candidate.isLeader()).toBe(false);
    expect((await ours.candidate.participants()).map(p => p.value)).toEqual([
      'go-leader',
      'ts-node',
    ]);

    const resignedAt = await go.resign();
    const led = await ours.candidate.waitForLeadership({ timeout: 10_000 });
    const electedAt = process.hrtime.bigint();
    expect(led.key).toBe(`${name}/${led.lease}`);
    console.info(
      `handover Go -> ours: ${(ms(electedAt) - ms(resignedAt)).toFixed(1)} ms (incl. etcdctl exit)`,
    );
  });

  it('is seen as leader by etcdctl elect -l, with its key in Go format', async () => {
    const name = uniqueName('go-observes');
    const observer = GoObserver.start(etcd(), name);
    const ours = start({ election: name, value: 'ts-leader' });
    const led = await ours.candidate.waitForLeadership({ timeout: 10_000 });
    await observer.waitForValue('ts-leader', 10_000);
    const seen = observer.leaders.at(-1)!;
    expect(seen.key).toBe(led.key);
    // Go's key is `<name>/` + the lease id in %x; check against etcd's own lease listing.
    const leases = await etcd().etcdctlOk(['lease', 'list']);
    expect(leases).toContain(led.lease);
    expect(await goLeader(etcd(), name)).toMatchObject({ key: led.key, value: 'ts-leader' });

    await ours.candidate.proclaim('ts-leader-v2');
    await observer.waitForValue('ts-leader-v2', 10_000);
    expect(observer.leaders.at(-1)!.key).toBe(led.key);
  });

  it('hands over to a waiting Go candidate when it resigns', async () => {
    const name = uniqueName('go-next');
    const ours = start({ election: name, value: 'ts-first' });
    await ours.candidate.waitForLeadership({ timeout: 10_000 });
    const go = GoCandidate.start(etcd(), name, 'go-next');
    await waitFor(async () => (await ours.candidate.participants()).length === 2, {
      timeout: 10_000,
      message: 'Go candidate queued',
    });
    expect(go.isElected).toBe(false);
    const resignedAt = process.hrtime.bigint();
    await ours.candidate.resign();
    expect(ours.candidate.isLeader()).toBe(false);
    const electedAt = await go.waitElected(10_000);
    expect(go.electedValue).toBe('go-next');
    expect((await goLeader(etcd(), name))?.value).toBe('go-next');
    console.info(`handover ours -> Go: ${(ms(electedAt) - ms(resignedAt)).toFixed(1)} ms`);
    // We re-queued behind the Go leader.
    await waitFor(async () => (await ours.candidate.participants()).length === 2, {
      timeout: 10_000,
      message: 'ours re-queued',
    });
    expect((await ours.candidate.participants()).map(p => p.value)).toEqual([
      'go-next',
      'ts-first',
    ]);
    await go.resign();
    await ours.candidate.waitForLeadership({ timeout: 10_000 });
  });

  it('observes a Go leader and its departure', async () => {
    const name = uniqueName('observe-go');
    const ours = start({ election: name, value: 'watcher' });
    await ours.candidate.waitForLeadership({ timeout: 10_000 });
    const go = GoCandidate.start(etcd(), name, 'go-leader');
    const seen: Array<LeaderInfo | undefined> = [];
    const subscription = ours.candidate.leader$.subscribe(l => seen.push(l));
    try {
      await waitFor(async () => (await ours.candidate.participants()).length === 2, {
        timeout: 10_000,
        message: 'Go candidate queued',
      });
      await ours.candidate.resign();
      await go.waitElected(10_000);
      await waitFor(() => seen.at(-1)?.value === 'go-leader', {
        timeout: 10_000,
        message: 'Go leader observed',
      });
      expect(ours.candidate.leadership.leader).toMatchObject({ value: 'go-leader', key: go.key });
      await go.resign();
      await ours.candidate.waitForLeadership({ timeout: 10_000 });
      await waitFor(() => seen.at(-1)?.value === 'watcher', {
        timeout: 10_000,
        message: 'ours observed again',
      });
    } finally {
      subscription.unsubscribe();
    }
  });
});
