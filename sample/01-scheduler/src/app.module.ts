import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { ElectionHealthIndicator } from '../../../lib/health/index.js';
import { ElectionModule } from '../../../lib/index.js';
import { ElectionMetricsModule } from '../../../lib/metrics/index.js';
import { electionOptions } from './config.js';
import { HealthController } from './health.controller.js';
import { LeadershipController } from './leadership.controller.js';
import { Housekeeping } from './housekeeping.job.js';
import { ReportJob } from './report.job.js';

@Module({
  imports: [
    ScheduleModule.forRoot(),
    TerminusModule.forRoot(),
    ElectionModule.forRoot(electionOptions()),
    // GET /metrics: prom-client's default registry, served by @willsoto/nestjs-prometheus,
    // with the election's metrics (etcd_election_*) registered into it.
    PrometheusModule.register(),
    ElectionMetricsModule.forRoot(),
  ],
  controllers: [LeadershipController, HealthController],
  // SAMPLE_HOUSEKEEPING=off leaves the six @OnOneInstance jobs out: the app with one election,
  // as the handover benchmark runs it.
  providers: [
    ReportJob,
    ...(process.env.SAMPLE_HOUSEKEEPING === 'off' ? [] : [Housekeeping]),
    ElectionHealthIndicator,
  ],
})
export class AppModule {}
