import { Injectable, Logger } from '@nestjs/common';
import { Cron } from '@nestjs/schedule';
import {
  LeaderOnly,
  OnFollower,
  OnLeader,
  currentLeaderTerm,
  type LeaderContext,
  type Leadership,
} from '../../../lib/index.js';

/** The job only one replica may run: every 5 seconds, on the leader. */
@Injectable()
export class ReportJob {
  private readonly logger = new Logger(ReportJob.name);
  private runs = 0;

  @Cron('*/5 * * * * *')
  @LeaderOnly()
  async report(): Promise<void> {
    const { signal, token } = currentLeaderTerm()!;
    this.runs++;
    // Real work would pass `signal` on, and fence its writes with `token` (ElectionService.guard()).
    await new Promise(resolve => setTimeout(resolve, 100));
    if (signal.aborted) return;
    this.logger.log(`report #${this.runs} done (fencing token ${token.revision})`);
  }

  @OnLeader()
  takeOver({ token }: LeaderContext): void {
    this.logger.log(`this replica now runs the reports (fencing token ${token.revision})`);
  }

  @OnFollower()
  standBy({ leader }: Leadership): void {
    this.logger.log(`standing by; ${leader ? `"${leader.value}"` : 'nobody yet'} runs the reports`);
  }
}
