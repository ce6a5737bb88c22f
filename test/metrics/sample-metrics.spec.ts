import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import {
  deadline,
  delay,
  freePorts,
  spawnTracked,
  waitFor,
  type TrackedProcess,
} from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { metric, scrape, type Sample } from './scrape.js';

const MAIN = fileURLToPath(
  new URL('../../.build/sample/01-scheduler/src/main.js', import.meta.url),
);
const ELECTION = `metrics-sample-${process.pid}`;

const etcd = useEtcd();
const replicas: Array<{ value: string; port: number; proc: TrackedProcess }> = [];

afterAll(async () => {
  for (const { proc } of replicas) proc.signal('SIGTERM');
  await Promise.all(
    replicas.map(({ proc }) =>
      deadline(proc.exited, 10_000, `${proc.label} exit`).catch(() => proc.kill()),
    ),
  );
});

interface Standing {
  isLeader: boolean;
  key?: string;
  lease?: string;
}

async function standing(port: number): Promise<Standing> {
  return (await (await fetch(`http://127.0.0.1:${port}/leadership`)).json()) as Standing;
}

const sumOf = (samples: Sample[], name: string) =>
  samples.filter(s => s.name === name).reduce((total, s) => total + s.value, 0);

const of = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  metric(samples, name, { election: ELECTION, ...labels });

/** Scrapes `/metrics` until `check` holds (the observe loop reports asynchronously). */
async function scrapeUntil(
  port: number,
  check: (samples: Sample[]) => boolean,
  message: string,
): Promise<Sample[]> {
  return waitFor(
    async () => {
      const samples = await scrape(`http://127.0.0.1:${port}/metrics`);
      return check(samples) && samples;
    },
    { timeout: 10_000, interval: 50, message },
  );
}

