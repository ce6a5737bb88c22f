import { Controller, Get, Injectable, UseGuards } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionService,
  InjectElection,
  LeaderGuard,
  LeaderOnly,
  LeadershipLostError,
  NotLeaderError,
  OnFollower,
  OnLeader,
  compareFencingTokens,
  currentLeaderSignal,
  type LeaderContext,
  type Leadership,
} from '../../lib/index.js';
import { ElectionTestingModule, getTestElection } from '../../lib/testing/index.js';

/** The kind of service a user tests: handlers on both sides, and a leader-only job. */
@Injectable()
class ReportJob {
  readonly led: LeaderContext[] = [];
  readonly followed: Leadership[] = [];
  readonly runs: Array<AbortSignal | undefined> = [];

  @OnLeader()
  lead(context: LeaderContext) {
    this.led.push(context);
  }

  @OnFollower()
  follow(leadership: Leadership) {
    this.followed.push(leadership);
  }

  @LeaderOnly()
  report(): string {
    this.runs.push(currentLeaderSignal());
    return 'done';
  }
}

@Injectable()
class Billing {
  readonly runs: number[] = [];

  constructor(@InjectElection('billing') readonly election: ElectionService) {}

  @LeaderOnly('billing')
  charge() {
    this.runs.push(this.runs.length);
  }
}

@Controller()
class AdminController {
  @Get('admin')
  @UseGuards(LeaderGuard)
  admin() {
    return 'ok';
  }
}

const modules: TestingModule[] = [];
afterEach(async () => {
  await Promise.all(modules.splice(0).map(m => m.close()));
});

async function compile(imports = [ElectionTestingModule.forRoot({ election: 'scheduler' })]) {
  const moduleRef = await Test.createTestingModule({
    imports,
    providers: [ReportJob],
  }).compile();
  modules.push(moduleRef);
  await moduleRef.init();
  return moduleRef;
}

describe('ElectionTestingModule and TestElection', () => {
  it('makes this node leader and follower, and the decorators react', async () => {
    const moduleRef = await compile();
    const job = moduleRef.get(ReportJob);
    const election = getTestElection(moduleRef);
    const service = moduleRef.get(ElectionService);

    expect(service.name).toBe('scheduler');
    expect(service.leadership).toMatchObject({ role: 'follower', reason: 'campaigning' });
    expect(job.report()).toBeUndefined(); // skipped: not the leader
    expect(job.runs).toEqual([]);

    election.elect();
    expect(service.isLeader()).toBe(true);
    expect(job.led).toHaveLength(1);
    const [first] = job.led;
    expect(first.leadership).toMatchObject({ role: 'leader', reason: 'elected' });
    expect(first.token).toEqual(service.fencingToken());
    expect(job.report()).toBe('done');
    expect(job.runs).toEqual([first.signal]);

    election.follow('node-2');
    expect(service.isLeader()).toBe(false);
    expect(first.signal.aborted).toBe(true);
    expect(first.signal.reason).toBeInstanceOf(LeadershipLostError);
    expect(job.followed).toHaveLength(1);
    expect(job.followed[0]).toMatchObject({
      role: 'follower',
      reason: 'session-expired',
      leader: { value: 'node-2' },
    });
    expect(service.leadership.leader?.value).toBe('node-2');
    expect(job.report()).toBeUndefined();
    expect(job.runs).toHaveLength(1);

    // A second term has a newer fencing token.
    election.elect();
    expect(job.led).toHaveLength(2);
    expect(compareFencingTokens(job.led[1].token, first.token)).toBe(1);

    election.disconnect();
    expect(service.leadership).toMatchObject({ role: 'disconnected', reason: 'etcd-unreachable' });
    expect(service.hasSession()).toBe(false);
    expect(job.led[1].signal.aborted).toBe(true);
  });

  it('answers waitForLeadership, resign and guard as the real service does', async () => {
    const moduleRef = await compile();
    const election = getTestElection(moduleRef);
    const service = moduleRef.get(ElectionService);

    expect(() => service.guard()).toThrow(NotLeaderError);
    const waiting = service.waitForLeadership({ timeout: 5000 });
    election.elect();
    await expect(waiting).resolves.toMatchObject({ role: 'leader' });
    expect(service.guard()).toBeDefined();

    const signal = service.signal!;
    await service.resign();
    expect(signal.aborted).toBe(true);
    expect(service.leadership).toMatchObject({ role: 'follower', reason: 'resigned' });
    expect(moduleRef.get(ReportJob).followed).toHaveLength(1);
  });

  it('drives a LeaderGuard route', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [ElectionTestingModule.forRoot({ election: 'web', value: 'me' })],
      controllers: [AdminController],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.listen(0, '127.0.0.1');
    try {
      const url = (await app.getUrl()).replace('[::1]', '127.0.0.1');
      getTestElection(app).follow('web-2');
      const refused = await fetch(`${url}/admin`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('x-election-leader')).toBe('web-2');
      getTestElection(app).elect();
      const served = await fetch(`${url}/admin`);
      expect(served.status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('keeps several elections apart, by name', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ElectionTestingModule.forRoot({ election: 'scheduler' }),
        ElectionTestingModule.forRoot({ election: 'billing' }),
      ],
      providers: [ReportJob, Billing],
    }).compile();
    modules.push(moduleRef);
    await moduleRef.init();
    const billing = moduleRef.get(Billing);

    getTestElection(moduleRef, 'billing').elect();
    billing.charge();
    expect(billing.runs).toEqual([0]);
    expect(billing.election.isLeader()).toBe(true);
    expect(moduleRef.get(ElectionService).isLeader()).toBe(false); // the default: scheduler
    expect(moduleRef.get(ReportJob).report()).toBeUndefined();
    expect(() => getTestElection(moduleRef, 'nope')).toThrow(/"nope"/);
  });

  it('gives every compiled module its own double', async () => {
    const imports = [ElectionTestingModule.forRoot({ election: 'scheduler' })];
    const a = await compile(imports);
    const b = await compile(imports);
    getTestElection(a).elect();
    expect(a.get(ElectionService).isLeader()).toBe(true);
    expect(b.get(ElectionService).isLeader()).toBe(false);
  });

  it('ends the term on shutdown and refuses to be driven after it', async () => {
    const moduleRef = await compile();
    const election = getTestElection(moduleRef);
    election.elect();
    const { signal } = moduleRef.get(ReportJob).led[0];
    await moduleRef.close();
    modules.splice(modules.indexOf(moduleRef), 1);
    expect(signal.aborted).toBe(true);
    expect(election.leadership).toMatchObject({ role: 'disconnected', reason: 'stopped' });
    expect(() => election.elect()).toThrow(/after shutdown/);
  });
});
