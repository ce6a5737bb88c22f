import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { TerminusModule } from '@nestjs/terminus';
import { ElectionModule } from 'nestjs-etcd-election';
import { ElectionHealthIndicator } from 'nestjs-etcd-election/health';
import { HealthController } from './health.controller';
import { electionOptions } from './shared/election.options';
import { LeadershipController } from './shared/leadership.controller';
import { ReportJob } from './shared/report.job';

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
