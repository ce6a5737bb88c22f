import { Injectable } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { Cron, CronExpression, Interval, ScheduleModule, Timeout } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionService,
  LeaderOnly,
  currentLeaderSignal,
  currentLeaderTerm,
} from '../../lib/index.js';
import { goLeader, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, now } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

interface Run {
  at: number;
  signal?: AbortSignal;
  signalAfterAwait?: AbortSignal;
}

/** Leader-only jobs of @nestjs/schedule, with @LeaderOnly above and below the schedule decorator. */
@Injectable()
class Jobs {
  readonly runs = {
    intervalAbove: [] as Run[],
    intervalBelow: [] as Run[],
    cronAbove: [] as Run[],
    cronBelow: [] as Run[],
    timeoutAbove: [] as Run[],
    timeoutBelow: [] as Run[],
  };

  @LeaderOnly()
  @Interval(40)
  async intervalAbove() {
    await this.record(this.runs.intervalAbove);
  }

  @Interval(40)
  @LeaderOnly()
  async intervalBelow() {
    await this.record(this.runs.intervalBelow);
  }

  @LeaderOnly()
  @Cron(CronExpression.EVERY_SECOND)
  cronAbove() {
    this.runs.cronAbove.push({ at: now(), signal: currentLeaderSignal() });
  }

  @Cron(CronExpression.EVERY_SECOND)
  @LeaderOnly()
  cronBelow() {
    this.runs.cronBelow.push({ at: now(), signal: currentLeaderSignal() });
  }

  @LeaderOnly()
  @Timeout(700)
  timeoutAbove() {
    this.runs.timeoutAbove.push({ at: now(), signal: currentLeaderSignal() });
  }

  @Timeout(700)
  @LeaderOnly()
  timeoutBelow() {
    this.runs.timeoutBelow.push({ at: now(), signal: currentLeaderSignal() });
  }

  private async record(runs: Run[]) {
    const run: Run = { at: now(), signal: currentLeaderSignal() };
    runs.push(run);
    await Promise.resolve();
    run.signalAfterAwait = currentLeaderSignal();
  }
}

function startNode(election: string, value: string, extra: object = {}) {
  return apps.create({
    imports: [
      ScheduleModule.forRoot(),
      ElectionModule.forRoot({
        etcd: { hosts: etcd().endpoints },
        election,
        value,
        ttl: 2,
        ...extra,
      }),
    ],
    providers: [Jobs],
  });
}

function leaderAndFollower(nodes: INestApplication[]) {
  const leader = nodes.find(app => app.get(ElectionService).isLeader());
  const follower = nodes.find(app => app !== leader);
  if (!leader || !follower) throw new Error('no leader yet');
  return { leader, follower };
}

describe('@LeaderOnly with @nestjs/schedule', () => {
  it('runs @Interval, @Cron and @Timeout jobs only on the leader, in both decorator orders', async () => {
    const election = `leader-only-${process.pid}-jobs`;
    const nodes = await Promise.all([startNode(election, 'a'), startNode(election, 'b')]);
    await waitFor(() => nodes.some(app => app.get(ElectionService).isLeader()), {
      timeout: 10_000,
      message: 'a leader',
    });
    const { leader, follower } = leaderAndFollower(nodes);
    const lead = leader.get(Jobs).runs;
    const follow = follower.get(Jobs).runs;

    await waitFor(
      () =>
        lead.intervalAbove.length >= 3 &&
        lead.intervalBelow.length >= 3 &&
        lead.cronAbove.length >= 1 &&
        lead.cronBelow.length >= 1 &&
        lead.timeoutAbove.length === 1 &&
        lead.timeoutBelow.length === 1,
      { timeout: 5000, message: 'every job ran on the leader' },
    );
    for (const runs of Object.values(follow)) expect(runs).toEqual([]);

    // Inside a gated call (and after its awaits) the term's signal is reachable.
    const signal = leader.get(ElectionService).signal;
    expect(signal).toBeDefined();
    for (const runs of Object.values(lead)) {
      for (const run of runs as Run[]) expect(run.signal).toBe(signal);
    }
    expect(lead.intervalAbove[0].signalAfterAwait).toBe(signal);
    expect(currentLeaderSignal()).toBeUndefined();
    expect(currentLeaderTerm()).toBeUndefined();

    // Hand over: the old leader stops at once, the new one starts.
    const resignedAt = now();
    await leader.get(ElectionService).resign();
    await waitFor(() => follow.intervalAbove.length >= 3 && follow.intervalBelow.length >= 3, {
      timeout: 5000,
      message: 'the interval jobs moved to the new leader',
    });
    expect(follower.get(ElectionService).isLeader()).toBe(true);
    for (const run of [...lead.intervalAbove, ...lead.intervalBelow]) {
      expect(run.at).toBeLessThan(resignedAt);
    }
    expect(signal?.aborted).toBe(true);
  });

  it('shutdown aborts the signal of a running call, waits for it, then resigns', async () => {
    const election = `leader-only-${process.pid}-drain`;
    let release!: () => void;
    const released = new Promise<void>(resolve => (release = resolve));
    const events: Array<[string, number]> = [];

    @Injectable()
    class SlowJob {
      @Interval(30)
      @LeaderOnly()
      async work() {
        if (events.length) return;
        const signal = currentLeaderSignal()!;
        events.push(['started', now()]);
        signal.addEventListener('abort', () => events.push(['aborted', now()]));
        await released;
        events.push(['finished', now()]);
      }
    }
    const node = await apps.create({
      imports: [
        ScheduleModule.forRoot(),
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election,
          value: 'slow',
          ttl: 2,
        }),
      ],
      providers: [SlowJob],
    });
    await waitFor(() => events.length === 1, { timeout: 10_000, message: 'the job started' });

    const closed = apps.close(node).then(() => events.push(['closed', now()]));
    await waitFor(() => events.some(([name]) => name === 'aborted'), {
      timeout: 2000,
      message: 'the signal aborted at the start of shutdown',
    });
    // Still in the queue while the job runs: shutdown waits before resigning.
    expect((await goLeaderValue(election))?.value).toBe('slow');
    release();
    await closed;
    expect(events.map(([name]) => name)).toEqual(['started', 'aborted', 'finished', 'closed']);
    expect(await goLeaderValue(election)).toBeUndefined();
  });

  it('bounds the wait by shutdownTimeout and names what is still running', async () => {
    const election = `leader-only-${process.pid}-stuck`;
    let started = false;

    @Injectable()
    class StuckJob {
      @Interval(30)
      @LeaderOnly()
      stuck() {
        if (started) return undefined;
        started = true;
        return new Promise(() => undefined);
      }
    }
    const node = await apps.create({
      imports: [
        ScheduleModule.forRoot(),
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election,
          value: 'stuck',
          ttl: 2,
          shutdownTimeout: 300,
        }),
      ],
      providers: [StuckJob],
    });
    await waitFor(() => started, { timeout: 10_000, message: 'the job started' });
    const closing = now();
    await apps.close(node);
    const took = now() - closing;
    expect(took).toBeGreaterThanOrEqual(290);
    expect(took).toBeLessThan(2000);
    const warning = logs.election(`[${election}] leader work still running`);
    expect(warning).toHaveLength(1);
    expect(warning[0].message).toContain('StuckJob.stuck');
    expect(await goLeaderValue(election)).toBeUndefined();
  });
});

function goLeaderValue(election: string) {
  return goLeader(etcd(), election);
}
