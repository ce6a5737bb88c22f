/**
 * A Nest app for the shutdown-order spec: one election, and a provider of the ROOT module whose
 * `onModuleDestroy` (which Nest runs before the global ElectionModule's) reports what it sees:
 * whether this node still believes it leads, whether etcd had already answered the resign when
 * the hook began (the library's `resign-acked` handover mark, turned on here), and whether its
 * key is already gone from etcd (it waits up to `WAIT_MS` for that). SIGTERM shuts it down
 * (`enableShutdownHooks`).
 *
 * stdout: `READY` once listening, `LEADER` once leading, then from the root module's hook
 * `HOOK {"isLeader":…,"reason":…,"resignAnswered":…}` as it begins and
 * `DESTROY {"isLeader":…,"reason":…,"resignAnswered":…,"keyGone":…}` as it ends.
 *
 * Env: ETCD_HOSTS, ELECTION_NAME, ELECTION_VALUE, WAIT_MS (default 5000).
 */
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MARK_PREFIX, setMarksEnabled } from '../../lib/core/marks.js';
import { ElectionModule, ElectionService, OnLeader } from '../../lib/index.js';

setMarksEnabled(true);

const hosts = (process.env.ETCD_HOSTS ?? '').split(',');
const waitMs = Number(process.env.WAIT_MS ?? 5000);

@Injectable()
class RootHooks implements OnModuleDestroy {
  constructor(private readonly election: ElectionService) {}

  @OnLeader()
  lead(): void {
    process.stdout.write('LEADER\n');
  }

  async onModuleDestroy(): Promise<void> {
    const isLeader = this.election.isLeader();
    const resignAnswered = performance.getEntriesByName(`${MARK_PREFIX}resign-acked`).length > 0;
    const { reason, key } = this.election.leadership;
    process.stdout.write(`HOOK ${JSON.stringify({ isLeader, reason, resignAnswered })}\n`);
    const ownKey = key ?? this.ownKey;
    const giveUpAt = Date.now() + waitMs;
    let keyGone = false;
    while (ownKey && Date.now() < giveUpAt) {
      const value = await this.election.client.get(ownKey).string();
      if (value === null) {
        keyGone = true;
        break;
      }
      await new Promise(resolve => setTimeout(resolve, 10));
    }
    process.stdout.write(
      `DESTROY ${JSON.stringify({ isLeader, reason, resignAnswered, keyGone })}\n`,
    );
  }

  /** The key this node led with, kept while leading (the snapshot drops it on stopping). */
  ownKey?: string;
}

@Module({
  imports: [
    ElectionModule.forRoot({
      etcd: { hosts },
      election: process.env.ELECTION_NAME ?? 'shutdown-order',
      value: process.env.ELECTION_VALUE,
    }),
  ],
  providers: [RootHooks],
})
class AppModule {}

const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
const hooks = app.get(RootHooks);
app.get(ElectionService).leadership$.subscribe(l => {
  if (l.role === 'leader') hooks.ownKey = l.key;
});
await app.listen(0, '127.0.0.1');
process.stdout.write('READY\n');
