/**
 * etcd that answers but refuses this node — wrong password, no permission on the election's
 * prefix — is reported as such (not as unreachable), without a session, and retried slowly.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Candidate,
  createEtcdClient,
  refusalOf,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import { delay, enableAuth, ROOT_ARGS, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';

const etcd = useEtcd();

beforeAll(() => enableAuth(etcd(), 'allowed/'));

/** Runs a candidate as user `username` until `body` returns, then stops it and closes its client. */
async function withCandidate(
  auth: { username: string; password: string },
  election: string,
  body: (candidate: Candidate, errors: unknown[]) => Promise<void>,
): Promise<void> {
  const client = createEtcdClient({ hosts: etcd().endpoints, auth });
  const candidate = new Candidate(client, {
    election,
    value: 'v',
    settings: resolveEngineOptions({ ttl: 2, backoff: { initial: 20, max: 1000 } }),
  });
  const errors: unknown[] = [];
  candidate.errors$.subscribe(error => errors.push(error));
  try {
    candidate.start();
    await body(candidate, errors);
  } finally {
    await candidate.stop();
    client.close();
  }
}

describe('refusals', () => {
  it('a wrong password: auth-failed, no session, slow retries', async () => {
    await withCandidate(
      { username: 'app', password: 'wrong' },
      `allowed/${uniqueName('auth')}`,
      async (candidate, errors) => {
        await waitFor(() => candidate.leadership.reason === 'auth-failed', {
          timeout: 5000,
          message: 'auth-failed',
        });
        expect(candidate.leadership.role).toBe('disconnected');
        expect(candidate.hasSession()).toBe(false);
        const before = errors.length;
        await delay(1500); // an observation window: a retry at most every backoff.max (1 s)
        expect(errors.length - before).toBeLessThanOrEqual(2);
        expect(refusalOf(errors.at(-1))).toBe('auth-failed');
      },
    );
  });

  it('no permission on the prefix: permission-denied, no session, slow retries', async () => {
    await withCandidate(
      { username: 'app', password: 'app-pw' },
      uniqueName('denied'),
      async (candidate, errors) => {
        await waitFor(() => candidate.leadership.reason === 'permission-denied', {
          timeout: 5000,
          message: 'permission-denied',
        });
        expect(candidate.leadership.role).toBe('disconnected');
        expect(candidate.hasSession()).toBe(false);
        const before = errors.length;
        await delay(1500);
        expect(errors.length - before).toBeLessThanOrEqual(2);
      },
    );
  });

  it('with the right password and permission, leads', async () => {
    await withCandidate(
      { username: 'app', password: 'app-pw' },
      `allowed/${uniqueName('ok')}`,
      async candidate => {
        const leadership = await candidate.waitForLeadership({ timeout: 10_000 });
        expect(leadership.role).toBe('leader');
      },
    );
  });

  it('leaves no lease behind (checked as root)', async () => {
    const out = await etcd().etcdctlOk([...ROOT_ARGS, 'lease', 'list']);
    expect(out.trim().split('\n').slice(1).filter(Boolean)).toEqual([]);
  });
});
