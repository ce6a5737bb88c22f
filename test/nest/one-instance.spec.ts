import { Injectable } from '@nestjs/common';
import { Cron, Interval, ScheduleModule, SchedulerRegistry, Timeout } from '@nestjs/schedule';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionOptionsError,
  ElectionService,
  ON_ONE_INSTANCE_PREFIX,
  OnOneInstance,
  OneInstanceService,
  currentLeaderSignal,
} from '../../lib/index.js';
import { uniqueName } from '../core/fixtures.js';
import { keysOf } from '../core/lock-fixtures.js';
import { REPO_ROOT, ensureAppsBuilt } from '../faults/apps.js';
import {
  deadline,
  spawnTracked,
  waitFor,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

@Injectable()
class Scheduled {
  readonly ran: Array<{ job: string; signal: boolean }> = [];

  @Interval(50)
  @OnOneInstance()
  below(): void {
    this.ran.push({ job: 'below', signal: currentLeaderSignal() !== undefined });
  }

  @OnOneInstance({ name: 'custom-timeout' })
  @Timeout(20)
  above(): void {
    this.ran.push({ job: 'above', signal: currentLeaderSignal() !== undefined });
  }

  @Cron('* * * * * *')
  @OnOneInstance({ balance: false })
  cron(): string {
    this.ran.push({ job: 'cron', signal: currentLeaderSignal() !== undefined });
    return 'ran';
  }
}

describe('@OnOneInstance in one application', () => {
  it('gives each job its election and runs it while leading, in either decorator order', async () => {
    const app = await apps.create({
      imports: [
        ScheduleModule.forRoot(),
        ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, ttl: 3 }),
      ],
      providers: [Scheduled],
    });
    const jobs = app.get(OneInstanceService);
    expect(jobs.jobs().map(({ label, name, balance }) => ({ label, name, balance }))).toEqual([
      { label: 'Scheduled.below', name: `${ON_ONE_INSTANCE_PREFIX}Scheduled.below`, balance: true },
      { label: 'Scheduled.above', name: 'custom-timeout', balance: true },
      { label: 'Scheduled.cron', name: `${ON_ONE_INSTANCE_PREFIX}Scheduled.cron`, balance: false },
    ]);
    // The schedule sees every job, whichever side of it @OnOneInstance sits.
    const registry = app.get(SchedulerRegistry);
    expect(registry.getIntervals()).toHaveLength(1);
    expect(registry.getCronJobs().size).toBe(1);
    const scheduled = app.get(Scheduled);
    await waitFor(() => jobs.jobs().every(job => job.leading), {
      timeout: 10_000,
      message: 'every job led',
    });
    await waitFor(() => scheduled.ran.some(r => r.job === 'cron'), {
      timeout: 5000,
      message: 'cron ran',
    });
    await waitFor(() => scheduled.ran.filter(r => r.job === 'below').length >= 3, {
      timeout: 5000,
      message: 'interval ran',
    });
    expect(scheduled.ran.every(r => r.signal)).toBe(true);
    // Before the election was won, the one-off @Timeout (20 ms) was skipped, not run elsewhere.
    const above = jobs.jobs().find(job => job.label === 'Scheduled.above')!;
    expect(above.runs + above.skipped).toBe(1);
    for (const job of jobs.jobs()) {
      expect((await keysOf(etcd(), job.name)).map(k => k.value)).toHaveLength(1);
    }
    const names = jobs.jobs().map(job => job.name);
    await apps.close(app);
    for (const name of names) expect(await keysOf(etcd(), name)).toEqual([]);
  });

  it('campaigns with the value of a connection-only registration, unless a default election has one', async () => {
    const hosts = etcd().endpoints;
    const name = uniqueName('valued');

    @Injectable()
    class Valued {
      @OnOneInstance({ name, balance: false })
      work(): string {
        return 'ran';
      }
    }

    const alone = await apps.create({
      imports: [ElectionModule.forRoot({ etcd: { hosts }, ttl: 3, value: 'replica-7' })],
      providers: [Valued],
    });
    await waitFor(async () => (await keysOf(etcd(), name)).length === 1, {
      timeout: 10_000,
      message: 'the job campaigned',
    });
    expect((await keysOf(etcd(), name)).map(k => k.value)).toEqual(['replica-7']);
    await apps.close(alone);

    // With a default election, the jobs name this replica as it does.
    const withElection = await apps.create({
      imports: [
        ElectionModule.forRoot({ etcd: { hosts }, ttl: 3, value: 'replica-7' }),
        ElectionModule.forRoot({
          etcd: { hosts },
          election: uniqueName('main'),
          value: 'main-value',
        }),
      ],
      providers: [Valued],
    });
    await waitFor(async () => (await keysOf(etcd(), name)).length === 1, {
      timeout: 10_000,
      message: 'the job campaigned',
    });
    expect((await keysOf(etcd(), name)).map(k => k.value)).toEqual(['main-value']);
    await apps.close(withElection);
  });

  it('a direct call on a follower is skipped and returns undefined', async () => {
    const hosts = etcd().endpoints;
    const name = uniqueName('direct');

    @Injectable()
    class Direct {
      @OnOneInstance({ name })
      work(): string {
        return 'ran';
      }
    }

    const modules = { imports: [ElectionModule.forRoot({ etcd: { hosts } })], providers: [Direct] };
    const both = [await apps.create(modules), await apps.create(modules)];
    const leading = () => both.map(app => app.get(OneInstanceService).jobs()[0].leading);
    await waitFor(() => leading().includes(true), {
      timeout: 10_000,
      message: `one leads (${JSON.stringify(both.map(app => app.get(OneInstanceService).jobs()))})`,
    });
    const [leader, follower] = leading()[0] ? both : [both[1], both[0]];
    expect(leading().filter(Boolean)).toHaveLength(1);
    expect(leader.get(Direct).work()).toBe('ran');
    expect(follower.get(Direct).work()).toBeUndefined();
    expect(follower.get(OneInstanceService).jobs()[0]).toMatchObject({ runs: 0, skipped: 1 });
  });

  it("campaigns with the value of the app's election, on its lease", async () => {
    const election = uniqueName('valued');
    const name = uniqueName('valued-job');

    @Injectable()
    class Valued {
      @OnOneInstance({ name })
      work(): void {}
    }

    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, election, value: 'node-7' }),
      ],
      providers: [Valued],
    });
    const service = app.get(ElectionService);
    await service.waitForLeadership({ timeout: 10_000 });
    const jobs = app.get(OneInstanceService);
    await waitFor(() => jobs.jobs()[0].leading, { timeout: 10_000, message: 'job leads' });
    expect(await keysOf(etcd(), name)).toEqual([
      expect.objectContaining({ value: 'node-7', lease: service.leadership.lease }),
    ]);
  });

  it('refuses a job named like a registered election, and bad options, naming them', async () => {
    expect(() => OnOneInstance({ name: '' })).toThrow(ElectionOptionsError);
    expect(() => OnOneInstance({ balance: 'yes' as unknown as boolean })).toThrow(
      /"@OnOneInstance balance": "yes".*true or false/,
    );
    const election = uniqueName('clash');

    @Injectable()
    class Clash {
      @OnOneInstance({ name: election })
      work(): void {}
    }

    await expect(
      apps.create({
        imports: [ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, election })],
        providers: [Clash],
      }),
    ).rejects.toThrow(/@OnOneInstance name.*a name no ElectionModule registration uses/);
  });
});

