/**
 * Handover latency and wake-ups with N candidates in one queue: ours (engine candidates, ten per
 * process, observe off) and `etcdctl elect` (one process each). Each round the leader resigns
 * and a fresh candidate joins at the back, so the queue keeps its length.
 */
import { EventEmitter } from 'node:events';
import {
  deadline,
  delay,
  spawnTracked,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';
import { type BenchContext, electionName, waitQueue, waitQuiet } from './context.js';
import { CORE_MAIN, etcdctl, type Contender } from './contenders.js';
import { scrapeWatchEvents } from './idle.js';
import { elapsedMs, summarize, type Summary } from './stats.js';

/** Candidates of ours per process. */
export const PER_PROCESS = 10;

/** Handover at one queue length. */
export interface ScalingPoint {
  kind: 'core' | 'etcdctl';
  /** Candidates in the queue. */
  n: number;
  processes: number;
  /** Milliseconds from starting the processes until all n were queued and one led. */
  startupMs: number;
  samples: number[];
  summary: Summary;
  failures: string[];
  /** Watch events delivered to waiting candidates per leader change, summed (ours only). */
  waitEventsPerChange?: number;
  /** Waiters woken per leader change, summed (ours only). */
  wakeupsPerChange?: number;
  /** Watch events etcd sent to all watchers per leader change (`etcd_debugging_mvcc_events_total`). */
  serverEventsPerChange?: number;
}

interface CoreStats {
  elected: number;
  waitWatchEvents: number;
  wakeups: number;
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** N engine candidates, ten per process; SIGUSR1 makes the leader's process replace its leader. */
async function scaleOurs(ctx: BenchContext, n: number, rounds: number): Promise<ScalingPoint> {
  const name = electionName(`scale-core-${n}`);
  const leads = new EventEmitter();
  let leader: TrackedProcess | undefined;
  const procs: TrackedProcess[] = [];
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i * PER_PROCESS < n; i++) {
    const proc = spawnTracked(process.execPath, [CORE_MAIN], {
      label: `core x${Math.min(PER_PROCESS, n - i * PER_PROCESS)} #${i}`,
      maxLines: 500,
      env: {
        ETCD_HOSTS: ctx.endpoints.join(','),
        ELECTION_NAME: name,
        ELECTION_VALUE: `p${i}`,
        CANDIDATES: String(Math.min(PER_PROCESS, n - i * PER_PROCESS)),
        OBSERVE: '0',
      },
    });
    proc.on('line', (line: OutputLine) => {
      if (line.stream !== 'stdout' || !line.text.startsWith('LEAD ')) return;
      leader = proc;
      leads.emit('lead', line.at);
    });
    procs.push(proc);
  }
  const point: ScalingPoint = {
    kind: 'core',
    n,
    processes: procs.length,
    startupMs: 0,
    samples: [],
    summary: summarize([]),
    failures: [],
  };
  try {
    await waitQueue(ctx, `${name}/`, n, 120_000);
    if (!leader) {
      await deadline(new Promise(resolve => leads.once('lead', resolve)), 30_000, 'first leader');
    }
    point.startupMs = elapsedMs(startedAt, process.hrtime.bigint());
    await delay(500);
    const statsBefore = await collectStats(procs);
    const eventsBefore = await scrapeWatchEvents(ctx);
    let changes = 0;
    for (let r = 0; r < rounds; r++) {
      try {
        await waitQueue(ctx, `${name}/`, n);
        await waitQuiet(procs.map(p => p.pid));
        await delay(200 + Math.random() * 200);
        const next = new Promise<bigint>(resolve => leads.once('lead', resolve));
        const sentAt = process.hrtime.bigint();
        leader!.signal('SIGUSR1');
        point.samples.push(elapsedMs(sentAt, await deadline(next, 15_000, 'next leader')));
        changes++;
      } catch (error) {
        point.failures.push(message(error));
        ctx.log(`scaling ours n=${n} round ${r + 1} failed: ${message(error)}`);
      }
    }
    await waitQueue(ctx, `${name}/`, n);
    const statsAfter = await collectStats(procs);
    const eventsAfter = await scrapeWatchEvents(ctx);
    if (changes > 0) {
      point.waitEventsPerChange =
        (statsAfter.waitWatchEvents - statsBefore.waitWatchEvents) / changes;
      point.wakeupsPerChange = (statsAfter.wakeups - statsBefore.wakeups) / changes;
      point.serverEventsPerChange = (eventsAfter - eventsBefore) / changes;
    }
  } finally {
    await Promise.all(procs.map(p => stop(p, 'SIGTERM')));
  }
  point.summary = summarize(point.samples);
  return point;
}

/** Asks every process for its counters (SIGUSR2 → `STATS <json>`) and sums them. */
async function collectStats(procs: readonly TrackedProcess[]): Promise<CoreStats> {
  const all = await Promise.all(
    procs.map(async proc => {
      const mark = proc.lineCount;
      proc.signal('SIGUSR2');
      const line = await proc.waitForLine(/^STATS /, 10_000, mark);
      return JSON.parse(line.text.slice('STATS '.length)) as CoreStats;
    }),
  );
  return all.reduce(
    (sum, s) => ({
      elected: sum.elected + s.elected,
      waitWatchEvents: sum.waitWatchEvents + s.waitWatchEvents,
      wakeups: sum.wakeups + s.wakeups,
    }),
    { elected: 0, waitWatchEvents: 0, wakeups: 0 },
  );
}

/** N `etcdctl elect` processes; the leader gets SIGINT and a new process joins at the back. */
async function scaleEtcdctl(ctx: BenchContext, n: number, rounds: number): Promise<ScalingPoint> {
  const name = electionName(`scale-etcdctl-${n}`);
  let spawned = 0;
  const spawn = () =>
    etcdctl.spawn({ endpoints: ctx.endpoints, name, value: `etcdctl-${++spawned}` });
  const queue: Contender[] = [];
  const startedAt = process.hrtime.bigint();
  for (let i = 0; i < n; i++) queue.push(await spawn());
  const point: ScalingPoint = {
    kind: 'etcdctl',
    n,
    processes: n,
    startupMs: 0,
    samples: [],
    summary: summarize([]),
    failures: [],
  };
  const firstLeader = (candidates: readonly Contender[]) =>
    Promise.race(candidates.map(c => c.leads.then(at => ({ c, at }))));
  try {
    await waitQueue(ctx, `${name}/`, n, 120_000);
    let leader = (await deadline(firstLeader(queue), 30_000, 'first etcdctl leader')).c;
    point.startupMs = elapsedMs(startedAt, process.hrtime.bigint());
    await delay(500);
    const eventsBefore = await scrapeWatchEvents(ctx);
    let changes = 0;
    for (let r = 0; r < rounds; r++) {
      try {
        await waitQueue(ctx, `${name}/`, n);
        await waitQuiet(queue.map(c => c.process.pid));
        await delay(200 + Math.random() * 200);
        const others = queue.filter(c => c !== leader);
        const next = firstLeader(others);
        const sentAt = process.hrtime.bigint();
        leader.process.signal('SIGINT');
        const successor = await deadline(next, 15_000, 'next etcdctl leader');
        point.samples.push(elapsedMs(sentAt, successor.at));
        changes++;
        await stop(leader.process);
        queue.splice(queue.indexOf(leader), 1);
        leader = successor.c;
        queue.push(await spawn());
      } catch (error) {
        point.failures.push(message(error));
        ctx.log(`scaling etcdctl n=${n} round ${r + 1} failed: ${message(error)}`);
        break;
      }
    }
    await waitQueue(ctx, `${name}/`, n).catch(() => undefined);
    const eventsAfter = await scrapeWatchEvents(ctx);
    if (changes > 0) point.serverEventsPerChange = (eventsAfter - eventsBefore) / changes;
  } finally {
    await Promise.all(queue.map(c => stop(c.process, 'SIGINT')));
  }
  point.summary = summarize(point.samples);
  return point;
}

/** Sends `signal` (if given), waits for the exit, SIGKILLs after 10 s. */
async function stop(proc: TrackedProcess, signal?: NodeJS.Signals): Promise<void> {
  if (signal) proc.signal(signal);
  await deadline(proc.exited, 10_000, `${proc.label} exit`).catch(() => proc.kill());
}

/** Runs every queue length for ours, and those in `goSizes` for etcdctl elect. */
export async function measureScaling(
  ctx: BenchContext,
  sizes: readonly number[],
  goSizes: readonly number[],
  rounds: number,
): Promise<ScalingPoint[]> {
  const points: ScalingPoint[] = [];
  for (const n of sizes) {
    const ours = await scaleOurs(ctx, n, rounds);
    points.push(ours);
    ctx.log(
      `scaling ours n=${n}: p50 ${ours.summary.p50.toFixed(1)} ms, ` +
        `${ours.waitEventsPerChange ?? '—'} wait events/change`,
    );
    if (goSizes.includes(n)) {
      const go = await scaleEtcdctl(ctx, n, rounds);
      points.push(go);
      ctx.log(`scaling etcdctl n=${n}: p50 ${go.summary.p50.toFixed(1)} ms`);
    }
  }
  return points;
}
