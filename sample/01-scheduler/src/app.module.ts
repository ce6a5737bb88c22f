import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { ElectionHealthIndicator } from '../../../lib/health/index.js';
import { ElectionModule } from '../../../lib/index.js';
import { electionOptions } from './config.js';
import { HealthController } from './health.controller.js';
import { LeadershipController } from './leadership.controller.js';
import { ReportJob } from './report.job.js';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    TerminusModule.forRoot(),
    ElectionModule.forRoot(electionOptions()),
  ],
  controllers: [LeadershipController, HealthController],
  providers: [ReportJob, ElectionHealthIndicator],
})
export class AppModule {}
