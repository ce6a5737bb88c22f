/**
 * Lock handover beside `etcdctl lock` (Go's `concurrency.Mutex`), in the same run, on the same
 * etcd: N waiters queue behind a holder; the holder lets go and one sample is the time until the
 * next holder has the lock. The one that let go queues again at the back, so the queue stays N
 * long; each round starts once it is N + 1 long again and the machine is quiet.
 *
 * - ours: N + 1 replicas, each with its own client, session and `Locks`, in this process; a round
 *   runs from `release()` to the successor's `acquire()` resolving.
 * - etcdctl: N + 1 `etcdctl lock NAME` processes; a round runs from the SIGINT (on which etcdctl
 *   unlocks) to the successor's key line arriving on its stdout. The released one is replaced by
 *   a new process once the successor holds.
 *
 * Both measure the same chain: the unlock's delete, the watch event to the one waiter behind it,
 * its read, and the report of "held". Run with `npm run build:apps && node
 * .build/test/bench/locks.js [--quick] [--rounds N]`; prints a markdown table.
 */
import { parseArgs } from 'node:util';
import {
  Locks,
  Sessions,
  createEtcdClient,
  type Lock,
  resolveSessionSettings,
} from '../../lib/core/index.js';
import { GoLocker } from '../support/etcdctl-lock.js';
import { delay, killAll, startEtcd, waitFor, type EtcdCluster } from '../support/index.js';
import { electionName, waitQuiet } from './context.js';
import { elapsedMs, fmt, ratio, summarize, type Summary } from './stats.js';

/** Handover latencies of one implementation at one queue length, in milliseconds. */
export interface LockHandoverResult {
  kind: 'ours' | 'etcdctl';
  waiters: number;
  summary: Summary;
}

async function queueLength(locks: Locks, name: string): Promise<number> {
  return Number(await locks.sessions.client.getAll().prefix(`${name}/`).count());
}

/** Our locks: `waiters + 1` replicas in this process. */
export async function measureOurs(
  cluster: EtcdCluster,
  waiters: number,
  rounds: number,
): Promise<LockHandoverResult> {
  const name = electionName(`lock-ours-${waiters}`);
  const replicas = Array.from({ length: waiters + 1 }, () => {
    const client = createEtcdClient({ hosts: cluster.endpoints });
    const sessions = new Sessions(
      client,
      resolveSessionSettings({ ttl: 10, margin: 2000, requestTimeout: 5000 }),
    );
    return { client, sessions, locks: new Locks(sessions, {}) };
  });
  const samples: number[] = [];
  try {
    const pending = new Map<number, Promise<{ lock: Lock; at: bigint }>>();
    const enqueue = (i: number) => {
      const acquired = replicas[i].locks
        .acquire(name)
        .then(lock => ({ lock, at: process.hrtime.bigint() }));
      // The waiters still queued at the end reject when their replica closes.
      acquired.catch(() => undefined);
      pending.set(i, acquired);
    };
    // Queue in order, one after the other, so the rotation is known: 0 holds, 1 is next, ...
    for (let i = 0; i <= waiters; i++) {
      enqueue(i);
      await waitFor(async () => (await queueLength(replicas[0].locks, name)) === i + 1, {
        timeout: 30_000,
        interval: 10,
        message: `${i + 1} queued`,
      });
    }
    let holder = 0;
    let held = (await pending.get(holder)!).lock;
    for (let round = 0; round < rounds; round++) {
      await delay(20);
      const next = (holder + 1) % replicas.length;
      const sentAt = process.hrtime.bigint();
      void held.release();
      const { lock, at } = await pending.get(next)!;
      samples.push(elapsedMs(sentAt, at));
      enqueue(holder);
      await waitFor(async () => (await queueLength(replicas[0].locks, name)) === waiters + 1, {
        timeout: 30_000,
        interval: 10,
        message: 'released replica queued again',
      });
      holder = next;
      held = lock;
    }
    await held.release();
  } finally {
    await Promise.allSettled(replicas.map(r => r.locks.close()));
    await Promise.allSettled(replicas.map(r => r.sessions.close()));
    for (const r of replicas) r.client.close();
  }
  return { kind: 'ours', waiters, summary: summarize(samples) };
}

