import { Controller, Get, Injectable, Logger, Module } from '@nestjs/common';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';

/** The sample's job, minus the election: it runs on every replica. */
@Injectable()
export class ReportJob {
  private readonly logger = new Logger(ReportJob.name);
  private runs = 0;

  @Cron('*/5 * * * * *')
  async report(): Promise<void> {
    this.runs++;
    await new Promise(resolve => setTimeout(resolve, 100));
    this.logger.log(`report #${this.runs} done`);
  }
}

/** Health with no indicator: what the sample's endpoint costs without the election's. */
@Controller('health')
export class HealthController {
  constructor(private readonly health: HealthCheckService) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([]);
  }
}

/**
 * The sample app (`sample/01-scheduler`) without `ElectionModule`: the same Nest modules
 * (schedule, terminus, HTTP), so that the difference in memory is the election's.
 */
@Module({
  imports: [ScheduleModule.forRoot(), TerminusModule.forRoot()],
  controllers: [HealthController],
  providers: [ReportJob],
})
export class BareAppModule {}
