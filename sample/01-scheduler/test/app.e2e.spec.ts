/**
 * End-to-end test of the sample: two replicas of the real AppModule on a throwaway etcd that
 * startTestEtcd starts (free loopback port, temp data dir, removed after).
 */
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { filter, firstValueFrom, timeout } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectionService, OneInstanceService } from '../../../lib/index.js';
import { startTestEtcd, type TestEtcd } from '../../../lib/testing/index.js';
import { waitFor } from '../../../test/support/index.js';

let etcd: TestEtcd;
const apps: INestApplication[] = [];

beforeAll(async () => {
  etcd = await startTestEtcd();
  // AppModule reads the environment when it is first imported, as main.ts does.
  process.env.ETCD_HOSTS = etcd.hosts;
  process.env.ELECTION_NAME = `sample-e2e-${process.pid}`;
  process.env.ELECTION_TTL = '30'; // a handover within seconds can only be the resign
});
afterAll(async () => {
  await Promise.allSettled(apps.map(app => app.close()));
  await etcd?.stop();
  delete process.env.ETCD_HOSTS;
  delete process.env.ELECTION_NAME;
  delete process.env.ELECTION_TTL;
});

async function replica() {
  const { AppModule } = await import('../src/app.module.js');
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  apps.push(app);
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

describe('01-scheduler', () => {
  it('one of two replicas leads, both are healthy, and closing the leader hands over', async () => {
    const replicas = [await replica(), await replica()];
    const services = replicas.map(r => r.app.get(ElectionService));
    await Promise.any(services.map(s => s.waitForLeadership({ timeout: 10_000 })));
    const leader = replicas[services.findIndex(s => s.isLeader())];
    const follower = replicas.find(r => r !== leader)!;
    const next = follower.app.get(ElectionService);

    // The follower learns who leads, and says so over HTTP.
    const known = await firstValueFrom(
      next.leader$.pipe(
        filter(info => info !== undefined),
        timeout(10_000),
      ),
    );
    const shown = (await (await fetch(`${follower.url}/leadership`)).json()) as {
      role: string;
      leader?: { key: string };
    };
    expect(shown).toMatchObject({ role: 'follower', leader: { key: known.key } });
    for (const r of replicas) expect((await fetch(`${r.url}/health`)).status).toBe(200);

    // A graceful stop resigns: the follower leads without waiting for the lease to expire.
    const taking = next.waitForLeadership({ timeout: 10_000 });
    await leader.app.close();
    apps.splice(apps.indexOf(leader.app), 1);
    await expect(taking).resolves.toMatchObject({ role: 'leader' });
  });

  it('spreads the six housekeeping jobs over two replicas, three each, each led by one', async () => {
    await Promise.all(apps.splice(0).map(app => app.close()));
    const replicas = [await replica(), await replica()];
    const services = replicas.map(r => r.app.get(OneInstanceService));
    const led = () =>
      services.map(s =>
        s
          .jobs()
          .filter(j => j.leading)
          .map(j => j.name),
      );
    await waitFor(
      () => {
        const [a, b] = led();
        return a.length === 3 && b.length === 3 && new Set([...a, ...b]).size === 6;
      },
      { timeout: 15_000, interval: 50, message: 'three jobs led by each replica' },
    );
    const names = services[0].jobs().map(j => j.name);
    expect(names).toHaveLength(6);
    expect(names.every(n => n.startsWith('nestjs-etcd-election/one-instance/Housekeeping.'))).toBe(
      true,
    );
  });
});
