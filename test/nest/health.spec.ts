import { Controller, Get } from '@nestjs/common';
import type { INestApplication } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionHealthIndicator } from '../../lib/health/index.js';
import { ElectionModule, ElectionService } from '../../lib/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, baseUrl } from './nest-apps.js';

const etcd = useEtcd();
const apps = new Apps(new CaptureLogger());
afterEach(() => apps.closeAll());

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly election: ElectionHealthIndicator,
  ) {}

  @Get()
  @HealthCheck()
  check() {
    return this.health.check([() => this.election.isHealthy('election')]);
  }
}

function startNode(election: string, value: string, autoStart = true) {
  return apps.create(
    {
      imports: [
        TerminusModule.forRoot(),
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints },
          election,
          value,
          ttl: 2,
          autoStart,
          backoff: { max: 500 },
        }),
      ],
      controllers: [HealthController],
      providers: [ElectionHealthIndicator],
    },
    { listen: true },
  );
}

async function health(app: INestApplication) {
  const res = await fetch(`${await baseUrl(app)}/health`);
  const body = (await res.json()) as { details: { election: Record<string, unknown> } };
  return { status: res.status, election: body.details.election };
}

describe('ElectionHealthIndicator', () => {
  it('is down without a session, up as leader or follower, down while etcd is away', async () => {
    const election = `health-${process.pid}`;
    const leader = await startNode(election, 'lead', false);
    expect(await health(leader)).toMatchObject({
      status: 503,
      election: {
        status: 'down',
        election,
        role: 'disconnected',
        reason: 'starting',
        leader: null,
      },
    });

    leader.get(ElectionService).start();
    await leader.get(ElectionService).waitForLeadership({ timeout: 10_000 });
    expect(await health(leader)).toMatchObject({
      status: 200,
      election: { status: 'up', role: 'leader', reason: 'elected', leader: 'lead' },
    });

    const follower = await startNode(election, 'follow');
    // The observed leader may be known a moment before this node's own lease is granted.
    await waitFor(
      async () => {
        const now = await health(follower);
        return now.election.leader === 'lead' && now.status === 200;
      },
      { timeout: 5000, message: 'the follower reports the leader, with a session' },
    );
    expect(await health(follower)).toMatchObject({
      status: 200,
      election: { status: 'up', role: 'follower' },
    });

    const member = etcd().members[0];
    await member.stop();
    try {
      for (const app of [leader, follower]) {
        await waitFor(async () => (await health(app)).status === 503, {
          timeout: 5000,
          message: 'health down once the session is lost',
        });
        expect((await health(app)).election).toMatchObject({ status: 'down' });
      }
      expect(leader.get(ElectionService).isLeader()).toBe(false);
    } finally {
      await member.start();
    }
    for (const app of [leader, follower]) {
      await waitFor(async () => (await health(app)).status === 200, {
        timeout: 10_000,
        message: 'health up again once etcd is back',
      });
    }
  });
});
