import { Injectable } from '@nestjs/common';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionModule, ElectionService, OnLeader, type LeaderContext } from '../../lib/index.js';
import { delay, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { Apps, CaptureLogger, now } from './nest-apps.js';

const etcd = useEtcd();
const logs = new CaptureLogger();
const apps = new Apps(logs);
afterEach(() => apps.closeAll());

@Injectable()
class Recorder {
  readonly terms: LeaderContext[] = [];

  @OnLeader()
  lead(context: LeaderContext) {
    this.terms.push(context);
  }
}

describe('etcd unreachable at start-up', () => {
  it('boots disconnected, logs one line per state change, and joins when etcd appears', async () => {
    const election = `etcd-down-${process.pid}`;
    const member = etcd().members[0];
    await member.stop();
    try {
      const bootStarted = now();
      const app = await apps.create({
        imports: [
          ElectionModule.forRoot({
            etcd: { hosts: etcd().endpoints },
            election,
            value: 'patient',
            ttl: 2,
            requestTimeout: 1000,
            backoff: { initial: 50, max: 300 },
          }),
        ],
        providers: [Recorder],
      });
      expect(now() - bootStarted).toBeLessThan(1000);
      const service = app.get(ElectionService);
      await waitFor(() => service.leadership.reason === 'etcd-unreachable', {
        timeout: 5000,
        message: 'the role reported as disconnected',
      });
      expect(service.leadership.role).toBe('disconnected');
      expect(service.isLeader()).toBe(false);
      expect(service.hasSession()).toBe(false);

      // An observation window in which the engine retries many times (backoff ≤ 300 ms).
      await delay(1500);
      // One line: the hosts tried, the cause in plain words, what to check.
      const down = logs.election(`[${election}]`);
      expect(down.map(l => l.level)).toEqual(['warn']);
      expect(down[0].message).toBe(
        `[${election}] disconnected (etcd-unreachable): etcd at ${etcd().endpoints.join(', ')} ` +
          `does not answer (connection refused). ` +
          `Check the "etcd.hosts" option and that etcd is running there.`,
      );

      await member.start();
      const leadership = await service.waitForLeadership({ timeout: 10_000 });
      expect(leadership).toMatchObject({ role: 'leader', reason: 'elected', value: 'patient' });
      await waitFor(() => app.get(Recorder).terms.length === 1, {
        timeout: 2000,
        message: '@OnLeader called once',
      });
      const up = logs.election(`[${election}]`).slice(1);
      expect(up.map(l => l.message)).toEqual([
        expect.stringMatching(new RegExp(`^\\[${election}\\] follower \\(campaigning\\) lease=`)),
        `[${election}] leader (elected) key=${leadership.key} token=${leadership.revision}`,
      ]);
    } finally {
      await member.start();
    }
  });

  it('logs a dead host once: not again while retrying, not again on shutdown', async () => {
    const election = `etcd-dead-${process.pid}`;
    const dead = 'http://127.0.0.1:9'; // the discard port: nothing listens there
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot({
          etcd: { hosts: dead },
          election,
          ttl: 2,
          requestTimeout: 500,
          backoff: { initial: 50, max: 200 },
        }),
      ],
    });
    const service = app.get(ElectionService);
    await waitFor(() => service.leadership.reason === 'etcd-unreachable', {
      timeout: 5000,
      message: 'disconnected',
    });
    // Several retries go by (they are at most a second apart), then the app shuts down.
    await delay(1200);
    await app.close();
    const lines = logs.election(`[${election}]`).filter(l => l.level !== 'log');
    expect(lines.map(l => l.message)).toEqual([
      `[${election}] disconnected (etcd-unreachable): etcd at ${dead} does not answer ` +
        `(connection refused). Check the "etcd.hosts" option and that etcd is running there.`,
    ]);
  });
});
