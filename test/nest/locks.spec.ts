import { Injectable } from '@nestjs/common';
import { Interval, ScheduleModule, Timeout } from '@nestjs/schedule';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionOptionsError,
  ElectionService,
  LockService,
  LockTimeoutError,
  WithoutOverlapping,
  WITHOUT_OVERLAPPING_PREFIX,
  currentLock,
  type Lock,
} from '../../lib/index.js';
import { join } from 'node:path';
import {
  deadline,
  delay,
  deleteKey,
  spawnTracked,
  waitFor,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';
import { REPO_ROOT, ensureAppsBuilt } from '../faults/apps.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from '../core/fixtures.js';
import { keysOf, leaseList } from '../core/lock-fixtures.js';
import { Apps, CaptureLogger } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

/** Resolves when `release` is called: lets a test hold a job run open. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>(resolve => (open = resolve));
  return { open, opened };
}

@Injectable()
class Jobs {
  readonly seen: Array<{ lock?: Lock; held?: boolean }> = [];
  readonly scheduled: Array<string | undefined> = [];
  hold = gate();

  @WithoutOverlapping()
  async run(): Promise<string> {
    const lock = currentLock();
    this.seen.push({ lock, held: lock?.held });
    await this.hold.opened;
    return 'done';
  }

  @WithoutOverlapping({ wait: 10_000 })
  async patient(): Promise<string> {
    this.seen.push({ lock: currentLock() });
    await this.hold.opened;
    return 'patient done';
  }

  /** Another job on the lock of `run`: it waits for it. */
  @WithoutOverlapping({ name: `${WITHOUT_OVERLAPPING_PREFIX}Jobs.run`, wait: 10_000 })
  async behindRun(): Promise<string> {
    this.seen.push({ lock: currentLock() });
    return 'behind done';
  }

  @Interval(50)
  @WithoutOverlapping({ name: 'interval-below' })
  below(): void {
    this.scheduled.push(currentLock()?.name);
  }

  @WithoutOverlapping({ name: 'timeout-above' })
  @Timeout(20)
  above(): void {
    this.scheduled.push(currentLock()?.name);
  }
}

describe('LockService', () => {
  it('works with a connection-only forRoot({ etcd }), without ElectionService', async () => {
    const app = await apps.create({
      imports: [ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, ttl: 5 })],
    });
    expect(() => app.get(ElectionService)).toThrow();
    const locks = app.get(LockService);
    const name = uniqueName('nest');

    const lock = await locks.acquire(name);
    expect(lock.held).toBe(true);
    expect(await locks.tryAcquire(name)).toBeUndefined();
    await expect(locks.acquire(name, { wait: 200 })).rejects.toBeInstanceOf(LockTimeoutError);
    await lock.release();

    const result = await locks.withLock(name, inner => {
      expect(currentLock()).toBe(inner);
      expect(inner.held).toBe(true);
      return inner.fencingToken;
    });
    expect(BigInt(result)).toBeGreaterThan(BigInt(lock.fencingToken));
    expect(await keysOf(etcd(), name)).toEqual([]);

    const kept = await locks.acquire(name);
    const lease = kept.key.slice(name.length + 1);
    await apps.closeAll();
    // Shutdown ends held locks and revokes the lease.
    expect(kept.held).toBe(false);
    expect(await keysOf(etcd(), name)).toEqual([]);
    expect(await leaseList(etcd())).not.toContain(lease);
  });

  it('shares the client of an election registration', async () => {
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election: uniqueName('with-election'),
          ttl: 5,
          autoStart: false,
        }),
      ],
    });
    const locks = app.get(LockService);
    expect(app.get(ElectionService)).toBeInstanceOf(ElectionService);
    const lock = await locks.acquire(uniqueName('shared'));
    expect(lock.held).toBe(true);
    await lock.release();
  });

  it('works with an election registered by forRootAsync', async () => {
    const app = await apps.create({
      imports: [
        ElectionModule.forRootAsync({
          useFactory: () => ({
            etcd: { hosts: etcd().endpoints },
            election: uniqueName('async'),
            ttl: 5,
            autoStart: false,
          }),
        }),
      ],
    });
    const lock = await app.get(LockService).acquire(uniqueName('async-lock'));
    expect(lock.held).toBe(true);
    await lock.release();
  });

  it('refuses election-only options without an election, naming them', async () => {
    const error = await apps
      .create({
        imports: [
          ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, autoStart: false } as never),
        ],
      })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ElectionOptionsError);
    expect((error as ElectionOptionsError).field).toBe('election');
    expect((error as Error).message).toContain('"autoStart" applies to an election');
  });

  it('on shutdown aborts the signal at once but keeps the lock until the work under it is done', async () => {
    const connection = { etcd: { hosts: etcd().endpoints }, ttl: 5, shutdownTimeout: 5000 };
    const first = await apps.create({ imports: [ElectionModule.forRoot(connection)] });
    const second = await apps.create({ imports: [ElectionModule.forRoot(connection)] });
    const name = uniqueName('drain');
    let workDoneAt = 0n;
    let abortedAt = 0n;
    const started = gate();
    const running = first.get(LockService).withLock(name, async lock => {
      started.open();
      await new Promise(resolve => lock.signal.addEventListener('abort', resolve));
      abortedAt = process.hrtime.bigint();
      // Simulated work: winding down takes a while; nobody else may start meanwhile.
      await delay(300);
      workDoneAt = process.hrtime.bigint();
    });
    await started.opened;
    const next = second.get(LockService).acquire(name);
    await waitFor(async () => (await keysOf(etcd(), name)).length === 2, {
      timeout: 10_000,
      message: 'second app queued',
    });
    const closing = apps.close(first);
    const lock = await next;
    const acquiredAt = process.hrtime.bigint();
    await closing;
    await running;
    expect(abortedAt).toBeGreaterThan(0n);
    expect(acquiredAt).toBeGreaterThan(workDoneAt);
    await lock.release();
  });

  it('aborts the signal of a lock lost while held, and logs one line', async () => {
    const app = await apps.create({
      imports: [ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, ttl: 5 })],
    });
    const locks = app.get(LockService);
    const name = uniqueName('lost');
    const lock = await locks.acquire(name);
    const before = logs.lines.length;
    await deleteKey(etcd(), lock.key);
    await waitFor(() => lock.signal.aborted, { timeout: 10_000, message: 'lock lost' });
    expect(lock.held).toBe(false);
    const lines = logs.lines.slice(before).filter(line => line.context === 'Lock');
    expect(lines).toHaveLength(1);
    expect(lines[0].message).toContain(`Lock "${name}" lost (key-deleted)`);
    expect(lines[0].level).toBe('warn');
  });
});

