/**
 * `npm run bench`: starts its own etcd, measures this library beside `etcdctl elect`, `etcdctl
 * lock` and the npm `etcd3` election (graceful handover, crash failover, scaling, idle cost,
 * memory, lock handover, the idle cost of an application with 20 elections and 10 locks), and
 * writes `docs/benchmarks.md` with two SVG charts beside it.
 *
 * Flags: `--quick` (CI smoke: few rounds, small N; writes to a temp dir unless `--out` is given),
 * `--rounds N` (graceful rounds per implementation, default 30), `--out path` (the markdown;
 * charts go beside it), `--json path` (raw results), `--only a,b` (sections: memory, idle,
 * handover, breakdown, crash, scaling, locks, app-idle), `--render results.json` (no measuring: rewrite the page and charts
 * from the raw results of an earlier run).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createEtcdClient } from '../../lib/core/index.js';
import { killAll, startEtcd } from '../support/index.js';
import { core, etcd3, etcdctl, floor, ours, sampleAvailable, type Kind } from './contenders.js';
import type { BenchContext } from './context.js';
import { measureAppIdle } from './app-idle.js';
import { measureMemoryStages, measureStartup } from './costs.js';
import { breakdownVariants, measureColdBreakdown, measureWarmBreakdown } from './breakdown.js';
import { measureCrash, measureHandover, type LatencyResult } from './handover.js';
import { measureIdle } from './idle.js';
import { type LockHandoverResult, measureEtcdctl, measureOurs } from './locks.js';
import { currentLoad, describeMachine } from './machine.js';
import { MEMORY_VARIANTS, measureMemory } from './memory.js';
import {
  type BenchResults,
  checkTargets,
  renderHandoverSvg,
  renderMarkdown,
  renderScalingSvg,
} from './report.js';
import { measureScaling } from './scaling.js';

const SECTIONS = [
  'memory',
  'idle',
  'handover',
  'breakdown',
  'crash',
  'scaling',
  'locks',
  'app-idle',
] as const;
type Section = (typeof SECTIONS)[number];

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

interface Plan {
  quick: boolean;
  rounds: number;
  crashRounds: number;
  crashTtls: number[];
  /** Parallel etcdctl pairs killed once each (TTL 60 s); 0 skips. */
  goCrashPairs: number;
  sizes: number[];
  goSizes: number[];
  scalingRounds: number;
  /** Rounds of the handover breakdown per process state, and untimed rounds before warm ones. */
  breakdownRounds: number;
  breakdownWarmup: number;
  idleWindowMs: number;
  idleWarmupMs: number;
  idleCount: number;
  memoryRepeats: number;
  memorySettleMs: number;
  lockRounds: number;
  lockWaiters: number[];
  appIdleTtl: number;
  appIdleWindowMs: number;
  out: string;
  json?: string;
  render?: string;
  only: Set<Section>;
}

function plan(argv: string[]): Plan {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      rounds: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'string' },
      only: { type: 'string' },
      render: { type: 'string' },
    },
  });
  const quick = values.quick ?? false;
  const rounds = values.rounds !== undefined ? Number(values.rounds) : quick ? 3 : 30;
  if (!Number.isInteger(rounds) || rounds < 1) {
    throw new Error(`--rounds: expected a whole number ≥ 1, got ${values.rounds}`);
  }
  const only = new Set<Section>(
    values.only ? (values.only.split(',').map(s => s.trim()) as Section[]) : SECTIONS,
  );
  for (const s of only) {
    if (!SECTIONS.includes(s))
      throw new Error(`--only: unknown section ${s} (${SECTIONS.join(', ')})`);
  }
  const out = values.out
    ? resolve(values.out)
    : quick
      ? join(tmpdir(), `nestjs-etcd-election-bench-${process.pid}`, 'benchmarks.md')
      : join(REPO, 'docs', 'benchmarks.md');
  return {
    quick,
    rounds,
    crashRounds: quick ? 1 : Math.max(3, Math.ceil(rounds / 3)),
    crashTtls: quick ? [2] : [2, 5],
    goCrashPairs: quick ? 0 : 2,
    sizes: quick ? [3, 10] : [3, 10, 30, 100],
    goSizes: quick ? [3] : [3, 10, 30, 100],
    scalingRounds: quick ? 3 : Math.max(5, Math.ceil((rounds * 2) / 3)),
    // Three in --quick: the median of one round is that round, outlier or not.
    breakdownRounds: quick ? 3 : Math.max(5, Math.ceil(rounds / 2)),
    breakdownWarmup: quick ? 1 : 20,
    idleWindowMs: quick ? 3_000 : 40_000,
    idleWarmupMs: quick ? 500 : 3_000,
    idleCount: quick ? 2 : 3,
    memoryRepeats: quick ? 1 : 3,
    memorySettleMs: quick ? 500 : 5_000,
    lockRounds: quick ? 3 : rounds,
    lockWaiters: quick ? [3] : [3, 30],
    // TTL 10 as the issue measured it; 3 in --quick so that a short window sees keepalives.
    appIdleTtl: quick ? 3 : 10,
    appIdleWindowMs: quick ? 3_000 : 30_000,
    out,
    json: values.json ? resolve(values.json) : undefined,
    render: values.render ? resolve(values.render) : undefined,
    only,
  };
}

