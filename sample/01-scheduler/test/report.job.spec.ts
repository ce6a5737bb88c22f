/**
 * Unit test of the job, without etcd: ElectionTestingModule puts a TestElection under the
 * election, and the test decides when this replica leads.
 */
import type { LoggerService } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionTestingModule, getTestElection } from '../../../lib/testing/index.js';
import { ReportJob } from '../src/report.job.js';

/** Keeps what the job logs. */
class Lines implements LoggerService {
  readonly lines: string[] = [];
  log(message: unknown) {
    this.lines.push(String(message));
  }
  error(message: unknown) {
    this.lines.push(String(message));
  }
  warn(message: unknown) {
    this.lines.push(String(message));
  }
}

let moduleRef: TestingModule | undefined;
afterEach(async () => {
  await moduleRef?.close();
  moduleRef = undefined;
});

async function setUp() {
  const logs = new Lines();
  moduleRef = await Test.createTestingModule({
    imports: [ElectionTestingModule.forRoot({ election: 'scheduler' })],
    providers: [ReportJob],
  })
    .setLogger(logs)
    .compile();
  await moduleRef.init();
  return { logs, job: moduleRef.get(ReportJob), election: getTestElection(moduleRef) };
}

describe('ReportJob', () => {
  it('reports only while this replica leads', async () => {
    const { logs, job, election } = await setUp();

    await job.report();
    expect(logs.lines.filter(line => line.startsWith('report #'))).toEqual([]);

    election.elect();
    expect(logs.lines).toContain('this replica now runs the reports (fencing token 1)');
    await job.report();
    expect(logs.lines).toContain('report #1 done (fencing token 1)');

    election.follow('node-2');
    expect(logs.lines).toContain('standing by; "node-2" runs the reports');
    await job.report();
    expect(logs.lines.filter(line => line.startsWith('report #'))).toHaveLength(1);
  });

  it('drops a report whose term ends while it runs', async () => {
    const { logs, job, election } = await setUp();
    election.elect();
    const running = job.report();
    election.follow('node-2'); // the term's signal aborts mid-report
    await running;
    expect(logs.lines.filter(line => line.startsWith('report #'))).toEqual([]);
  });
});
