import { Test, TestingModule } from '@nestjs/testing';
import { ElectionService } from 'nestjs-etcd-election';
import { ElectionTestingModule, getTestElection } from 'nestjs-etcd-election/testing';
import { ReportJob } from './shared/report.job';

describe('ReportJob (unit, without etcd)', () => {
  let moduleRef: TestingModule;

  beforeEach(async () => {
    moduleRef = await Test.createTestingModule({
      imports: [ElectionTestingModule.forRoot({ election: 'consumers' })],
      providers: [ReportJob],
    }).compile();
    await moduleRef.init();
  });

  afterEach(async () => {
    await moduleRef.close();
  });

  it('ticks only while this replica leads', () => {
    const log = jest.spyOn(console, 'log').mockImplementation(() => undefined);
    const job = moduleRef.get(ReportJob);
    job.tick();
    expect(log).not.toHaveBeenCalled();

    getTestElection(moduleRef).elect();
    expect(moduleRef.get(ElectionService).isLeader()).toBe(true);
    expect(log).toHaveBeenCalledWith(expect.stringMatching(/^leader .* token=1$/));
    job.tick();
    expect(log).toHaveBeenLastCalledWith(expect.stringMatching(/^tick /));

    getTestElection(moduleRef).follow('other');
    log.mockClear();
    job.tick();
    expect(log).not.toHaveBeenCalled();
    log.mockRestore();
  });
});
