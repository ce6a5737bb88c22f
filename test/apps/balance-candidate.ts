/**
 * One replica of the balancing suite: a Nest application with N balanced elections
 * (`balance: true`), all campaigning with this replica's value, as a user runs it.
 *
 * Environment: `ETCD_HOSTS` (comma-separated URLs), `BALANCE_PREFIX` (elections are
 * `<prefix>-00` … ), `BALANCE_COUNT` (N), `ELECTION_VALUE` (this replica's name), `ELECTION_TTL`
 * (seconds).
 *
 * stdout carries only JSON lines, stamped `t` = `process.hrtime.bigint()` (CLOCK_MONOTONIC,
 * comparable across processes) and written synchronously:
 * - `{"t","node","election","belief":"leader"|"follower","token","reason"}` on every change of
 *   belief in one election, from inside the transition (its `leadership$` emission);
 * - `{"t","node","event":"ready"}` once bootstrapped.
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
import { ElectionModule, ElectionRegistry, type Leadership } from '../../lib/index.js';

const config = {
  hosts: required('ETCD_HOSTS').split(','),
  prefix: required('BALANCE_PREFIX'),
  count: Number(required('BALANCE_COUNT')),
  node: required('ELECTION_VALUE'),
  ttl: Number(process.env.ELECTION_TTL ?? 10),
};

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`balance-candidate: environment variable ${name} is required\n`);
    process.exit(2);
  }
  return value;
}

/** The names of this replica's balanced elections. */
function balancedElections(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(2, '0')}`);
}

function emit({ t, ...record }: Record<string, unknown> & { t: bigint }): void {
  process.stdout.write(JSON.stringify({ t: t.toString(), node: config.node, ...record }) + '\n');
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

/** Logs every change of belief of every election, from inside the transition. */
@Injectable()
class BeliefLog implements OnModuleInit {
  constructor(private readonly registry: ElectionRegistry) {}

  onModuleInit(): void {
    for (const service of this.registry.getAll()) {
      let belief: 'leader' | 'follower' | undefined;
      let token: string | null = null;
      service.leadership$.subscribe((l: Leadership) => {
        const t = process.hrtime.bigint();
        const next = l.role === 'leader' ? 'leader' : 'follower';
        if (next === belief) return;
        belief = next;
        if (next === 'leader') token = l.revision ?? null;
        emit({ t, election: l.election, belief: next, token, reason: l.reason });
      });
    }
  }
}

@Module({
  imports: balancedElections(config.prefix, config.count).map(election =>
    ElectionModule.forRoot({
      etcd: { hosts: config.hosts },
      election,
      value: config.node,
      ttl: config.ttl,
      balance: true,
    }),
  ),
  providers: [BeliefLog],
})
class BalanceModule {}

async function main(): Promise<void> {
  const app = await NestFactory.createApplicationContext(BalanceModule, {
    logger: new StderrLogger(),
  });
  app.enableShutdownHooks();
  await app.init();
  emit({ t: process.hrtime.bigint(), event: 'ready' });
}

main().catch((error: unknown) => {
  process.stderr.write(
    `balance-candidate: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