async function main(): Promise<void> {
  const p = plan(process.argv.slice(2));
  if (p.render) {
    await write(JSON.parse(readFileSync(p.render, 'utf8')) as BenchResults, p);
    return;
  }
  const startedAt = Date.now();
  const log = (message: string) =>
    process.stderr.write(`[bench +${((Date.now() - startedAt) / 1000).toFixed(0)}s] ${message}\n`);
  const machine = describeMachine();
  const haveSample = sampleAvailable();
  if (!haveSample) log('sample app not built: "ours" runs the lib/core stand-in instead');
  const oursKind: Kind = haveSample ? ours : core;

  const cluster = await startEtcd({ name: 'bench' });
  const client = createEtcdClient({ hosts: cluster.endpoints });
  const ctx: BenchContext = {
    cluster,
    endpoints: cluster.endpoints,
    client,
    quick: p.quick,
    log,
  };
  const results: BenchResults = {
    machine,
    quick: p.quick,
    rounds: p.rounds,
    oursApp: haveSample ? 'sample' : 'core',
    handover: [],
    breakdown: [],
    crash: [],
    scaling: [],
    idle: [],
    memory: [],
    locks: [],
    appIdle: [],
    durationMs: 0,
  };
  log(`etcd at ${cluster.endpoints.join(', ')}; writing ${p.out}`);
  try {
    if (p.only.has('memory')) {
      log('memory');
      const variants = MEMORY_VARIANTS.filter(
        v =>
          (haveSample || (v.id !== 'sample' && v.id !== 'bare')) &&
          (!p.quick || ['sample', 'bare', 'core', 'etcdctl'].includes(v.id)),
      );
      results.memory = await measureMemory(ctx, variants, {
        repeats: p.memoryRepeats,
        settleMs: p.memorySettleMs,
      });
      results.memoryStages = await measureMemoryStages(ctx, p.memoryRepeats);
    }
    if (p.only.has('idle')) {
      const configs: Array<[Kind, number | undefined]> = p.quick
        ? [
            [oursKind, undefined],
            [etcdctl, undefined],
          ]
        : [
            [oursKind, undefined],
            [oursKind, 60],
            [etcdctl, undefined],
            [etcd3, undefined],
          ];
      for (const [kind, ttl] of configs) {
        log(`idle ${kind.id} ttl ${ttl ?? kind.defaultTtl}s`);
        results.idle.push(
          await measureIdle(ctx, kind, {
            count: p.idleCount,
            ttl,
            windowMs: p.idleWindowMs,
            warmupMs: p.idleWarmupMs,
          }),
        );
      }
    }
    if (p.only.has('handover')) {
      log(`graceful handover, ${p.rounds} rounds`);
      const kinds = [...(haveSample ? [ours] : []), core, etcdctl, etcd3, floor];
      results.handover = await measureHandover(ctx, kinds, p.rounds);
    }
    if (p.only.has('breakdown')) {
      log(`handover breakdown, ${p.breakdownRounds} rounds per process state`);
      const variants = breakdownVariants(haveSample, !p.quick);
      const cold = await measureColdBreakdown(ctx, variants, p.breakdownRounds);
      const warm = await measureWarmBreakdown(ctx, p.breakdownRounds, p.breakdownWarmup);
      results.breakdown = [...cold, warm];
    }
    if (p.only.has('crash')) {
      log(`crash failover, ${p.crashRounds} rounds per TTL`);
      // etcdctl's 60 s session runs beside ours: it is idle while it waits for its lease to expire.
      const go: Promise<LatencyResult | undefined> =
        p.goCrashPairs > 0
          ? measureCrash(ctx, etcdctl, etcdctl.defaultTtl, 1, p.goCrashPairs)
          : Promise.resolve(undefined);
      go.catch(() => undefined);
      for (const ttl of p.crashTtls) {
        results.crash.push(await measureCrash(ctx, oursKind, ttl, p.crashRounds));
      }
      const goResult = await go;
      if (goResult) results.crash.push(goResult);
      results.crashNote =
        '`etcdctl elect` has no TTL flag: its session TTL is 60 s, so its crash failover takes ' +
        '40–60 s by construction. ' +
        (goResult
          ? `It is measured ${goResult.summary.n} time(s), in parallel with ours, not over many rounds.`
          : 'It is not measured in `--quick` mode.');
    }
    if (p.only.has('scaling')) {
      log(
        `scaling ${p.sizes.join('/')} (etcdctl ${p.goSizes.join('/')}), ${p.scalingRounds} rounds`,
      );
      results.scaling = await measureScaling(ctx, p.sizes, p.goSizes, p.scalingRounds);
      results.startup = await measureStartup(ctx, 10, p.memoryRepeats);
      const skipped = p.sizes.filter(n => !p.goSizes.includes(n));
      if (skipped.length) {
        results.scalingNote = `etcdctl elect was not run at N = ${skipped.join(', ')} in this mode.`;
      }
    }
    if (p.only.has('locks')) {
      for (const waiters of p.lockWaiters) {
        log(`lock handover, ${waiters} waiters, ${p.lockRounds} rounds: ours, then etcdctl lock`);
        const pair: LockHandoverResult[] = [
          await measureOurs(cluster, waiters, p.lockRounds),
          await measureEtcdctl(cluster, waiters, p.lockRounds),
        ];
        results.locks!.push(...pair);
      }
    }
    if (p.only.has('app-idle')) {
      log(`idle application: 20 elections + 10 locks, TTL ${p.appIdleTtl} s`);
      results.appIdle = await measureAppIdle(ctx, {
        ttl: p.appIdleTtl,
        windowMs: p.appIdleWindowMs,
        warmupMs: p.idleWarmupMs,
      });
    }
  } finally {
    client.close();
    await killAll();
    await cluster.close();
  }
  results.machine.loadEnd = currentLoad();
  results.durationMs = Date.now() - startedAt;
  await write(results, p);
  for (const t of checkTargets(results)) {
    log(`${t.met === undefined ? 'n/a ' : t.met ? 'MET ' : 'MISS'} ${t.target}: ${t.measured}`);
  }
  process.stdout.write(`${p.out}\n`);
}