/** Go's mutex: `waiters + 1` `etcdctl lock` processes. */
export async function measureEtcdctl(
  cluster: EtcdCluster,
  waiters: number,
  rounds: number,
): Promise<LockHandoverResult> {
  const name = electionName(`lock-go-${waiters}`);
  const reader = createEtcdClient({ hosts: cluster.endpoints });
  const count = async () => Number(await reader.getAll().prefix(`${name}/`).count());
  const queued = (n: number) =>
    waitFor(async () => (await count()) === n, {
      timeout: 30_000,
      interval: 10,
      message: `${n} etcdctl lock queued`,
    });
  const queue: GoLocker[] = [];
  const samples: number[] = [];
  try {
    for (let i = 0; i <= waiters; i++) {
      queue.push(GoLocker.start(cluster, name, { ttl: 10 }));
      await queued(i + 1);
    }
    await queue[0].waitAcquired(30_000);
    for (let round = 0; round < rounds; round++) {
      await waitQuiet(queue.map(locker => locker.process.pid));
      const holder = queue.shift()!;
      const next = queue[0];
      const sentAt = process.hrtime.bigint();
      holder.process.signal('SIGINT');
      const at = await next.waitAcquired(30_000);
      samples.push(elapsedMs(sentAt, at));
      await holder.exited;
      queue.push(GoLocker.start(cluster, name, { ttl: 10 }));
      await queued(waiters + 1);
    }
  } finally {
    await Promise.allSettled(queue.map(locker => locker.release(5000)));
    reader.close();
  }
  return { kind: 'etcdctl', waiters, summary: summarize(samples) };
}

/** The markdown table: p50 / p90 of each, and ours ÷ etcdctl. */
export function renderLockTable(results: readonly LockHandoverResult[]): string {
  const lines = [
    '| waiters | ours p50 | ours p90 | etcdctl lock p50 | etcdctl lock p90 | p50 ratio | p90 ratio | rounds |',
    '| ------: | -------: | -------: | ---------------: | ---------------: | --------: | --------: | -----: |',
  ];
  for (const waiters of [...new Set(results.map(r => r.waiters))]) {
    const ours = results.find(r => r.kind === 'ours' && r.waiters === waiters)?.summary;
    const go = results.find(r => r.kind === 'etcdctl' && r.waiters === waiters)?.summary;
    lines.push(
      `| ${waiters} | ${fmt(ours?.p50)} ms | ${fmt(ours?.p90)} ms | ${fmt(go?.p50)} ms | ` +
        `${fmt(go?.p90)} ms | ${ratio(ours?.p50, go?.p50)} | ${ratio(ours?.p90, go?.p90)} | ` +
        `${ours?.n ?? 0} / ${go?.n ?? 0} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { quick: { type: 'boolean', default: false }, rounds: { type: 'string' } },
  });
  const rounds = Number(values.rounds ?? (values.quick ? 5 : 30));
  const sizes = values.quick ? [3] : [3, 30];
  const cluster = await startEtcd();
  const results: LockHandoverResult[] = [];
  try {
    for (const waiters of sizes) {
      process.stderr.write(`lock handover, ${waiters} waiters: ours …\n`);
      results.push(await measureOurs(cluster, waiters, rounds));
      process.stderr.write(`lock handover, ${waiters} waiters: etcdctl lock …\n`);
      results.push(await measureEtcdctl(cluster, waiters, rounds));
    }
  } finally {
    await cluster.close();
    await killAll();
  }
  process.stdout.write(renderLockTable(results) + '\n');
}

if (process.argv[1]?.endsWith('/bench/locks.js')) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : error}\n`);
    process.exit(1);
  });
}