describe('@WithoutOverlapping', () => {
  it('skips a run while another holds the job lock, counts it, and gives currentLock()', async () => {
    const app = await apps.create({
      imports: [ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, ttl: 5 })],
      providers: [Jobs],
    });
    const jobs = app.get(Jobs);
    const locks = app.get(LockService);
    const first = jobs.run();
    await waitFor(() => jobs.seen.length === 1, { timeout: 10_000, message: 'first run' });
    expect(jobs.seen[0].lock?.name).toBe(`${WITHOUT_OVERLAPPING_PREFIX}Jobs.run`);
    expect(jobs.seen[0].held).toBe(true);
    expect(await jobs.run()).toBeUndefined();

    // With `wait`, a run still never queues behind its own job's run: it is skipped.
    const waiting = jobs.patient();
    await waitFor(() => jobs.seen.length === 2, { timeout: 10_000, message: 'patient run' });
    expect(await jobs.patient()).toBeUndefined();
    // `wait` waits for the lock while another holds it (here another job on the same lock).
    const behind = jobs.behindRun();
    jobs.hold.open();
    expect(await first).toBe('done');
    expect(await waiting).toBe('patient done');
    expect(await behind).toBe('behind done');
    expect(jobs.seen).toHaveLength(3);
    expect(jobs.seen[2].lock?.name).toBe(`${WITHOUT_OVERLAPPING_PREFIX}Jobs.run`);

    const stats = Object.fromEntries(locks.jobs().map(job => [job.label, job]));
    expect(stats['Jobs.run']).toMatchObject({ runs: 1, skipped: 1, errors: 0 });
    expect(stats['Jobs.patient']).toMatchObject({ runs: 1, skipped: 1 });
    expect(stats['Jobs.behindRun']).toMatchObject({ runs: 1, skipped: 0 });
  });

  it('runs @Interval / @Timeout jobs under their lock, in either decorator order', async () => {
    const app = await apps.create({
      imports: [
        ScheduleModule.forRoot(),
        ElectionModule.forRoot({ etcd: { hosts: etcd().endpoints }, ttl: 5 }),
      ],
      providers: [Jobs],
    });
    const jobs = app.get(Jobs);
    await waitFor(
      () =>
        jobs.scheduled.includes('timeout-above') &&
        jobs.scheduled.filter(name => name === 'interval-below').length >= 2,
      { timeout: 10_000, message: 'scheduled runs under their locks' },
    );
    expect(jobs.scheduled.every(name => name !== undefined)).toBe(true);
  });
});

const LOCK_JOB_APP = join(REPO_ROOT, '.build/test/apps/lock-job.js');

interface JobLine {
  t: string;
  node: string;
  run?: 'start' | 'end';
  token?: string;
  aborted?: boolean;
  tick?: number;
  jobs?: Array<{ label: string; name: string; runs: number; skipped: number; errors: number }>;
  event?: string;
}

function records(proc: TrackedProcess): JobLine[] {
  return proc.lines
    .filter((line: OutputLine) => line.stream === 'stdout' && line.text.startsWith('{'))
    .map(line => JSON.parse(line.text) as JobLine);
}

/**
 * Runs `nodes` replicas of the lock-job app on one job until `runs` runs have ended, stops them
 * (SIGTERM, awaited) and returns every line they wrote.
 */
