/**
 * A replica running six `@OnOneInstance` jobs, for the multi-process job tests: a Nest
 * application on the public API (`ElectionModule.forRoot({ etcd })` without an election; four
 * `@Interval` and two `@Cron` jobs, half with `@OnOneInstance` above the schedule decorator,
 * half below; every job's election named by default, `Jobs.<method>`).
 *
 * Environment: `ETCD_HOSTS` (comma-separated URLs), `NODE_NAME`, `RUN_MS` (how long a run
 * takes, default 100), `INTERVAL_MS` (default 250), `JOB_TTL` (seconds, default 3).
 *
 * stdout carries only JSON lines stamped `t` = `process.hrtime.bigint()` (CLOCK_MONOTONIC,
 * comparable across processes), written synchronously:
 * - `{"t","node","job","run":"start","leading"}` when a run begins (`leading`: its term's signal
 *   is there and not aborted);
 * - `{"t","node","job","run":"end"}` when it is over;
 * - `{"t","node","job","leading"}` whenever `OneInstanceService.jobs()` shows this replica start
 *   or stop leading a job (polled every 20 ms);
 * - `{"t","node","jobs":[...]}` (`OneInstanceService.jobs()`) on shutdown;
 * - `{"t","node","event":"ready"}`.
 * SIGTERM shuts down gracefully.
 */
import 'reflect-metadata';
import {
  ConsoleLogger,
  Injectable,
  Module,
  type LogLevel,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, Interval, ScheduleModule } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ElectionModule,
  OnOneInstance,
  OneInstanceService,
  currentLeaderSignal,
} from '../../lib/index.js';

const config = {
  hosts: required('ETCD_HOSTS').split(','),
  node: required('NODE_NAME'),
  runMs: Number(process.env.RUN_MS ?? 100),
  intervalMs: Number(process.env.INTERVAL_MS ?? 250),
  ttl: Number(process.env.JOB_TTL ?? 3),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`jobs-one-instance: environment variable ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

function emit(record: Record<string, unknown>): void {
  const t = process.hrtime.bigint().toString();
  process.stdout.write(JSON.stringify({ t, node: config.node, ...record }) + '\n');
}

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

async function work(job: string): Promise<void> {
  const signal = currentLeaderSignal();
  emit({ job, run: 'start', leading: signal !== undefined && !signal.aborted });
  await sleep(config.runMs, undefined, { signal }).catch(() => undefined);
  emit({ job, run: 'end' });
}

@Injectable()
class Jobs implements OnApplicationShutdown {
  private readonly leading = new Map<string, boolean>();
  private readonly poll: NodeJS.Timeout;

  constructor(private readonly jobs: OneInstanceService) {
    this.poll = setInterval(() => {
      for (const job of this.jobs.jobs()) {
        if ((this.leading.get(job.label) ?? false) === job.leading) continue;
        this.leading.set(job.label, job.leading);
        emit({ job: job.label, leading: job.leading });
      }
    }, 20);
  }

  @Interval(config.intervalMs)
  @OnOneInstance()
  async intervalBelow1() {
    await work('Jobs.intervalBelow1');
  }

  @Interval(config.intervalMs)
  @OnOneInstance()
  async intervalBelow2() {
    await work('Jobs.intervalBelow2');
  }

  @OnOneInstance()
  @Interval(config.intervalMs)
  async intervalAbove1() {
    await work('Jobs.intervalAbove1');
  }

  @OnOneInstance()
  @Interval(config.intervalMs)
  async intervalAbove2() {
    await work('Jobs.intervalAbove2');
  }

  @Cron('* * * * * *')
  @OnOneInstance()
  async cronBelow() {
    await work('Jobs.cronBelow');
  }

  @OnOneInstance()
  @Cron('* * * * * *')
  async cronAbove() {
    await work('Jobs.cronAbove');
  }

  onApplicationShutdown(): void {
    clearInterval(this.poll);
    emit({ jobs: this.jobs.jobs() });
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    ElectionModule.forRoot({ etcd: { hosts: config.hosts }, ttl: config.ttl }),
  ],
  providers: [Jobs],
})
class JobsModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(JobsModule, {
    logger: new StderrLogger(),
  });
  app.enableShutdownHooks();
  await app.init();
  emit({ event: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `jobs-one-instance: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
