import { Controller, Get, Post, UseGuards } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  CurrentLeadership,
  ElectionModule,
  ElectionService,
  LEADER_HEADER,
  LeaderGuard,
  LeaderRoute,
  getElectionToken,
  type Leadership,
  type NotLeaderResponse,
} from '../../lib/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, baseUrl } from './nest-apps.js';

const etcd = useEtcd();
const apps = new Apps(new CaptureLogger());
afterEach(() => apps.closeAll());

const MAIN = 'guard-main';
const REPORTS = 'guard-reports';

@Controller()
class ApiController {
  @Get('leadership')
  leadership(@CurrentLeadership() leadership: Leadership) {
    return leadership;
  }

  @Get('leadership/reports')
  reports(@CurrentLeadership(REPORTS) leadership: Leadership) {
    return leadership;
  }

  @Post('write')
  @UseGuards(LeaderGuard)
  write() {
    return { written: true };
  }

  @Post('report')
  @LeaderRoute(REPORTS)
  report() {
    return { reported: true };
  }
}

function startNode(value: string, extra: { autoStart?: boolean } = {}) {
  const etcdOptions = { etcd: { hosts: etcd().endpoints }, value, ttl: 2, ...extra };
  return apps.create(
    {
      imports: [
        ElectionModule.forRoot({ ...etcdOptions, election: MAIN }),
        ElectionModule.forRoot({ ...etcdOptions, election: REPORTS }),
      ],
      controllers: [ApiController],
    },
    { listen: true },
  );
}

async function request(app: INestApplication, method: 'GET' | 'POST', path: string) {
  const res = await fetch(`${await baseUrl(app)}${path}`, { method });
  return { status: res.status, header: res.headers.get(LEADER_HEADER), body: await res.json() };
}

const reports = (app: INestApplication) => app.get<ElectionService>(getElectionToken(REPORTS));

describe('LeaderGuard and @CurrentLeadership over HTTP', () => {
  it('lets the leader through; followers answer 503 naming the leader', async () => {
    const leader = await startNode('nœud-a');
    await Promise.all([
      leader.get(ElectionService).waitForLeadership({ timeout: 10_000 }),
      reports(leader).waitForLeadership({ timeout: 10_000 }),
    ]);
    const follower = await startNode('node-b');
    await waitFor(
      () =>
        follower.get(ElectionService).leadership.leader?.value === 'nœud-a' &&
        reports(follower).leadership.leader?.value === 'nœud-a',
      { timeout: 5000, message: 'the follower sees who leads' },
    );
    const leaderKey = leader.get(ElectionService).leadership.key!;

    expect(await request(leader, 'POST', '/write')).toMatchObject({
      status: 201,
      body: { written: true },
    });
    const refused = await request(follower, 'POST', '/write');
    expect(refused.status).toBe(503);
    expect(refused.header).toBe(encodeURIComponent('nœud-a'));
    expect(refused.body).toEqual({
      statusCode: 503,
      message: `This node does not lead election "${MAIN}"; the leader is "nœud-a".`,
      election: MAIN,
      leader: { value: 'nœud-a', key: leaderKey },
    } satisfies NotLeaderResponse);

    // The snapshot, injected into the handler.
    const shown = await request(follower, 'GET', '/leadership');
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({
      election: MAIN,
      role: 'follower',
      value: 'node-b',
      leader: { value: 'nœud-a', key: leaderKey },
    });
    expect((await request(leader, 'GET', '/leadership')).body).toMatchObject({ role: 'leader' });

    // A named election: hand "reports" over to the follower; the guard follows.
    await reports(leader).resign();
    await reports(follower).waitForLeadership({ timeout: 5000 });
    await waitFor(() => reports(leader).leadership.leader?.value === 'node-b', {
      timeout: 5000,
      message: 'the old leader sees the new one',
    });
    expect(await request(follower, 'POST', '/report')).toMatchObject({ status: 201 });
    const moved = await request(leader, 'POST', '/report');
    expect(moved).toMatchObject({
      status: 503,
      header: 'node-b',
      body: { election: REPORTS, leader: { value: 'node-b' } },
    });
    expect((await request(follower, 'GET', '/leadership/reports')).body).toMatchObject({
      election: REPORTS,
      role: 'leader',
    });
    // The default election did not move.
    expect(await request(leader, 'POST', '/write')).toMatchObject({ status: 201 });
  });

  it('answers 503 with leader null and no header while no leader is known', async () => {
    const idle = await startNode('idle', { autoStart: false });
    const refused = await request(idle, 'POST', '/write');
    expect(refused).toEqual({
      status: 503,
      header: null,
      body: {
        statusCode: 503,
        message: `This node does not lead election "${MAIN}"; no leader is known right now.`,
        election: MAIN,
        leader: null,
      },
    });
  });

  it('fails the bootstrap when @LeaderRoute names an unregistered election', async () => {
    @Controller()
    @LeaderRoute('nope')
    class Misnamed {
      @Post('x')
      x() {}
    }
    await expect(
      apps.create({
        imports: [
          ElectionModule.forRoot({
            etcd: { hosts: etcd().endpoints },
            election: MAIN,
            autoStart: false,
          }),
        ],
        controllers: [Misnamed],
      }),
    ).rejects.toThrow(
      `@LeaderRoute on Misnamed refers to election "nope", which is not registered`,
    );
  });
});
