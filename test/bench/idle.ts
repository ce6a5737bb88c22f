/**
 * Idle cost: what a queue of candidates that nobody disturbs asks of etcd, read from etcd's own
 * Prometheus counters before and after a quiet window, per candidate per minute.
 */
import { deadline, delay } from '../support/index.js';
import { type BenchContext, electionName, waitQueue } from './context.js';
import type { Contender, Kind, KindId } from './contenders.js';
import { diffCounts, parsePrometheus, sumBy, type MetricSample } from './stats.js';

/** Requests one candidate makes per minute at steady state. */
export interface IdleResult {
  kind: KindId;
  label: string;
  candidates: number;
  ttl: number;
  windowMs: number;
  /** Unary calls (`grpc_server_handled_total`, type unary) per candidate per minute, by method. */
  unary: Record<string, number>;
  /** Messages received on streams (`grpc_server_msg_received_total`) per candidate per minute. */
  streamMessages: Record<string, number>;
  /** Streams opened (`grpc_server_started_total`, stream types) per candidate per minute. */
  streamsStarted: Record<string, number>;
  /** Requests per candidate per minute: unary calls plus messages received on streams. */
  total: number;
  /** LeaseKeepAlive messages per candidate per minute. */
  keepalives: number;
  /** What keepalives every TTL/3 come to: 180 / TTL. */
  expectedKeepalives: number;
}

interface Snapshot {
  unary: Map<string, number>;
  streamMessages: Map<string, number>;
  streamsStarted: Map<string, number>;
}

const isUnary = (l: Record<string, string>) => l.grpc_type === 'unary';
const isStream = (l: Record<string, string>) =>
  l.grpc_type !== undefined && l.grpc_type !== 'unary';

async function scrape(ctx: BenchContext): Promise<MetricSample[]> {
  return parsePrometheus(await ctx.cluster.members[0].metrics());
}

async function snapshot(ctx: BenchContext): Promise<Snapshot> {
  const samples = await scrape(ctx);
  return {
    unary: sumBy(samples, 'grpc_server_handled_total', 'grpc_method', isUnary),
    streamMessages: sumBy(samples, 'grpc_server_msg_received_total', 'grpc_method', isStream),
    streamsStarted: sumBy(samples, 'grpc_server_started_total', 'grpc_method', isStream),
  };
}

/** Total watch events etcd has sent to watchers (`etcd_debugging_mvcc_events_total`). */
export async function scrapeWatchEvents(ctx: BenchContext): Promise<number> {
  const samples = await scrape(ctx);
  return samples
    .filter(s => s.name === 'etcd_debugging_mvcc_events_total')
    .reduce((sum, s) => sum + s.value, 0);
}

/**
 * Starts `count` contenders of `kind`, waits until they are queued and a leader leads, lets
 * `warmupMs` pass, then counts etcd's gRPC traffic over `windowMs`.
 */
export async function measureIdle(
  ctx: BenchContext,
  kind: Kind,
  options: { count: number; ttl?: number; windowMs: number; warmupMs: number },
): Promise<IdleResult> {
  const ttl = options.ttl ?? kind.defaultTtl;
  const name = electionName(`idle-${kind.id}`);
  const contenders: Contender[] = [];
  try {
    for (let i = 0; i < options.count; i++) {
      contenders.push(
        await kind.spawn({
          endpoints: ctx.endpoints,
          name,
          value: `${kind.id}-${i + 1}`,
          ttl: kind.ttlSettable ? ttl : undefined,
        }),
      );
    }
    await deadline(
      Promise.any(contenders.map(c => c.leads)),
      30_000,
      `${kind.id} leader for idle window`,
    );
    await waitQueue(ctx, kind.prefix(name), options.count);
    await delay(options.warmupMs);
    const before = await snapshot(ctx);
    await delay(options.windowMs);
    const after = await snapshot(ctx);
    const perMinute = (m: Map<string, number>) =>
      Object.fromEntries(
        [...m].map(([k, v]) => [k, (v / options.count) * (60_000 / options.windowMs)]),
      );
    const unary = perMinute(diffCounts(before.unary, after.unary));
    const streamMessages = perMinute(diffCounts(before.streamMessages, after.streamMessages));
    const streamsStarted = perMinute(diffCounts(before.streamsStarted, after.streamsStarted));
    const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
    return {
      kind: kind.id,
      label: kind.label,
      candidates: options.count,
      ttl,
      windowMs: options.windowMs,
      unary,
      streamMessages,
      streamsStarted,
      total: sum(unary) + sum(streamMessages),
      keepalives: streamMessages.LeaseKeepAlive ?? 0,
      expectedKeepalives: 180 / ttl,
    };
  } finally {
    await Promise.all(
      contenders.map(async c => {
        c.process.signal(kind.graceful);
        await deadline(c.process.exited, 10_000, `${c.process.label} exit`).catch(() =>
          c.process.kill(),
        );
      }),
    );
  }
}
