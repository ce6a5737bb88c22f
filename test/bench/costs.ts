/**
 * What the library costs beyond a handover: what its memory is made of (one stage of modules at
 * a time, `apps/memory-stages.ts`), and where start-up time goes (a Node.js process's own boot
 * and module loading versus the election's requests).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { deadline, spawnTracked, type TrackedProcess } from '../support/index.js';
import { type BenchContext, electionName, queueLength } from './context.js';
import { CORE_MAIN } from './contenders.js';

const MEMORY_STAGES = fileURLToPath(new URL('./apps/memory-stages.js', import.meta.url));
const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Stages of {@link MEMORY_STAGES}, in order, with what each adds. */
export const STAGES: ReadonlyArray<{ id: string; label: string }> = [
  { id: 'base', label: 'Nest, express, schedule, terminus (the app without ElectionModule)' },
  { id: 'grpc-js', label: '+ @grpc/grpc-js' },
  { id: 'protobufjs', label: '+ protobufjs, @grpc/proto-loader' },
  { id: 'etcd3', label: '+ etcd3 (parses etcd’s rpc.proto at load)' },
  { id: 'library', label: '+ this library (lib, lib/core, health)' },
  {
    id: 'metrics',
    label: '+ prom-client, @willsoto/nestjs-prometheus, lib/metrics (the sample’s /metrics)',
  },
  { id: 'connected', label: '+ one etcd client connected, one candidate leading' },
];

/** Median RSS and heap after each stage, in MiB. */
export interface MemoryStage {
  id: string;
  label: string;
  rssMb: number;
  heapMb: number;
}

const median = (values: number[]) => {
  const s = [...values].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : Number.NaN;
};

/** Runs the staged loader `repeats` times and keeps the median of each stage. */
export async function measureMemoryStages(
  ctx: BenchContext,
  repeats: number,
): Promise<MemoryStage[]> {
  const runs: Array<Map<string, [number, number]>> = [];
  for (let i = 0; i < repeats; i++) {
    const proc = spawnTracked(process.execPath, ['--expose-gc', MEMORY_STAGES], {
      label: 'memory stages',
      cwd: REPO,
      env: { ETCD_HOSTS: ctx.endpoints.join(',') },
    });
    const exit = await deadline(proc.exited, 60_000, 'memory stages exit').catch(error => {
      void proc.kill();
      throw error;
    });
    if (exit.code !== 0) throw new Error(`memory stages failed (${exit.code})\n${proc.tail()}`);
    const stages = new Map<string, [number, number]>();
    for (const line of proc.lines) {
      const [tag, id, rss, heap] = line.text.split(' ');
      if (tag === 'STAGE') stages.set(id, [Number(rss) / 2 ** 20, Number(heap) / 2 ** 20]);
    }
    runs.push(stages);
  }
  return STAGES.map(({ id, label }) => ({
    id,
    label,
    rssMb: median(runs.map(r => r.get(id)?.[0] ?? Number.NaN)),
    heapMb: median(runs.map(r => r.get(id)?.[1] ?? Number.NaN)),
  }));
}

/** Where one engine process's start-up goes. */
export interface StartupCost {
  /** Candidates in the process. */
  candidates: number;
  /** Spawn → all its candidates queued, alone on the machine, ms (median). */
  queuedMs: number;
  /** CPU the process had used by then, ms (median). */
  cpuMs: number;
  /** A Node.js process that only loads etcd3 and exits: wall and CPU, ms (median). */
  loadEtcd3Ms: number;
  loadEtcd3CpuMs: number;
  /** An empty Node.js process: wall and CPU, ms (median). */
  emptyMs: number;
  emptyCpuMs: number;
  repeats: number;
}

/** CPU (user + system) `pid` has used, in ms, from `/proc`; undefined once it is gone. */
function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/** Wall and CPU time of `node -e script`, from the process's own report. */
async function nodeRun(script: string): Promise<[number, number]> {
  const started = process.hrtime.bigint();
  const proc = spawnTracked(process.execPath, ['-e', script], { label: 'node -e', cwd: REPO });
  await deadline(proc.exited, 30_000, 'node -e exit');
  const wall = Number(process.hrtime.bigint() - started) / 1e6;
  const cpu = proc.lines.find(l => l.text.startsWith('CPU '));
  return [wall, cpu ? Number(cpu.text.slice(4)) / 1000 : Number.NaN];
}

const CPU_LINE =
  "const u = process.cpuUsage(); process.stdout.write('CPU ' + (u.user + u.system) + '\\n');";

/**
 * Times one engine process of `candidates` candidates from spawn until all are queued, and the
 * CPU it used by then, beside what a bare Node.js process and one that only loads etcd3 cost.
 */
export async function measureStartup(
  ctx: BenchContext,
  candidates: number,
  repeats: number,
): Promise<StartupCost> {
  const queued: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const name = electionName('startup');
    const started = process.hrtime.bigint();
    const proc: TrackedProcess = spawnTracked(process.execPath, [CORE_MAIN], {
      label: `startup x${candidates}`,
      maxLines: 200,
      env: {
        ETCD_HOSTS: ctx.endpoints.join(','),
        ELECTION_NAME: name,
        CANDIDATES: String(candidates),
        OBSERVE: '0',
      },
    });
    try {
      while ((await queueLength(ctx, `${name}/`)) < candidates) {
        if (Number(process.hrtime.bigint() - started) > 60e9) throw new Error('startup: timeout');
        await new Promise(resolve => setTimeout(resolve, 5));
      }
      queued.push(Number(process.hrtime.bigint() - started) / 1e6);
      cpu.push(cpuMsOf(proc.pid) ?? Number.NaN);
    } finally {
      proc.signal('SIGTERM');
      await deadline(proc.exited, 10_000, 'startup exit').catch(() => proc.kill());
    }
  }
  const etcd3Runs: Array<[number, number]> = [];
  const emptyRuns: Array<[number, number]> = [];
  for (let i = 0; i < repeats; i++) {
    etcd3Runs.push(await nodeRun(`require('etcd3'); ${CPU_LINE}`));
    emptyRuns.push(await nodeRun(CPU_LINE));
  }
  return {
    candidates,
    queuedMs: median(queued),
    cpuMs: median(cpu),
    loadEtcd3Ms: median(etcd3Runs.map(r => r[0])),
    loadEtcd3CpuMs: median(etcd3Runs.map(r => r[1])),
    emptyMs: median(emptyRuns.map(r => r[0])),
    emptyCpuMs: median(emptyRuns.map(r => r[1])),
    repeats,
  };
}
