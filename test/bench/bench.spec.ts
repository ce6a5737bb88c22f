import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { BenchResults, TargetCheck } from './report.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RUNNER = join(ROOT, '.build/test/bench/run.js'); // compiled by test/global-setup.ts

const positive = (v: number | undefined) => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * `npm run bench --quick` as CI runs it, so that the benchmark cannot rot: every section is
 * measured and written, with numbers that make sense. No timing assertions — CI machines vary.
 */
describe('bench --quick', () => {
  let dir: string;
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('measures every section and writes the page and its charts', async () => {
    dir = await mkdtemp(join(tmpdir(), 'bench-spec-'));
    const out = join(dir, 'benchmarks.md');
    const json = join(dir, 'bench.json');
    await promisify(execFile)(process.execPath, [RUNNER, '--quick', '--out', out, '--json', json], {
      cwd: ROOT,
      timeout: 140_000,
      maxBuffer: 16 * 1024 * 1024,
    });

    const page = await readFile(out, 'utf8');
    for (const heading of [
      '## Machine',
      '## Targets',
      '## Graceful handover',
      '## Where one handover’s time goes',
      '## Crash failover',
      '## Scaling',
      '## Idle cost',
      '## Memory',
      '## Lock handover',
      '## Idle cost of one application',
    ]) {
      expect(page).toContain(heading);
    }
    expect(page).toContain('etcdctl elect');
    expect(page).toContain('(benchmarks-handover.svg)');
    for (const chart of ['benchmarks-handover.svg', 'benchmarks-scaling.svg']) {
      const svg = await readFile(join(dir, chart), 'utf8');
      expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
      expect(svg.trimEnd()).toMatch(/<\/svg>$/);
      expect(svg).not.toContain('NaN');
    }

    const r = JSON.parse(await readFile(json, 'utf8')) as BenchResults & {
      targets: TargetCheck[];
    };
    expect(r.machine.cores).toBeGreaterThan(0);
    expect(r.machine.etcd).toMatch(/^\d+\.\d+/);

    const kinds = r.handover.map(h => h.kind);
    expect(kinds).toEqual(expect.arrayContaining(['ours', 'etcdctl', 'etcd3']));
    for (const h of r.handover) {
      expect(h.failures, `${h.kind} handover`).toEqual([]);
      expect(h.summary.n).toBe(r.rounds);
      expect(positive(h.summary.p50) && h.summary.p50 <= h.summary.p90).toBe(true);
      expect(h.summary.p90).toBeLessThanOrEqual(h.summary.max);
    }

    // The breakdown lines up marks of two processes with the runner's clock: every phase of
    // every round must come out in order (none negative), the whole path must be measured.
    expect(r.breakdown?.map(b => `${b.id}/${b.state}`)).toEqual([
      'ours/cold',
      'core/cold',
      'core/warm',
    ]);
    for (const b of r.breakdown ?? []) {
      expect(b.failures, `${b.id} ${b.state} breakdown`).toEqual([]);
      expect(b.rounds).toBeGreaterThan(0);
      const ids = b.phases.map(p => p.id);
      expect(ids).toEqual(expect.arrayContaining(['resign', 'event', 'read', 'line', 'total']));
      // Each round's marks (ms after the signal) go with a failure: they show which mark is off.
      const rounds = JSON.stringify(b.marks);
      for (const phase of b.phases) {
        expect(phase.n, `${b.id} ${phase.id}`).toBe(b.rounds);
        expect(phase.p50, `${b.id} ${phase.id}, rounds ${rounds}`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(r.memoryStages?.every(s => positive(s.rssMb))).toBe(true);
    expect(positive(r.startup?.queuedMs) && positive(r.startup?.cpuMs)).toBe(true);

    const crash = r.crash.find(c => c.kind === 'ours' && c.ttl === 2);
    expect(crash?.summary.n).toBeGreaterThan(0);
    // The successor can only lead once the dead leader's lease is gone.
    expect(crash!.summary.min).toBeGreaterThan(500);

    const ours = r.scaling.filter(p => p.kind === 'core');
    expect(ours.map(p => p.n)).toEqual([3, 10]);
    for (const p of ours) {
      expect(p.failures).toEqual([]);
      expect(positive(p.summary.p50)).toBe(true);
      // No herd: one leader change wakes exactly one waiter, whatever the queue length.
      expect(p.waitEventsPerChange).toBe(1);
      expect(p.wakeupsPerChange).toBe(1);
    }
    expect(r.scaling.some(p => p.kind === 'etcdctl' && p.summary.n > 0)).toBe(true);

    for (const i of r.idle) {
      expect(i.candidates).toBeGreaterThan(0);
      expect(Number.isFinite(i.total)).toBe(true);
      expect(i.keepalives).toBeGreaterThanOrEqual(0);
    }
    expect(r.idle.map(i => i.kind)).toEqual(expect.arrayContaining(['ours', 'etcdctl']));

    for (const id of ['sample', 'bare', 'etcdctl'] as const) {
      const m = r.memory.find(x => x.id === id);
      expect(m && m.rssMb > 5 && m.rssMb < 4096, `${id} RSS ${m?.rssMb}`).toBe(true);
    }

    // Lock handover beside etcdctl lock, at 3 waiters in --quick.
    const locks = r.locks ?? [];
    expect(locks.map(l => `${l.kind} ${l.waiters}`).sort()).toEqual(['etcdctl 3', 'ours 3']);
    for (const l of locks) {
      expect(l.summary.n, `${l.kind} lock rounds`).toBe(3);
      expect(positive(l.summary.p50) && l.summary.p50 <= l.summary.p90).toBe(true);
    }
    expect(page).toContain('etcdctl lock');

    // 20 elections + 10 locks: one lease for the app, 21 with one session per election.
    const shared = r.appIdle?.find(a => a.variant === 'shared');
    const before = r.appIdle?.find(a => a.variant === 'per-election');
    expect(shared).toMatchObject({ elections: 20, locks: 10, leases: 1, unaryPerMinute: 0 });
    expect(before?.leases).toBe(21);
    expect(shared!.keepalivesPerMinute).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(before!.requestsPerMinute)).toBe(true);

    expect(r.targets.length).toBeGreaterThanOrEqual(6);
  }, 150_000);
});
