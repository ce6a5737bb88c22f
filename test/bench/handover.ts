/**
 * Two candidates of one kind on one election: the leader gets a signal (graceful or SIGKILL) and
 * the time from sending it to the parent receiving the successor's first "I lead" line is one
 * sample. The signalled process is replaced after each round, so there are always two.
 */
import { deadline, delay } from '../support/index.js';
import { type BenchContext, electionName, waitQueue, waitQuiet } from './context.js';
import type { Contender, Kind, KindId, SpawnOptions } from './contenders.js';
import { elapsedMs, summarize, type Summary } from './stats.js';

/** Latencies of one kind, in milliseconds. */
export interface LatencyResult {
  kind: KindId;
  label: string;
  /** Session TTL in seconds the contenders ran with. */
  ttl: number;
  samples: number[];
  summary: Summary;
  /** Rounds that failed, with why. */
  failures: string[];
}

type Mode = 'graceful' | 'crash';

/** The runner's readings of one round, for lining up the marks of its two processes. */
export interface RoundTimes {
  /** hrtime (ns) at which the signal was sent. */
  sentAt: bigint;
  /** hrtime (ns) at which the successor's line arrived. */
  ledAt: bigint;
  leader: Contender;
  successor: Contender;
}

/** What each spawned process of a pair gets on top of its kind's defaults. */
export type SpawnExtras = Pick<SpawnOptions, 'env' | 'nodeArgs'>;

/** A leader and its one follower, of the same kind, on an election of their own. */
export class Pair {
  private spawned = 0;
  /** Every round so far, in order. */
  readonly rounds: RoundTimes[] = [];

  private constructor(
    private readonly ctx: BenchContext,
    readonly kind: Kind,
    readonly ttl: number,
    readonly name: string,
    private readonly extras: SpawnExtras = {},
    private leader?: Contender,
    private follower?: Contender,
  ) {}

  /** Starts a leader, waits until it leads, then queues a follower behind it. */
  static async open(
    ctx: BenchContext,
    kind: Kind,
    ttl = kind.defaultTtl,
    extras: SpawnExtras = {},
  ): Promise<Pair> {
    const pair = new Pair(ctx, kind, ttl, electionName(kind.id), extras);
    await pair.fill();
    return pair;
  }

  /**
   * One round: waits until both are queued and `quiet` resolves (no process still booting),
   * lets `settleMs` pass, signals the leader and resolves with the milliseconds until the
   * follower's line saying it leads arrives; then replaces the signalled process.
   */
  async round(mode: Mode, settleMs: number, quiet: () => Promise<void>): Promise<number> {
    const leader = this.leader!;
    const successor = this.follower!;
    await waitQueue(this.ctx, this.kind.prefix(this.name), 2);
    await quiet();
    await delay(settleMs);
    const sentAt = process.hrtime.bigint();
    leader.process.signal(mode === 'crash' ? 'SIGKILL' : this.kind.graceful);
    const timeout = mode === 'crash' ? this.ttl * 1000 + 10_000 : 15_000;
    const ledAt = await deadline(
      successor.leads,
      timeout,
      `${this.kind.id} successor leading after ${mode === 'crash' ? 'SIGKILL' : this.kind.graceful}`,
    );
    this.rounds.push({ sentAt, ledAt, leader, successor });
    this.leader = successor;
    this.follower = undefined;
    await deadline(leader.process.exited, 10_000, `${leader.process.label} exit`).catch(() =>
      leader.process.kill(),
    );
    await this.fill();
    return elapsedMs(sentAt, ledAt);
  }

  /** Process ids of both. */
  pids(): number[] {
    return [this.leader, this.follower].filter((c): c is Contender => !!c).map(c => c.process.pid);
  }

  /** Stops both (graceful signal, SIGKILL after 10 s). */
  async close(): Promise<void> {
    const both = [this.leader, this.follower].filter((c): c is Contender => !!c);
    this.leader = this.follower = undefined;
    await Promise.all(
      both.map(async c => {
        c.process.signal(this.kind.graceful);
        await deadline(c.process.exited, 10_000, `${c.process.label} exit`).catch(() =>
          c.process.kill(),
        );
      }),
    );
  }

