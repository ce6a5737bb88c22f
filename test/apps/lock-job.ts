/**
 * A replica running one `@WithoutOverlapping` job, for the multi-process lock tests: a Nest
 * application on the public API (`ElectionModule.forRoot({ etcd })` without an election,
 * `@Interval` + `@WithoutOverlapping`).
 *
 * Environment: `ETCD_HOSTS` (comma-separated URLs), `NODE_NAME`, `JOB_NAME` (the lock name),
 * `JOB_MS` (how long a run takes, default 3000), `INTERVAL_MS` (default 1000), `LOCK_TTL`
 * (seconds, default 5), `JOB_WAIT` (the `wait` option, ms; default none).
 *
 * stdout carries only JSON lines stamped `t` = `process.hrtime.bigint()` (CLOCK_MONOTONIC,
 * comparable across processes), written synchronously:
 * - `{"t","node","tick"}` each time the interval fires, before `@WithoutOverlapping` runs;
 * - `{"t","node","run":"start","token","tick"}` once a run holds the lock, before its work
 *   (`tick`: the number of the tick it belongs to);
 * - `{"t","node","run":"end","token","aborted"}` when the work is over, before the release;
 * - `{"t","node","jobs":[...]}` (`LockService.jobs()`) on shutdown;
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
import { Interval, ScheduleModule } from '@nestjs/schedule';
import { setTimeout as sleep } from 'node:timers/promises';
import { ElectionModule, LockService, WithoutOverlapping, currentLock } from '../../lib/index.js';

const config = {
  hosts: required('ETCD_HOSTS').split(','),
  node: required('NODE_NAME'),
  job: required('JOB_NAME'),
  jobMs: Number(process.env.JOB_MS ?? 3000),
  intervalMs: Number(process.env.INTERVAL_MS ?? 1000),
  ttl: Number(process.env.LOCK_TTL ?? 5),
  /** `@WithoutOverlapping`'s `wait`, when set. */
  wait: process.env.JOB_WAIT === undefined ? undefined : Number(process.env.JOB_WAIT),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`lock-job: environment variable ${name} is required\n`);
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

/**
 * Numbers the calls of the method below it and emits a tick line for each, then passes the
 * number on as the first argument (metadata moves up, as `@WithoutOverlapping` moves it).
 */
function Ticks(): MethodDecorator {
  let tick = 0;
  return (_target, _property, descriptor) => {
    const inner = descriptor.value as unknown as (this: unknown, ...args: unknown[]) => unknown;
    const outer = function (this: unknown): unknown {
      tick++;
      emit({ tick });
      return inner.call(this, tick);
    };
    for (const key of Reflect.getOwnMetadataKeys(inner)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, inner), outer);
    }
    descriptor.value = outer as unknown as typeof descriptor.value;
    return descriptor;
  };
}

@Injectable()
class Job implements OnApplicationShutdown {
  constructor(private readonly locks: LockService) {}

  @Interval(config.intervalMs)
  @Ticks()
  @WithoutOverlapping({ name: config.job, wait: config.wait })
  async run(tick: number): Promise<void> {
    const lock = currentLock()!;
    emit({ run: 'start', token: lock.fencingToken, tick });
    let aborted = false;
    await sleep(config.jobMs, undefined, { signal: lock.signal }).catch(() => (aborted = true));
    emit({ run: 'end', token: lock.fencingToken, aborted });
  }

  onApplicationShutdown(): void {
    emit({ jobs: this.locks.jobs() });
  }
}

@Module({
  imports: [
    ScheduleModule.forRoot(),
    ElectionModule.forRoot({ etcd: { hosts: config.hosts }, ttl: config.ttl }),
  ],
  providers: [Job],
})
class LockJobModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(LockJobModule, {
    logger: new StderrLogger(),
  });
  app.enableShutdownHooks();
  await app.init();
  emit({ event: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `lock-job: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
