/**
 * Idle cost of one application with 20 elections and 10 held locks, read from etcd's own gRPC
 * counters over a quiet window: the Nest application as users build it (21 `forRoot`
 * registrations, one shared session), beside the same workload with one session per election
 * (`Candidate` without a shared `Sessions`, as every election had before), in the same run.
 */
import 'reflect-metadata';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Candidate,
  Locks,
  Sessions,
  createEtcdClient,
  type Lock,
  resolveEngineOptions,
  resolveSessionSettings,
} from '../../lib/core/index.js';
import { ElectionModule, ElectionRegistry, LockService } from '../../lib/index.js';
import { delay } from '../support/index.js';
import { type BenchContext, electionName } from './context.js';
import { diffCounts, parsePrometheus, sumBy } from './stats.js';

/** Requests per minute one application makes while idle. */
export interface AppIdleResult {
  /** `shared`: one session for the whole application; `per-election`: one per election. */
  variant: 'shared' | 'per-election';
  label: string;
  elections: number;
  locks: number;
  ttl: number;
  windowMs: number;
  /** Leases the application holds. */
  leases: number;
  /** Unary calls plus stream messages per minute, for the whole application. */
  requestsPerMinute: number;
  /** LeaseKeepAlive messages per minute. */
  keepalivesPerMinute: number;
  /** Unary calls per minute (anything but keepalives shows here or in streams). */
  unaryPerMinute: number;
  /** Streams opened per minute. */
  streamsPerMinute: number;
}

const ELECTIONS = 20;
const LOCKS = 10;

interface Counters {
  unary: Map<string, number>;
  messages: Map<string, number>;
  streams: Map<string, number>;
}

async function counters(ctx: BenchContext): Promise<Counters> {
  const samples = parsePrometheus(await ctx.cluster.members[0].metrics());
  const typed = (unary: boolean) => (l: Record<string, string>) =>
    l.grpc_type !== undefined && (l.grpc_type === 'unary') === unary;
  return {
    unary: sumBy(samples, 'grpc_server_handled_total', 'grpc_method', typed(true)),
    messages: sumBy(samples, 'grpc_server_msg_received_total', 'grpc_method', typed(false)),
    streams: sumBy(samples, 'grpc_server_started_total', 'grpc_method', typed(false)),
  };
}

async function measureWindow(
  ctx: BenchContext,
  windowMs: number,
): Promise<Omit<AppIdleResult, 'variant' | 'label' | 'elections' | 'locks' | 'ttl' | 'leases'>> {
  const before = await counters(ctx);
  await delay(windowMs);
  const after = await counters(ctx);
  const total = (m: Map<string, number>) => [...m.values()].reduce((a, b) => a + b, 0);
  const perMinute = (n: number) => (n * 60_000) / windowMs;
  const unary = total(diffCounts(before.unary, after.unary));
  const messages = diffCounts(before.messages, after.messages);
  return {
    windowMs,
    requestsPerMinute: perMinute(unary + total(messages)),
    keepalivesPerMinute: perMinute(messages.get('LeaseKeepAlive') ?? 0),
    unaryPerMinute: perMinute(unary),
    streamsPerMinute: perMinute(total(diffCounts(before.streams, after.streams))),
  };
}

/** The Nest application: 20 `forRoot` elections, a connection-only one, 10 locks held. */
async function measureShared(
  ctx: BenchContext,
  ttl: number,
  options: { windowMs: number; warmupMs: number },
): Promise<AppIdleResult> {
  const etcd = { hosts: ctx.endpoints };
  const names = Array.from({ length: ELECTIONS }, (_, i) => electionName(`app-idle-${i}`));

  @Module({
    imports: [
      ElectionModule.forRoot({ etcd, ttl }),
      ...names.map(election => ElectionModule.forRoot({ etcd, election, ttl })),
    ],
  })
  class IdleAppModule {}

  const app = await NestFactory.createApplicationContext(IdleAppModule, { logger: false });
  try {
    await app.init();
    const elections = app.get(ElectionRegistry).getAll();
    await Promise.all(elections.map(e => e.waitForLeadership({ timeout: 30_000 })));
    const lockService = app.get(LockService);
    const locks: Lock[] = [];
    for (let i = 0; i < LOCKS; i++) {
      locks.push(await lockService.acquire(electionName(`app-idle-lock-${i}`)));
    }
    // Election leases are shown in hex, lock lease ids in decimal.
    const leases = new Set([
      ...elections.map(e => e.leadership.lease),
      ...locks.map(l => BigInt(l.leaseId).toString(16)),
    ]);
    await delay(options.warmupMs);
    const window = await measureWindow(ctx, options.windowMs);
    await Promise.all(locks.map(lock => lock.release()));
    return {
      variant: 'shared',
      label: 'ours: one session per application',
      elections: ELECTIONS,
      locks: LOCKS,
      ttl,
      leases: leases.size,
      ...window,
    };
  } finally {
    await app.close();
  }
}

/** The same workload with one session per election (and one for the locks). */
async function measurePerElection(
  ctx: BenchContext,
  ttl: number,
  options: { windowMs: number; warmupMs: number },
): Promise<AppIdleResult> {
  const client = createEtcdClient({ hosts: ctx.endpoints });
  const sessions = new Sessions(
    client,
    resolveSessionSettings({ ttl, margin: 1000, requestTimeout: 5000 }),
  );
  const lockOwner = new Locks(sessions, {});
  const candidates = Array.from(
    { length: ELECTIONS },
    (_, i) =>
      new Candidate(client, {
        election: electionName(`per-election-${i}`),
        value: 'bench',
        settings: resolveEngineOptions({ ttl }),
      }),
  );
  try {
    for (const candidate of candidates) candidate.start();
    await Promise.all(candidates.map(c => c.waitForLeadership({ timeout: 30_000 })));
    const locks: Lock[] = [];
    for (let i = 0; i < LOCKS; i++) {
      locks.push(await lockOwner.acquire(electionName(`per-election-lock-${i}`)));
    }
    await delay(options.warmupMs);
    const window = await measureWindow(ctx, options.windowMs);
    await Promise.all(locks.map(lock => lock.release()));
    return {
      variant: 'per-election',
      label: 'one session per election (before)',
      elections: ELECTIONS,
      locks: LOCKS,
      ttl,
      leases: new Set(candidates.map(c => c.leadership.lease)).size + 1,
      ...window,
    };
  } finally {
    await Promise.allSettled(candidates.map(c => c.stop()));
    await lockOwner.close();
    await sessions.close();
    client.close();
  }
}

/** Both variants, one after the other, on the run's etcd. */
export async function measureAppIdle(
  ctx: BenchContext,
  options: { ttl: number; windowMs: number; warmupMs: number },
): Promise<AppIdleResult[]> {
  return [
    await measureShared(ctx, options.ttl, options),
    await measurePerElection(ctx, options.ttl, options),
  ];
}
