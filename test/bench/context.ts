/** What every measurement gets: the etcd it runs against, a client to read queues, a logger. */
import { readFileSync } from 'node:fs';
import type { Etcd3 } from 'etcd3';
import { delay, type EtcdCluster, waitFor } from '../support/index.js';

/** Shared state of one bench run. */
export interface BenchContext {
  cluster: EtcdCluster;
  endpoints: string[];
  /** The runner's own client: reads queue lengths between rounds, never during a timed window. */
  client: Etcd3;
  quick: boolean;
  /** Progress line on stderr. */
  log(message: string): void;
}

/** Number of candidate keys under `prefix`. */
export async function queueLength(ctx: BenchContext, prefix: string): Promise<number> {
  return Number(await ctx.client.getAll().prefix(prefix).count());
}

/** Waits (deadline `timeout` ms) until exactly `n` candidate keys are under `prefix`. */
export async function waitQueue(
  ctx: BenchContext,
  prefix: string,
  n: number,
  timeout = 30_000,
): Promise<void> {
  await waitFor(async () => (await queueLength(ctx, prefix)) === n, {
    timeout,
    interval: 20,
    message: `${n} candidate(s) queued under ${prefix}`,
  });
}

/** CPU time (user + system, in clock ticks of 10 ms) `pid` has used, or undefined when gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

/**
 * Waits until none of `pids` used more than one clock tick (10 ms) of CPU in a 200 ms window, so
 * that a process still booting (a replacement spawned after the previous round) does not compete
 * with the round about to be timed. Gives up silently after `timeout` ms.
 */
export async function waitQuiet(pids: readonly number[], timeout = 10_000): Promise<void> {
  const giveUpAt = Date.now() + timeout;
  let before = pids.map(cpuTicks);
  while (Date.now() < giveUpAt) {
    await delay(200);
    const after = pids.map(cpuTicks);
    const quiet = after.every(
      (t, i) => t === undefined || before[i] === undefined || t - before[i]! <= 1,
    );
    if (quiet) return;
    before = after;
  }
}

let sequence = 0;

/** An election name no other measurement of this run uses. */
export function electionName(label: string): string {
  return `bench-${label}-${process.pid}-${++sequence}`;
}
