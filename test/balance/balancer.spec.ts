/**
 * The core `Balancer` against a real etcd, in-process: a Go candidate (`etcdctl elect`) in a
 * balanced election counts as a replica and keeps what it leads; the resign that rebalances is
 * told by the step-down's reason and on the `rebalanced` diagnostics channel.
 */
import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Balancer,
  Candidate,
  DIAGNOSTICS_CHANNELS,
  ElectionOptionsError,
  createEtcdClient,
  type RebalancedEvent,
  type TermEndedEvent,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import { resolveElectionOptions } from '../../lib/election-options.js';
import { GoCandidate, delay, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { type Tracked, uniqueName, useCandidates } from '../core/fixtures.js';

const etcd = useEtcd();
const { start } = useCandidates(etcd);
const balancers: Balancer[] = [];
const gos: GoCandidate[] = [];
afterEach(async () => {
  await Promise.allSettled(balancers.splice(0).map(b => b.stop()));
  await Promise.allSettled(gos.splice(0).map(g => (g.running ? g.resign() : undefined)));
});

function replica(value: string, elections: string[]): Tracked[] {
  const balancer = new Balancer({ interval: 150, settle: 100 });
  balancers.push(balancer);
  const tracked = elections.map(election => start({ election, value }));
  for (const t of tracked) balancer.add(t.candidate);
  balancer.start();
  return tracked;
}

const leads = (tracked: Tracked[]) => tracked.filter(t => t.candidate.isLeader()).length;

describe('Balancer', () => {
  it('counts a Go candidate as a replica and never moves what it leads', async () => {
    const elections = [0, 1, 2, 3].map(i => uniqueName(`balance-${i}`));
    const heard: Array<{ channel: string; event: RebalancedEvent | TermEndedEvent }> = [];
    const onRebalanced = (event: unknown) =>
      heard.push({ channel: 'rebalanced', event: event as RebalancedEvent });
    const onResigned = (event: unknown) =>
      heard.push({ channel: 'resigned', event: event as TermEndedEvent });
    diagnostics.subscribe(DIAGNOSTICS_CHANNELS.rebalanced, onRebalanced);
    diagnostics.subscribe(DIAGNOSTICS_CHANNELS.resigned, onResigned);
    try {
      const go = GoCandidate.start(etcd(), elections[0], 'go');
      gos.push(go);
      await go.waitElected(10_000);

      // x alone with Go: E 4, R 2, share 2; x leads 3 but nobody is queued behind it.
      const x = replica('x', elections);
      await waitFor(() => leads(x) === 3, { timeout: 10_000, message: 'x leads e1..e3' });
      await waitFor(() => x[0].candidate.leadership.key, { timeout: 5000, message: 'x queued' });
      // Over its share, x still keeps all three for a while of balancer rounds: no successor.
      await delay(1000);
      expect(heard.filter(h => h.channel === 'rebalanced')).toEqual([]);
      expect(leads(x)).toBe(3);

      // y joins: R 3, share 2. x gives one up to y; Go keeps e0.
      const y = replica('y', elections);
      await waitFor(() => leads(x) === 2 && leads(y) === 1, {
        timeout: 10_000,
        message: 'x leads 2, y 1',
      });
      expect(x[0].candidate.isLeader()).toBe(false);
      expect(y[0].candidate.isLeader()).toBe(false);
      expect(await x[0].candidate.leader()).toMatchObject({ value: 'go' });
      expect(go.running).toBe(true);

      const moved = x.find(t => t.history.some(l => l.reason === 'rebalanced'))!;
      expect(moved).toBeDefined();
      const stepDown = moved.history.findIndex(l => l.reason === 'rebalanced');
      expect(moved.history[stepDown - 1]).toMatchObject({ role: 'leader' });
      expect(moved.history[stepDown]).toMatchObject({ role: 'follower', reason: 'rebalanced' });
      expect(moved.candidate.isLeader()).toBe(false);

      const event = heard.find(h => h.channel === 'rebalanced')?.event as RebalancedEvent;
      expect(event).toMatchObject({
        election: moved.candidate.election.name,
        leading: 3,
        fairShare: 2,
        replicas: 3,
      });
      const resigned = heard.find(h => h.channel === 'resigned')?.event as TermEndedEvent;
      expect(resigned).toMatchObject({ reason: 'rebalanced', token: event.token });
      // Only the one move the spread needed.
      expect(heard.filter(h => h.channel === 'rebalanced')).toHaveLength(1);
    } finally {
      diagnostics.unsubscribe(DIAGNOSTICS_CHANNELS.rebalanced, onRebalanced);
      diagnostics.unsubscribe(DIAGNOSTICS_CHANNELS.resigned, onResigned);
    }
  });

  it('refuses elections of one replica with different values, naming the field', () => {
    const client = createEtcdClient({ hosts: etcd().endpoints });
    try {
      const balancer = new Balancer();
      const settings = resolveEngineOptions({});
      balancer.add(
        new Candidate(client, { election: uniqueName('values'), value: 'n1', settings }),
      );
      const other = new Candidate(client, {
        election: uniqueName('values'),
        value: 'n2',
        settings,
      });
      expect(() => balancer.add(other)).toThrow(ElectionOptionsError);
      expect(() => balancer.add(other)).toThrow(/"value".*"n2".*"n1"/);
    } finally {
      client.close();
    }
  });

  it('validates the balance option and the pacing', () => {
    const options = { etcd: { hosts: 'http://127.0.0.1:2379' }, election: 'jobs' };
    expect(resolveElectionOptions({ ...options, balance: true }).balance).toBe(true);
    expect(resolveElectionOptions(options).balance).toBe(false);
    expect(() => resolveElectionOptions({ ...options, balance: 'yes' as never })).toThrow(
      /"balance": "yes". Expected true or false/,
    );
    expect(() => new Balancer({ settle: -1 })).toThrow(/"settle": -1/);
  });
});
