import { Injectable } from '@nestjs/common';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { Registry, register } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ElectionModule, ElectionService } from '../../lib/index.js';
import {
  ELECTION_METRICS,
  ElectionMetrics,
  ElectionMetricsModule,
} from '../../lib/metrics/index.js';
import { Apps, CaptureLogger, baseUrl } from '../nest/nest-apps.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { metric, parseMetrics } from './scrape.js';

const etcd = useEtcd();
const apps = new Apps(new CaptureLogger());
afterEach(() => apps.closeAll());

let counter = 0;
const electionOptions = (value: string) => ({
  etcd: { hosts: etcd().endpoints },
  election: `metrics-module-${process.pid}-${++counter}`,
  value,
  ttl: 2,
});

/** Hands the app's own registry to `forRootAsync`, as an app that builds its registry would. */
@Injectable()
class RegistryHolder {
  readonly registry = new Registry();
}

describe('ElectionMetricsModule', () => {
  it('fits @willsoto/nestjs-prometheus: its GET /metrics serves the election metrics', async () => {
    const options = electionOptions('lead');
    const app = await apps.create(
      {
        imports: [
          PrometheusModule.register({ defaultMetrics: { enabled: false } }),
          ElectionModule.forRoot(options),
          ElectionMetricsModule.forRoot(),
        ],
      },
      { listen: true },
    );
    await app.get(ElectionService).waitForLeadership({ timeout: 10_000 });
    const url = `${await baseUrl(app)}/metrics`;
    const samples = await waitFor(
      async () => {
        const s = parseMetrics(await (await fetch(url)).text());
        return metric(s, ELECTION_METRICS.isLeader, { election: options.election }) === 1 && s;
      },
      { timeout: 5000, message: 'is_leader 1 on /metrics' },
    );
    expect(metric(samples, ELECTION_METRICS.termsWon, { election: options.election })).toBe(1);
    expect(app.get(ElectionMetrics).registry).toBe(register);

    // closing the app takes the metrics out of the default registry, so a next app can register
    await apps.close(app);
    expect(register.getSingleMetric(ELECTION_METRICS.isLeader)).toBeUndefined();
  });

  it('registers into the registry forRootAsync returns', async () => {
    const options = electionOptions('own-registry');
    const app = await apps.create({
      imports: [
        ElectionModule.forRoot(options),
        ElectionMetricsModule.forRootAsync({
          useFactory: (holder: RegistryHolder) => ({ registry: holder.registry }),
          inject: [RegistryHolder],
          imports: [
            {
              module: class RegistryModule {},
              providers: [RegistryHolder],
              exports: [RegistryHolder],
            },
          ],
        }),
      ],
    });
    const { registry } = app.get(ElectionMetrics);
    expect(registry).not.toBe(register);
    await app.get(ElectionService).waitForLeadership({ timeout: 10_000 });
    await waitFor(
      async () =>
        metric(parseMetrics(await registry.metrics()), ELECTION_METRICS.isLeader, {
          election: options.election,
        }) === 1,
      { timeout: 5000, message: 'is_leader 1 in the app registry' },
    );
    expect(register.getSingleMetric(ELECTION_METRICS.isLeader)).toBeUndefined();
    await apps.close(app);
    expect(registry.getSingleMetric(ELECTION_METRICS.isLeader)).toBeUndefined();
  });
});