  /** Kills both, removes their keys (leases of the dead would take a TTL) and starts over. */
  async reset(): Promise<void> {
    await Promise.all(
      [this.leader, this.follower].filter((c): c is Contender => !!c).map(c => c.process.kill()),
    );
    this.leader = this.follower = undefined;
    await this.ctx.client.delete().prefix(this.kind.prefix(this.name));
    await this.fill();
  }

  private async fill(): Promise<void> {
    if (!this.leader) {
      this.leader = await this.spawn();
      await deadline(this.leader.leads, 30_000, `${this.kind.id} first leader`);
    }
    this.follower ??= await this.spawn();
  }

  private spawn(): Promise<Contender> {
    return this.kind.spawn({
      endpoints: this.ctx.endpoints,
      name: this.name,
      value: `${this.kind.id}-${++this.spawned}`,
      ttl: this.kind.ttlSettable ? this.ttl : undefined,
      ...this.extras,
    });
  }
}

function result(pair: Pair, samples: number[], failures: string[]): LatencyResult {
  return {
    kind: pair.kind.id,
    label: pair.kind.label,
    ttl: pair.ttl,
    samples,
    summary: summarize(samples),
    failures,
  };
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/**
 * Graceful handover of every kind, `rounds` times each, interleaved round by round so that load
 * from elsewhere on the machine falls on all kinds alike.
 */
export async function measureHandover(
  ctx: BenchContext,
  kinds: readonly Kind[],
  rounds: number,
): Promise<LatencyResult[]> {
  const pairs = await Promise.all(kinds.map(kind => Pair.open(ctx, kind)));
  const samples = pairs.map(() => [] as number[]);
  const failures = pairs.map(() => [] as string[]);
  // Every pair's processes, so that a replacement still booting from the previous round is done.
  const quiet = () => waitQuiet(pairs.flatMap(p => p.pids()));
  try {
    for (let r = 0; r < rounds; r++) {
      for (const [i, pair] of pairs.entries()) {
        try {
          samples[i].push(await pair.round('graceful', 200 + Math.random() * 200, quiet));
        } catch (error) {
          failures[i].push(message(error));
          ctx.log(`handover ${pair.kind.id} round ${r + 1} failed: ${message(error)}`);
          await pair.reset();
        }
      }
      ctx.log(
        `handover round ${r + 1}/${rounds}: ` +
          pairs.map((p, i) => `${p.kind.id} ${samples[i].at(-1)?.toFixed(1) ?? '—'} ms`).join(', '),
      );
    }
  } finally {
    await Promise.all(pairs.map(p => p.close()));
  }
  return pairs.map((pair, i) => result(pair, samples[i], failures[i]));
}

/**
 * Crash failover: SIGKILL the leader at a random phase of its keepalive cycle and time until the
 * follower leads (the dead leader's lease must expire first). `parallel` independent pairs run
 * their rounds at the same time (used for etcdctl, whose 60 s TTL would otherwise dominate).
 */
export async function measureCrash(
  ctx: BenchContext,
  kind: Kind,
  ttl: number,
  rounds: number,
  parallel = 1,
): Promise<LatencyResult> {
  const pairs = await Promise.all(
    Array.from({ length: parallel }, () => Pair.open(ctx, kind, ttl)),
  );
  const samples: number[] = [];
  const failures: string[] = [];
  try {
    await Promise.all(
      pairs.map(async pair => {
        for (let r = 0; r < rounds; r++) {
          try {
            const ms = await pair.round('crash', 300 + Math.random() * ((ttl * 1000) / 3), () =>
              waitQuiet(pair.pids()),
            );
            samples.push(ms);
            ctx.log(`crash ${kind.id} ttl ${ttl}s round ${samples.length}: ${ms.toFixed(0)} ms`);
          } catch (error) {
            failures.push(message(error));
            ctx.log(`crash ${kind.id} ttl ${ttl}s failed: ${message(error)}`);
            await pair.reset();
          }
        }
      }),
    );
  } finally {
    await Promise.all(pairs.map(p => p.close()));
  }
  return result(pairs[0], samples, failures);
}
