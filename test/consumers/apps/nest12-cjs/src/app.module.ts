import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { ElectionModule } from 'nestjs-etcd-election';
import { electionOptions } from './shared/election.options';
import { LeadershipController } from './shared/leadership.controller';
import { ReportJob } from './shared/report.job';

@Module({
  imports: [ScheduleModule.forRoot(), ElectionModule.forRoot(electionOptions())],
  controllers: [LeadershipController],
  providers: [ReportJob],
})
export class AppModule {}
