import { Injectable, Module } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ElectionModule,
  ElectionOptionsError,
  ElectionBalancer,
  ElectionRegistry,
  ElectionService,
  LockService,
  LockTimeoutError,
  OnOneInstance,
  OneInstanceService,
} from '../../lib/index.js';
import { diffCounts, parsePrometheus, sumBy } from '../bench/stats.js';
import { uniqueName } from '../core/fixtures.js';
import { keysOf } from '../core/lock-fixtures.js';
import { delay, leaseIds, leaseRevoke, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

/** etcd's lease ids as `etcdctl lease list` prints them (zero-padded hex), unpadded. */
async function leases(): Promise<string[]> {
  return (await leaseIds(etcd())).map(id => BigInt(`0x${id}`).toString(16));
}

@Injectable()
class SharedJob {
  runs = 0;

  @OnOneInstance()
  tick(): void {
    this.runs++;
  }
}

/** `count` elections (ttl 3) and a connection-only registration, all on one etcd. */
function elections(count: number, prefix: string) {
  const hosts = etcd().endpoints;
  const names = Array.from({ length: count }, (_, i) => uniqueName(`${prefix}-${i}`));
  return {
    names,
    imports: [
      ElectionModule.forRoot({ etcd: { hosts }, ttl: 3 }),
      ...names.map(election => ElectionModule.forRoot({ etcd: { hosts }, election, ttl: 3 })),
    ],
  };
}

describe('one session per application', () => {
  it('20 elections, 10 locks and a job use one lease; idle, etcd sees keepalives only', async () => {
    const { imports } = elections(20, 'twenty');
    const before = await leases();
    const app = await apps.create({ imports, providers: [SharedJob] });
    const services = app.get(ElectionRegistry).getAll();
    expect(services).toHaveLength(20);
    await Promise.all(services.map(s => s.waitForLeadership({ timeout: 10_000 })));
    const lockService = app.get(LockService);
    const lockNames = Array.from({ length: 10 }, (_, i) => uniqueName(`ten-${i}`));
    const locks = await Promise.all(lockNames.map(name => lockService.acquire(name)));
    const jobs = app.get(OneInstanceService);
    await waitFor(() => jobs.jobs()[0]?.leading, { timeout: 10_000, message: 'job leads' });

    const lease = services[0].leadership.lease!;
    expect(new Set(services.map(s => s.leadership.lease))).toEqual(new Set([lease]));
    expect(locks.every(lock => lock.key.endsWith(`/${lease}`))).toBe(true);
    const job = jobs.jobs()[0];
    expect((await keysOf(etcd(), job.name)).map(k => k.lease)).toEqual([lease]);
    expect((await leases()).filter(id => !before.includes(id))).toEqual([lease]);
    // All of them on one client: the election's client is the one locks use.
    expect(new Set(services.map(s => s.client)).size).toBe(1);

    const scrape = async () => {
      const samples = parsePrometheus(await etcd().members[0].metrics());
      const typed = (unary: boolean) => (l: Record<string, string>) =>
        l.grpc_type !== undefined && (l.grpc_type === 'unary') === unary;
      return {
        unary: sumBy(samples, 'grpc_server_handled_total', 'grpc_method', typed(true)),
        messages: sumBy(samples, 'grpc_server_msg_received_total', 'grpc_method', typed(false)),
        streams: sumBy(samples, 'grpc_server_started_total', 'grpc_method', typed(false)),
      };
    };
    // The balancer (the job is balanced) has had its first look and waits for changes.
    await waitFor(() => app.get(ElectionBalancer).idle, {
      timeout: 5000,
      message: 'balancer idle',
    });
    const start = await scrape();
    await delay(3500); // the measuring window: nothing to wait for, only time to pass
    const end = await scrape();
    const nonZero = (m: Map<string, number>) => Object.fromEntries([...m].filter(([, v]) => v));
    expect(nonZero(diffCounts(start.unary, end.unary))).toEqual({});
    expect(nonZero(diffCounts(start.streams, end.streams))).toEqual({});
    const messages = nonZero(diffCounts(start.messages, end.messages));
    expect(Object.keys(messages)).toEqual(['LeaseKeepAlive']);
    // One lease, one keepalive per TTL/3 = 1 s: about 3.5 in 3.5 s (21 leases would send ~70).
    expect(messages.LeaseKeepAlive).toBeGreaterThanOrEqual(2);
    expect(messages.LeaseKeepAlive).toBeLessThanOrEqual(5);
    console.info(
      `idle 3.5 s, 20 elections + 10 locks + 1 job, 1 lease: ${JSON.stringify(messages)}`,
    );

    await Promise.all(locks.map(lock => lock.release()));
    await apps.close(app);
    expect(await leases()).not.toContain(lease);
  });

  it('losing the lease ends every term and lock of the app, then all lead again on one new lease', async () => {
    const { imports } = elections(3, 'lose');
    const app = await apps.create({ imports });
    const services = app.get(ElectionRegistry).getAll();
    await Promise.all(services.map(s => s.waitForLeadership({ timeout: 10_000 })));
    const lock = await app.get(LockService).acquire(uniqueName('lose-lock'));
    const signals = services.map(s => s.signal!);
    const lease = services[0].leadership.lease!;
    expect(await leaseRevoke(etcd(), lease)).toBe(true);
    await waitFor(() => signals.every(s => s.aborted) && lock.signal.aborted, {
      timeout: 5000,
      message: 'every term and the lock ended',
    });
    await Promise.all(
      services.map(s =>
        waitFor(() => s.isLeader() && s.leadership.lease !== lease, {
          timeout: 10_000,
          message: `${s.name} leads again`,
        }),
      ),
    );
    expect(new Set(services.map(s => s.leadership.lease)).size).toBe(1);
    expect(app.get(LockService).stats.sessions).toMatchObject({ granted: 2, lost: 1 });
  });

  it('an election with its own ttl keeps its own session; equal settings share one', async () => {
    const hosts = etcd().endpoints;
    const [a, b, c] = [1, 2, 3].map(i => uniqueName(`own-ttl-${i}`));
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({ etcd: { hosts }, election: a }),
        ElectionModule.forRoot({ etcd: { hosts }, election: b, ttl: 4 }),
        ElectionModule.forRoot({ etcd: { hosts: [...hosts] }, election: c }),
      ],
    });
    const registry = app.get(ElectionRegistry);
    const [sa, sb, sc] = [a, b, c].map(name => registry.get(name));
    await Promise.all([sa, sb, sc].map(s => s.waitForLeadership({ timeout: 10_000 })));
    expect(sa.leadership.lease).toBe(sc.leadership.lease);
    expect(sb.leadership.lease).not.toBe(sa.leadership.lease);
    // One client for the one cluster, whatever the session settings.
    expect(sb.client).toBe(sa.client);
  });

  it('forRootAsync({ connectionOnly: true }) registers the connection alone', async () => {
    const hosts = etcd().endpoints;

    @Module({ providers: [{ provide: 'HOSTS', useValue: hosts }], exports: ['HOSTS'] })
    class ConfigModule {}

    const app = await apps.create({
      imports: [
        ElectionModule.forRootAsync({
          connectionOnly: true,
          imports: [ConfigModule],
          inject: ['HOSTS'],
          useFactory: (h: string[]) => ({ etcd: { hosts: h }, ttl: '5' as unknown as number }),
        }),
      ],
      providers: [SharedJob],
    });
    expect(() => app.get(ElectionService)).toThrow();
    const lock = await app.get(LockService).acquire(uniqueName('async-lock'));
    const jobs = app.get(OneInstanceService);
    await waitFor(() => jobs.jobs()[0]?.leading, { timeout: 10_000, message: 'job leads' });
    const [job] = jobs.jobs();
    expect((await keysOf(etcd(), job.name)).map(k => k.lease)).toEqual([lock.key.split('/').pop()]);
    await lock.release();
  });

  it('etcd unreachable: the election says so; the lock line only comes once a lock waits', async () => {
    const election = uniqueName('unreachable');
    const from = logs.lines.length;
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({ etcd: { hosts: 'http://127.0.0.1:1' }, election, ttl: 2 }),
      ],
    });
    const service = app.get(ElectionService);
    const sessions = () => app.get(LockService).stats.sessions;
    await waitFor(() => sessions().grantFailures >= 2, {
      timeout: 10_000,
      message: 'two failed grants',
    });
    expect(service.leadership).toMatchObject({ role: 'disconnected', reason: 'etcd-unreachable' });
    const lockLines = () => logs.lines.slice(from).filter(line => line.context === 'Lock');
    expect(lockLines()).toEqual([]);
    await expect(
      app.get(LockService).acquire(uniqueName('unreachable-lock'), { wait: 2500 }),
    ).rejects.toBeInstanceOf(LockTimeoutError);
    expect(lockLines().map(line => line.message)).toEqual([
      expect.stringMatching(/etcd error while locking/),
    ]);
  });

  it('forRootAsync({ connectionOnly: true }) with an election name fails naming both', () => {
    expect(() =>
      ElectionModule.forRootAsync({
        connectionOnly: true,
        election: 'x',
        useFactory: () => ({ etcd: { hosts: etcd().endpoints } }),
      }),
    ).toThrow(ElectionOptionsError);
    expect(() =>
      ElectionModule.forRootAsync({
        connectionOnly: true,
        election: 'x',
        useFactory: () => ({ etcd: { hosts: etcd().endpoints } }),
      }),
    ).toThrow(/election.*"x".*connectionOnly/);
  });
});
