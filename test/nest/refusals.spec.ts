/**
 * etcd refuses the node: health says down and one log line says why and what to change.
 */
import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, TerminusModule } from '@nestjs/terminus';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ElectionHealthIndicator } from '../../lib/health/index.js';
import { ElectionModule, ElectionService } from '../../lib/index.js';
import { delay, enableAuth, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, baseUrl } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

beforeAll(() => enableAuth(etcd()));

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

function startNode(election: string, password: string) {
  return apps.create(
    {
      imports: [
        TerminusModule.forRoot(),
        ElectionModule.forRoot({
          etcd: { hosts: etcd().endpoints, auth: { username: 'app', password } },
          election,
          ttl: 2,
          backoff: { initial: 20, max: 500 },
        }),
      ],
      controllers: [HealthController],
      providers: [ElectionHealthIndicator],
    },
    { listen: true },
  );
}

describe('refused by etcd', () => {
  it.each([
    [
      'wrong password',
      'wrong',
      'auth-failed',
      /rejected the user name or password \(authentication failed, invalid user ID or password\)\. Check "etcd\.auth"/,
    ],
    [
      'no permission on the prefix',
      'app-pw',
      'permission-denied',
      /denies this user the election's keys \(permission denied\)\. Grant its role readwrite on the prefix: etcdctl role grant-permission <role> --prefix=true readwrite 'refused-\d+-\d\/'/,
    ],
  ])(
    '%s: health down, one line naming the cause and the fix',
    async (_, password, reason, text) => {
      const election = `refused-${process.pid}-${reason === 'auth-failed' ? 1 : 2}`;
      const app = await startNode(election, password);
      const service = app.get(ElectionService);
      await waitFor(() => service.leadership.reason === reason, { timeout: 5000, message: reason });
      const res = await fetch(`${await baseUrl(app)}/health`);
      expect(res.status).toBe(503);
      await delay(1200); // several slow retries go by
      const lines = logs.election(`[${election}]`).filter(l => l.level !== 'log');
      expect(lines).toHaveLength(1);
      expect(lines[0].message).toMatch(
        new RegExp(`^\\[${election}\\] disconnected \\(${reason}\\): `),
      );
      expect(lines[0].message).toMatch(text);
    },
  );
});
