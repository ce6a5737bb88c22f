import { Injectable, Logger } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { OnOneInstance, currentLeaderSignal } from '../../../lib/index.js';

/** How often each housekeeping job runs, in milliseconds. */
const EVERY_MS = 10_000;

/**
 * Six cheap housekeeping jobs, each on one replica at a time. `@OnOneInstance` jobs are balanced
 * by default: with three replicas, each leads two of them (ceil(6 / 3)); when one dies, the
 * others take its jobs. Each job's election is `nestjs-etcd-election/one-instance/Housekeeping.<method>`.
 */
@Injectable()
export class Housekeeping {
  private readonly logger = new Logger(Housekeeping.name);
  /** Runs done by this replica, per job. */
  readonly runs = new Map<string, number>();

  @Interval(EVERY_MS)
  @OnOneInstance()
  async purgeSessions(): Promise<void> {
    await this.run('purgeSessions');
  }

  @Interval(EVERY_MS)
  @OnOneInstance()
  async rotateLogs(): Promise<void> {
    await this.run('rotateLogs');
  }

  @Interval(EVERY_MS)
  @OnOneInstance()
  async refreshRates(): Promise<void> {
    await this.run('refreshRates');
  }

  @Interval(EVERY_MS)
  @OnOneInstance()
  async sendDigests(): Promise<void> {
    await this.run('sendDigests');
  }

  @Interval(EVERY_MS)
  @OnOneInstance()
  async compactCache(): Promise<void> {
    await this.run('compactCache');
  }

  @Interval(EVERY_MS)
  @OnOneInstance()
  async syncInventory(): Promise<void> {
    await this.run('syncInventory');
  }

  private async run(job: string): Promise<void> {
    // Real work would pass the signal on: it aborts the moment this replica stops leading the job.
    const signal = currentLeaderSignal();
    await new Promise(resolve => setTimeout(resolve, 10));
    if (signal?.aborted) return;
    const runs = (this.runs.get(job) ?? 0) + 1;
    this.runs.set(job, runs);
    this.logger.debug(`${job} #${runs} done`);
  }
}