const JOBS_APP = join(REPO_ROOT, '.build/test/apps/jobs-one-instance.js');
const TTL = 3;

interface JobLine {
  t: string;
  node: string;
  job?: string;
  run?: 'start' | 'end';
  leading?: boolean;
  event?: string;
  jobs?: Array<{ label: string; name: string; runs: number; skipped: number }>;
}

function records(proc: TrackedProcess): JobLine[] {
  return proc.lines
    .filter((line: OutputLine) => line.stream === 'stdout' && line.text.startsWith('{'))
    .map(line => JSON.parse(line.text) as JobLine);
}

const ms = (from: bigint, to: bigint) => Number(to - from) / 1e6;

describe('@OnOneInstance across processes', () => {
  it('6 jobs on 3 instances: spread two each, each runs on one instance at a time, and moves within TTL + 1 s of a kill', async () => {
    await ensureAppsBuilt();
    const spawn = (node: string) =>
      spawnTracked(process.execPath, [JOBS_APP], {
        label: `jobs ${node}`,
        env: {
          ETCD_HOSTS: etcd().endpoints.join(','),
          NODE_NAME: node,
          JOB_TTL: String(TTL),
          RUN_MS: '100',
          INTERVAL_MS: '250',
        },
      });
    const replicas = new Map(['a', 'b', 'c'].map(node => [node, spawn(node)]));
    const all = () => [...replicas.values()].flatMap(records);
    const labels = [
      'Jobs.intervalBelow1',
      'Jobs.intervalBelow2',
      'Jobs.intervalAbove1',
      'Jobs.intervalAbove2',
      'Jobs.cronBelow',
      'Jobs.cronAbove',
    ];
    /** Who leads each job according to the latest `leading` lines. */
    const leaders = () => {
      const current = new Map<string, string>();
      for (const line of all().sort((x, y) => cmp(x.t, y.t))) {
        if (line.job === undefined || line.leading === undefined || line.run) continue;
        if (line.leading) current.set(line.job, line.node);
        else if (current.get(line.job) === line.node) current.delete(line.job);
      }
      return current;
    };
    let victim: string;
    let killedAt: bigint;
    try {
      await waitFor(
        () =>
          all().filter(l => l.event === 'ready').length === 3 &&
          labels.every(job => all().filter(l => l.job === job && l.run === 'end').length >= 2),
        { timeout: 30_000, interval: 100, message: 'every job ran twice' },
      );
      // Balanced (the default for jobs): the six spread, two per instance, and each instance runs
      // the jobs it leads.
      const perNode = () => {
        const counts = new Map<string, number>();
        for (const node of leaders().values()) counts.set(node, (counts.get(node) ?? 0) + 1);
        return counts;
      };
      await waitFor(() => ['a', 'b', 'c'].every(node => perNode().get(node) === 2), {
        timeout: 20_000,
        interval: 100,
        message: `two jobs per instance (now ${JSON.stringify([...perNode()])})`,
      });
      const spreadAt = process.hrtime.bigint();
      await waitFor(
        () =>
          ['a', 'b', 'c'].every(node =>
            all().some(l => l.node === node && l.run === 'end' && BigInt(l.t) > spreadAt),
          ),
        { timeout: 10_000, interval: 100, message: 'every instance runs jobs' },
      );
      // The instance leading the most jobs goes down hard: no resign, its lease has to expire.
      const led = leaders();
      const counts = new Map<string, number>();
      for (const node of led.values()) counts.set(node, (counts.get(node) ?? 0) + 1);
      victim = [...counts].sort((x, y) => y[1] - x[1])[0][0];
      const moving = labels.filter(job => led.get(job) === victim);
      expect(moving.length).toBeGreaterThan(0);
      killedAt = process.hrtime.bigint();
      replicas.get(victim)!.signal('SIGKILL');
      await deadline(replicas.get(victim)!.exited, 5000, `${victim} exits on SIGKILL`);
      await waitFor(
        () => {
          const now = leaders();
          return labels.every(job => now.has(job) && now.get(job) !== victim);
        },
        { timeout: (TTL + 5) * 1000, interval: 50, message: 'every job led by a survivor' },
      );
      // Every job runs again, on a survivor.
      await waitFor(
        () =>
          labels.every(job =>
            all().some(
              l => l.job === job && l.run === 'end' && l.node !== victim && BigInt(l.t) > killedAt,
            ),
          ),
        { timeout: 10_000, message: 'every job ran on a survivor after the move' },
      );
      const took = moving.map(job => {
        const first = all()
          .filter(l => l.job === job && l.leading === true && !l.run && l.node !== victim)
          .map(l => BigInt(l.t))
          .filter(t => t > killedAt)
          .sort((x, y) => (x < y ? -1 : 1))[0];
        return ms(killedAt, first);
      });
      console.info(
        `killed ${victim} leading ${moving.length} jobs; moved after ${took.map(t => t.toFixed(0)).join('/')} ms`,
      );
      for (const t of took) expect(t).toBeLessThanOrEqual((TTL + 1) * 1000);
    } finally {
      for (const proc of replicas.values()) if (proc.running) proc.signal('SIGTERM');
      await Promise.all(
        [...replicas.values()].map(proc =>
          deadline(proc.exited, 15_000, `${proc.label} exit on SIGTERM`),
        ),
      );
    }

    // Each job, all along: runs of different instances never overlap in time; a run of the
    // killed instance that never ended counts as running until the kill.
    const lines = all();
    for (const job of labels) {
      const runs: Array<{ node: string; start: bigint; end: bigint }> = [];
      const open = new Map<string, bigint>();
      for (const line of lines.filter(l => l.job === job && l.run).sort((x, y) => cmp(x.t, y.t))) {
        if (line.run === 'start') open.set(line.node, BigInt(line.t));
        else {
          runs.push({ node: line.node, start: open.get(line.node)!, end: BigInt(line.t) });
          open.delete(line.node);
        }
      }
      for (const [node, start] of open) runs.push({ node, start, end: killedAt! });
      runs.sort((x, y) => (x.start < y.start ? -1 : 1));
      for (let i = 1; i < runs.length; i++) {
        if (runs[i].node === runs[i - 1].node) continue;
        expect(
          runs[i].start,
          `${job}: ${runs[i].node} started while ${runs[i - 1].node} ran`,
        ).toBeGreaterThan(runs[i - 1].end);
      }
      expect(new Set(runs.map(r => r.node)).size).toBeGreaterThanOrEqual(1);
      expect(runs.some(r => r.node !== victim! && r.start > killedAt!)).toBe(true);
    }
    // Every run happened where its term was live.
    expect(lines.filter(l => l.run === 'start').every(l => l.leading === true)).toBe(true);
    // Shutdown resigned the jobs and the dead instance's lease has expired: no key is left.
    const stats = lines.flatMap(l => l.jobs ?? []);
    expect(stats).toHaveLength(6 * 2);
    for (const name of new Set(stats.map(s => s.name))) {
      await waitFor(async () => (await keysOf(etcd(), name)).length === 0, {
        timeout: (TTL + 2) * 1000,
        message: `no key left under ${name}`,
      });
    }
  });
});

function cmp(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
