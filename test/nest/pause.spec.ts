/**
 * What Nest users' code sees after the process stood still past its lease deadline, and when a
 * term ends while `@OnLeader` handlers are being called.
 */
import { Injectable } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionService,
  LeaderOnly,
  OnLeader,
  type LeaderContext,
} from '../../lib/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, now } from './nest-apps.js';

const etcd = useEtcd();
const apps = new Apps(new CaptureLogger());
afterEach(() => apps.closeAll());

/**
 * Leader work in both styles the README shows: an interval started by @OnLeader, and a job. Both
 * timers are due long before the engine's deadline timer, so after a pause they run first.
 */
@Injectable()
class LeaderWork {
  readonly runs: Array<{ at: number; kind: 'interval' | 'job' }> = [];

  @OnLeader()
  lead({ signal }: LeaderContext) {
    const timer = setInterval(() => {
      if (signal.aborted) return;
      this.runs.push({ at: now(), kind: 'interval' });
    }, 1);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  @Interval(10)
  @LeaderOnly()
  job() {
    this.runs.push({ at: now(), kind: 'job' });
  }
}

function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // a blocked event loop
  }
}

describe('after a pause past the lease deadline', () => {
  it('no leader work runs, and the service reads follower, before the engine steps down', async () => {
    const election = `pause-${process.pid}`;
    const app = await apps.create({
      imports: [
        ScheduleModule.forRoot(),
        ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, election, ttl: 2 }),
      ],
      providers: [LeaderWork],
    });
    const service = app.get(ElectionService);
    const work = app.get(LeaderWork);
    await service.waitForLeadership({ timeout: 10_000 });
    await waitFor(() => new Set(work.runs.map(r => r.kind)).size === 2, {
      timeout: 5000,
      message: 'both kinds of leader work running',
    });
    let resumedAt = 0;
    const elected: number[] = [];
    service.leadership$.subscribe(l => l.role === 'leader' && elected.push(now()));
    const seen: Array<{ role: string; leader: boolean }> = [];
    const probe = setInterval(() => {
      if (resumedAt && !seen.length) {
        seen.push({ role: service.leadership.role, leader: service.isLeader() });
      }
    }, 30);
    try {
      await new Promise<void>(resolve =>
        setTimeout(() => {
          busy(4000);
          resumedAt = now();
          resolve();
        }, 0),
      );
      // The node recovers on its own: a new lease, and it leads again.
      await waitFor(() => elected.some(at => at > resumedAt), {
        timeout: 10_000,
        message: 'elected again after the pause',
      });
    } finally {
      clearInterval(probe);
    }
    const reelected = elected.find(at => at > resumedAt)!;
    expect(seen[0]).toEqual({ role: 'follower', leader: false });
    expect(work.runs.filter(r => r.at > resumedAt && r.at < reelected)).toEqual([]);
  });
});

@Injectable()
class Resigner {
  calls = 0;
  constructor(private readonly election: ElectionService) {}

  @OnLeader()
  first() {
    if (this.calls++ === 0) void this.election.resign();
  }
}

@Injectable()
class Second {
  readonly calls: boolean[] = [];

  @OnLeader()
  second({ signal }: LeaderContext) {
    this.calls.push(signal.aborted);
  }
}

describe('@OnLeader', () => {
  it('is never called for a term that has already ended', async () => {
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election: `reentrant-${process.pid}`,
        }),
      ],
      providers: [Resigner, Second],
    });
    const resigner = app.get(Resigner);
    const second = app.get(Second);
    // The first term ends inside its first handler; the second term runs normally.
    await waitFor(() => resigner.calls >= 2 && second.calls.length >= 1, {
      timeout: 10_000,
      message: 'a second term',
    });
    expect(second.calls).toEqual(second.calls.map(() => false));
    expect(resigner.calls).toBe(second.calls.length + 1);
  });
});