async function runReplicas(
  nodes: string[],
  env: Record<string, string>,
  runs: number,
): Promise<JobLine[]> {
  await ensureAppsBuilt();
  const replicas = nodes.map(node =>
    spawnTracked(process.execPath, [LOCK_JOB_APP], {
      label: `lock-job ${node}`,
      env: { ETCD_HOSTS: etcd().endpoints.join(','), NODE_NAME: node, LOCK_TTL: '5', ...env },
    }),
  );
  try {
    const ended = () => replicas.flatMap(records).filter(r => r.run === 'end');
    await waitFor(() => ended().length >= runs, {
      timeout: 45_000,
      interval: 100,
      message: `${runs} runs completed`,
    });
  } finally {
    for (const proc of replicas) proc.signal('SIGTERM');
    await Promise.all(
      replicas.map(proc => deadline(proc.exited, 15_000, `${proc.label} exit on SIGTERM`)),
    );
  }
  return replicas.flatMap(records);
}

/** Milliseconds from each run's tick to its start that exceed `ms`: runs that queued. */
function lateStarts(all: JobLine[], ms: number): number[] {
  const tickAt = new Map(
    all
      .filter(r => r.run === undefined && r.tick !== undefined)
      .map(r => [`${r.node} ${r.tick}`, r.t]),
  );
  return all
    .filter(r => r.run === 'start')
    .map(r => Number(BigInt(r.t) - BigInt(tickAt.get(`${r.node} ${r.tick}`)!)) / 1e6)
    .filter(late => late > ms);
}

describe('@WithoutOverlapping across processes', () => {
  it('never overlaps a 3 s job on a 1 s interval across 3 instances; skipped runs are counted', async () => {
    const job = uniqueName('three-replicas');
    const all = await runReplicas(
      ['a', 'b', 'c'],
      { JOB_NAME: job, JOB_MS: '3000', INTERVAL_MS: '1000' },
      3,
    );
    const starts = all.filter(r => r.run === 'start').sort((x, y) => cmp(x.t, y.t));
    const ends = new Map(all.filter(r => r.run === 'end').map(r => [r.token!, r]));
    // Each run, from the moment it held the lock to the end of its work, is disjoint from the next.
    for (let i = 1; i < starts.length; i++) {
      const previous = ends.get(starts[i - 1].token!);
      expect(previous, `run ${starts[i - 1].token} ended`).toBeDefined();
      expect(BigInt(starts[i].t)).toBeGreaterThan(BigInt(previous!.t));
      expect(BigInt(starts[i].token!)).toBeGreaterThan(BigInt(starts[i - 1].token!));
    }
    // A try-lock is one etcd round trip: a run that starts later than this queued for the lock.
    expect(lateStarts(all, 500), 'runs that started over 500 ms after their tick (ms)').toEqual([]);
    const completed = all.filter(r => r.run === 'end' && !r.aborted);
    expect(completed.length).toBeGreaterThanOrEqual(3);
    const stats = all.flatMap(r => r.jobs ?? []);
    expect(stats).toHaveLength(3);
    expect(stats.every(s => s.name === job && s.errors === 0)).toBe(true);
    const skipped = stats.reduce((sum, s) => sum + s.skipped, 0);
    const ran = stats.reduce((sum, s) => sum + s.runs, 0);
    expect(ran).toBe(starts.length);
    // Three replicas tick every second while one run takes three: most ticks find the lock held.
    expect(skipped).toBeGreaterThan(ran);
    // A tick is a run or a skip; ticks during shutdown (locks closed) count as neither.
    const ticks = all.filter(r => r.run === undefined && r.tick !== undefined).length;
    expect(ran + skipped).toBeLessThanOrEqual(ticks);
    console.info(
      `3 replicas: ${ran} runs (${stats.map(s => `${s.runs}`).join('/')}), ${skipped} skipped`,
    );
    expect(await keysOf(etcd(), job)).toEqual([]);
  });

  it('with wait, skips a tick that finds its own previous run still going, instead of queueing behind it', async () => {
    const all = await runReplicas(
      ['solo'],
      { JOB_NAME: uniqueName('own-run'), JOB_MS: '1500', INTERVAL_MS: '500', JOB_WAIT: '5000' },
      2,
    );
    // Nobody else holds the lock: a run that starts long after its tick waited for its own job.
    expect(lateStarts(all, 500), 'runs that started over 500 ms after their tick (ms)').toEqual([]);
    const stats = all.flatMap(r => r.jobs ?? []);
    expect(stats.reduce((sum, s) => sum + s.skipped, 0)).toBeGreaterThan(0);
    expect(stats.reduce((sum, s) => sum + s.runs, 0)).toBe(
      all.filter(r => r.run === 'start').length,
    );
  });
});

function cmp(a: string, b: string): number {
  const d = BigInt(a) - BigInt(b);
  return d < 0n ? -1 : d > 0n ? 1 : 0;
}
