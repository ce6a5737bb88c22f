/**
 * With etcd auth, a handover after a quiet spell longer than etcd's token TTL costs no new
 * authentication: the token is kept valid meanwhile, so neither the resign nor the successor's
 * read waits for etcd's bcrypt.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Candidate,
  createEtcdClient,
  monotonicNow,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import { delay, enableAuth, memberMetric, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';

const etcd = useEtcd({ extraArgs: ['--auth-token-ttl=2'] });

beforeAll(() => enableAuth(etcd(), 'auth/'));

describe('auth tokens', () => {
  it('a handover after 6 s of quiet (token TTL 2 s) authenticates nobody again', async () => {
    const auth = { username: 'app', password: 'app-pw' };
    const clients = [0, 1].map(() => createEtcdClient({ hosts: etcd().endpoints, auth }));
    const election = `auth/${uniqueName('token')}`;
    const [a, b] = clients.map(
      (client, i) =>
        new Candidate(client, {
          election,
          value: `n${i}`,
          settings: resolveEngineOptions({ ttl: 3 }),
        }),
    );
    try {
      a.start();
      await a.waitForLeadership({ timeout: 10_000 });
      b.start();
      await waitFor(() => b.leadership.key, { timeout: 10_000, message: 'b queued' });
      const member = etcd().members[0];
      const authentications = () =>
        memberMetric(member, 'grpc_server_handled_total', { grpc_method: 'Authenticate' });
      await delay(6000); // the quiet spell
      const before = await authentications();
      const at = monotonicNow();
      await a.resign();
      await b.waitForLeadership({ timeout: 5000 });
      const ms = monotonicNow() - at;
      const after = await authentications();
      console.info(
        `auth handover after 6 s quiet: ${ms.toFixed(1)} ms, ${after - before} authentications`,
      );
      expect(after - before).toBe(0);
    } finally {
      await Promise.allSettled([a.stop(), b.stop()]);
      for (const client of clients) client.close();
    }
  });
});
