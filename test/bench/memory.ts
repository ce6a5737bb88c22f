/**
 * Resident memory of one process per variant — the sample app, the same app without the
 * election module, the engine alone, the peers — after boot and a short settle, read from
 * `/proc/<pid>/status`. Variants are interleaved and each is booted `repeats` times (median kept).
 */
import { readFileSync } from 'node:fs';
import { deadline, delay, freePort, spawnTracked, type TrackedProcess } from '../support/index.js';
import { type BenchContext, electionName } from './context.js';
import { BARE_MAIN, core, etcd3, etcdctl, ours, type Kind } from './contenders.js';
import { summarize } from './stats.js';

/** RSS of one variant. */
export interface MemoryResult {
  id: 'sample' | 'bare' | 'core' | 'etcd3' | 'etcdctl' | 'node';
  label: string;
  /** Median RSS in MiB over the boots. */
  rssMb: number;
  samples: number[];
}

interface Variant {
  id: MemoryResult['id'];
  label: string;
  /** Starts it and resolves once it is up (leading, or listening). */
  boot(ctx: BenchContext): Promise<{ proc: TrackedProcess; stop: NodeJS.Signals }>;
}

function candidate(kind: Kind, id: MemoryResult['id'], label: string): Variant {
  return {
    id,
    label,
    async boot(ctx) {
      const c = await kind.spawn({
        endpoints: ctx.endpoints,
        name: electionName(`memory-${id}`),
        value: `${id}-1`,
      });
      await deadline(c.leads, 30_000, `${id} leading`);
      return { proc: c.process, stop: kind.graceful };
    },
  };
}

const bare: Variant = {
  id: 'bare',
  label: 'same Nest app without ElectionModule',
  async boot() {
    const proc = spawnTracked(process.execPath, [BARE_MAIN], {
      label: 'bare nest',
      maxLines: 200,
      env: { PORT: String(await freePort()), NO_COLOR: '1' },
    });
    await proc.waitForLine(/^READY\b/, 30_000);
    return { proc, stop: 'SIGTERM' };
  },
};

const emptyNode: Variant = {
  id: 'node',
  label: 'empty Node.js process (reference)',
  async boot() {
    const proc = spawnTracked(
      process.execPath,
      ['-e', "process.stdout.write('READY\\n'); setInterval(() => {}, 1 << 30)"],
      { label: 'empty node' },
    );
    await proc.waitForLine(/^READY\b/, 30_000);
    return { proc, stop: 'SIGTERM' };
  },
};

/** Every variant, in report order. */
export const MEMORY_VARIANTS: readonly Variant[] = [
  candidate(ours, 'sample', 'sample app (01-scheduler) with ElectionModule'),
  bare,
  candidate(core, 'core', 'engine only (lib/core, one Candidate)'),
  candidate(etcd3, 'etcd3', 'npm etcd3 election() peer'),
  candidate(etcdctl, 'etcdctl', 'etcdctl elect (Go)'),
  emptyNode,
];

/** VmRSS of `pid` in MiB. */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb[1]) / 1024;
}

/** Boots each variant `repeats` times, interleaved, and reads its RSS after `settleMs`. */
export async function measureMemory(
  ctx: BenchContext,
  variants: readonly Variant[],
  options: { repeats: number; settleMs: number },
): Promise<MemoryResult[]> {
  const samples = new Map<Variant, number[]>(variants.map(v => [v, []]));
  for (let r = 0; r < options.repeats; r++) {
    for (const variant of variants) {
      const { proc, stop } = await variant.boot(ctx);
      try {
        await delay(options.settleMs);
        samples.get(variant)!.push(rssMb(proc.pid));
      } finally {
        proc.signal(stop);
        await deadline(proc.exited, 10_000, `${proc.label} exit`).catch(() => proc.kill());
      }
    }
    ctx.log(`memory boot ${r + 1}/${options.repeats} done`);
  }
  return variants.map(v => ({
    id: v.id,
    label: v.label,
    samples: samples.get(v)!,
    rssMb: summarize(samples.get(v)!).p50,
  }));
}