/** Writes the page, its two charts beside it, and the raw results when `--json` asks. */
async function write(results: BenchResults, p: Plan): Promise<void> {
  const base = basename(p.out).replace(/\.md$/, '');
  const svg = { handover: `${base}-handover.svg`, scaling: `${base}-scaling.svg` };
  mkdirSync(dirname(p.out), { recursive: true });
  writeFileSync(p.out, await prettify(renderMarkdown(results, svg), p.out));
  writeFileSync(join(dirname(p.out), svg.handover), renderHandoverSvg(results));
  writeFileSync(join(dirname(p.out), svg.scaling), renderScalingSvg(results));
  if (p.json) {
    mkdirSync(dirname(p.json), { recursive: true });
    writeFileSync(p.json, JSON.stringify({ ...results, targets: checkTargets(results) }, null, 2));
  }
}

/** Formats the page the way `npm run lint` checks it (prettier is a dev dependency). */
async function prettify(markdown: string, path: string): Promise<string> {
  try {
    const prettier = await import('prettier');
    const config = (await prettier.resolveConfig(join(REPO, 'docs', 'benchmarks.md'))) ?? {};
    return await prettier.format(markdown, { ...config, filepath: path, parser: 'markdown' });
  } catch {
    return markdown;
  }
}

main().then(
  () => process.exit(0),
  error => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
