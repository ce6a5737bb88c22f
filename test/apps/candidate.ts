/**
 * One candidate of the fault suite: our library as a user runs it, a small Nest application on
 * the public API (`ElectionModule`, `ElectionService`, `@OnLeader`, `@OnFollower`, `@LeaderOnly`
 * stacked under `@nestjs/schedule`'s `@Interval`).
 *
 * Environment: `ETCD_HOSTS` (comma-separated URLs), `ELECTION_NAME`, `ELECTION_VALUE` (this
 * node's name), `ELECTION_TTL` (seconds), `PROBE_MS` (period of the leader-only probe, default 25).
 *
 * stdout carries only JSON lines, each stamped `t` = `process.hrtime.bigint()` (CLOCK_MONOTONIC,
 * comparable across processes), written synchronously (stdout is a pipe: blocking on Linux):
 * - `{"t","node","belief":"leader"|"follower","token","reason"}` on every change of belief, from
 *   inside the transition (the `leadership$` emission of the elected / step-down);
 * - `{"t","node","probe":n,"token"}` each time the leader-only probe actually runs;
 * - `{"t","node","hook":"onLeader"|"onFollower",...}` when the decorated handlers are called;
 * - `{"t","node","state":{...}}` on every change of the `Leadership` snapshot;
 * - `{"t","node","event":"ready"|"exit"}`.
 * Nest's own log goes to stderr. SIGTERM shuts down gracefully (`enableShutdownHooks`).
 */
import 'reflect-metadata';
import {
  ConsoleLogger,
  Injectable,
  Module,
  type LogLevel,
  type OnModuleInit,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import {
  ElectionModule,
  ElectionService,
  LeaderOnly,
  OnFollower,
  OnLeader,
  type LeaderContext,
  type Leadership,
} from '../../lib/index.js';

const config = {
  hosts: required('ETCD_HOSTS').split(','),
  election: required('ELECTION_NAME'),
  node: required('ELECTION_VALUE'),
  ttl: Number(process.env.ELECTION_TTL ?? 10),
  probeMs: Number(process.env.PROBE_MS ?? 25),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`candidate: environment variable ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

/** Writes one JSON line: `t` (hrtime as a decimal string) and `node` first. */
function emit({ t, ...record }: Record<string, unknown> & { t: bigint }): void {
  process.stdout.write(JSON.stringify({ t: t.toString(), node: config.node, ...record }) + '\n');
}

/** Nest's log, on stderr: stdout is reserved for the JSON records. */
class StderrLogger extends ConsoleLogger {
  protected override printMessages(
    messages: unknown[],
    context?: string,
    logLevel?: LogLevel,
    _writeStreamType?: 'stdout' | 'stderr',
    errorStack?: unknown,
  ): void {
    super.printMessages(messages, context, logLevel, 'stderr', errorStack);
  }
}

/** Logs every change of belief from inside the transition, and every new snapshot. */
@Injectable()
class BeliefLog implements OnModuleInit {
  private belief?: 'leader' | 'follower';
  private token: string | null = null;

  constructor(private readonly election: ElectionService) {}

  onModuleInit(): void {
    this.election.leadership$.subscribe(leadership => this.onLeadership(leadership));
  }

  private onLeadership(l: Leadership): void {
    const t = process.hrtime.bigint();
    const belief = l.role === 'leader' ? 'leader' : 'follower';
    if (belief !== this.belief) {
      this.belief = belief;
      // A step-down names the token of the term it ends.
      if (belief === 'leader') this.token = l.revision ?? null;
      emit({ t, belief, token: this.token, reason: l.reason });
    }
    emit({
      t,
      state: {
        role: l.role,
        reason: l.reason,
        key: l.key,
        lease: l.lease,
        revision: l.revision,
        leader: l.leader?.value,
      },
    });
  }
}

/** The decorated surface: hooks and the leader-only probe. */
@Injectable()
class Worker {
  private probes = 0;

  constructor(private readonly election: ElectionService) {}

  @OnLeader()
  onLeader(context: LeaderContext): void {
    emit({ t: process.hrtime.bigint(), hook: 'onLeader', token: context.token.revision });
  }

  @OnFollower()
  onFollower(leadership: Leadership): void {
    emit({ t: process.hrtime.bigint(), hook: 'onFollower', reason: leadership.reason });
  }

  /** Leader-only work, driven by a setInterval: logs each time it actually runs. */
  @Interval(config.probeMs)
  @LeaderOnly()
  probe(): void {
    emit({
      t: process.hrtime.bigint(),
      probe: ++this.probes,
      token: this.election.fencingToken()?.revision ?? null,
    });
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    ElectionModule.forRoot({
      etcd: { hosts: config.hosts },
      election: config.election,
      value: config.node,
      ttl: config.ttl,
    }),
  ],
  providers: [BeliefLog, Worker],
})
class CandidateModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(CandidateModule, {
    logger: new StderrLogger(),
  });
  app.enableShutdownHooks();
  await app.init();
  emit({ t: process.hrtime.bigint(), event: 'ready' });
  process.on('exit', () => emit({ t: process.hrtime.bigint(), event: 'exit' }));
}

main().catch((error: unknown) => {
  process.stderr.write(
    `candidate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