describe('sample 01-scheduler serves /metrics', () => {
  it('reports each replica’s actual role, before and after a handover', async () => {
    const ports = await freePorts(2);
    for (const [i, port] of ports.entries()) {
      const value = `metrics-node-${i + 1}`;
      const proc = spawnTracked(process.execPath, [MAIN], {
        label: value,
        env: {
          ETCD_HOSTS: etcd().endpoints.join(','),
          ELECTION_NAME: ELECTION,
          ELECTION_VALUE: value,
          ELECTION_TTL: '2',
          PORT: String(port),
          NO_COLOR: '1',
        },
      });
      replicas.push({ value, port, proc });
      // start the second only once the first queued, so the first leads
      await waitFor(async () => (await standing(port).catch(() => undefined))?.key, {
        timeout: 20_000,
        message: `${value} in the queue`,
      });
    }
    const [first, second] = replicas;
    await waitFor(async () => (await standing(first.port)).isLeader, {
      timeout: 10_000,
      message: `${first.value} leads`,
    });

    // before: the leader says 1, the follower 0; both have a session and see a leader
    const leaderBefore = await scrapeUntil(
      first.port,
      s => of(s, 'etcd_election_is_leader') === 1,
      `${first.value} reports is_leader 1`,
    );
    const followerBefore = await scrapeUntil(
      second.port,
      s => of(s, 'etcd_election_leader_present') === 1,
      `${second.value} reports a leader present`,
    );
    expect((await standing(first.port)).isLeader).toBe(true);
    expect((await standing(second.port)).isLeader).toBe(false);
    expect(of(followerBefore, 'etcd_election_is_leader')).toBe(0);
    for (const samples of [leaderBefore, followerBefore]) {
      expect(of(samples, 'etcd_election_has_session')).toBe(1);
      expect(of(samples, 'etcd_election_leader_present')).toBe(1);
    }
    expect(of(leaderBefore, 'etcd_election_terms_won_total')).toBe(1);
    expect(of(followerBefore, 'etcd_election_terms_won_total')).toBe(0);
    expect(of(followerBefore, 'etcd_election_handover_seconds_count')).toBe(0);
    // default process metrics come along, from the same default registry
    expect(leaderBefore.some(s => s.name === 'process_cpu_user_seconds_total')).toBe(true);

    // the handover: the leader resigns, the follower takes over
    const resign = await fetch(`http://127.0.0.1:${first.port}/resign`, { method: 'POST' });
    expect(resign.status).toBe(200);
    await waitFor(async () => (await standing(second.port)).isLeader, {
      timeout: 10_000,
      message: `${second.value} leads`,
    });
    const handedOver = (s: Sample[]) =>
      of(s, 'etcd_election_handover_seconds_count') === 1 &&
      of(s, 'etcd_election_leader_changes_total') === 1;
    const newLeader = await scrapeUntil(second.port, handedOver, `${second.value} timed it`);
    const oldLeader = await scrapeUntil(first.port, handedOver, `${first.value} timed it`);
    expect((await standing(second.port)).isLeader).toBe(true);
    expect((await standing(first.port)).isLeader).toBe(false);

    expect(of(newLeader, 'etcd_election_is_leader')).toBe(1);
    expect(of(newLeader, 'etcd_election_terms_won_total')).toBe(1);
    expect(of(newLeader, 'etcd_election_terms_lost_total', { reason: 'resigned' })).toBe(0);
    expect(of(oldLeader, 'etcd_election_is_leader')).toBe(0);
    expect(of(oldLeader, 'etcd_election_terms_won_total')).toBe(1);
    expect(of(oldLeader, 'etcd_election_terms_lost_total', { reason: 'resigned' })).toBe(1);
    for (const samples of [newLeader, oldLeader]) {
      expect(of(samples, 'etcd_election_has_session')).toBe(1);
      expect(of(samples, 'etcd_election_leader_present')).toBe(1);
      expect(metric(samples, 'etcd_election_session_losses_total', {})).toBe(0);
    }
  });

  it('reports a leader paused past its lease: the session loss and how late it stepped down', async () => {
    // after the first test, the second replica leads; freeze it for 2 × TTL, as a GC pause would
    const [first, second] = replicas;
    expect((await standing(second.port)).isLeader).toBe(true);
    const before = await scrape(`http://127.0.0.1:${second.port}/metrics`);
    expect(of(before, 'etcd_election_step_down_after_deadline_seconds_count')).toBe(0);
    expect(second.proc.signal('SIGSTOP')).toBe(true);
    try {
      await waitFor(async () => (await standing(first.port)).isLeader, {
        timeout: 10_000,
        message: `${first.value} takes over from the frozen ${second.value}`,
      });
      // The pause itself is the fault: keep it frozen well past its deadline.
      await delay(2000);
    } finally {
      second.proc.signal('SIGCONT');
    }
    const after = await scrapeUntil(
      second.port,
      s =>
        of(s, 'etcd_election_step_down_after_deadline_seconds_count') === 1 &&
        sumOf(s, 'etcd_election_session_losses_total') >= 1,
      `${second.value} reports its late step-down`,
    );
    expect(of(after, 'etcd_election_is_leader')).toBe(0);
    expect(sumOf(after, 'etcd_election_session_losses_total')).toBe(1);
    const lost = ['session-expired', 'key-deleted', 'lease-revoked'].map(reason =>
      of(after, 'etcd_election_terms_lost_total', { reason }),
    );
    expect(lost.reduce((a, b) => a + b, 0)).toBe(1);
    // it stepped down late by at least the 2 s it stayed frozen after the takeover (which itself
    // came after its deadline): the observation lies above the 1 s bucket
    expect(of(after, 'etcd_election_step_down_after_deadline_seconds_bucket', { le: '1' })).toBe(0);
    expect(of(after, 'etcd_election_step_down_after_deadline_seconds_bucket', { le: '+Inf' })).toBe(
      1,
    );
    const current = await scrape(`http://127.0.0.1:${first.port}/metrics`);
    expect(of(current, 'etcd_election_is_leader')).toBe(1);
  });
});
