import type { Etcd3 } from 'etcd3';
import { afterEach } from 'vitest';
import {
  Candidate,
  type CandidateOptions,
  createEtcdClient,
  type Leadership,
  monotonicNow,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import type { EtcdCluster } from '../support/index.js';
import { waitFor } from '../support/index.js';

let counter = 0;

/** An election name no other test uses. */
export function uniqueName(label: string): string {
  return `test-${label}-${process.pid}-${++counter}`;
}

/** One recorded leadership change, with the monotonic time it was seen. */
export interface Recorded extends Leadership {
  at: number;
}

/** A started candidate plus everything it emitted. */
export interface Tracked {
  candidate: Candidate;
  history: Recorded[];
}

/**
 * Creates etcd clients and candidates for one test file, and stops and closes all of them after
 * each test, whatever the outcome.
 */
export function useCandidates(cluster: () => EtcdCluster) {
  const clients: Etcd3[] = [];
  const candidates: Candidate[] = [];
  afterEach(async () => {
    await Promise.allSettled(candidates.splice(0).map(c => c.stop()));
    for (const client of clients.splice(0)) client.close();
  });
  const client = (hosts = cluster().endpoints): Etcd3 => {
    const c = createEtcdClient({ hosts });
    clients.push(c);
    return c;
  };
  const start = (
    options: Omit<CandidateOptions, 'ttl'> & { ttl?: number },
    etcd: Etcd3 = client(),
  ): Tracked => {
    const { election, value, ...settings } = options;
    const candidate = new Candidate(etcd, {
      election,
      value,
      settings: resolveEngineOptions({ ttl: 2, ...settings }),
    });
    candidates.push(candidate);
    const history: Recorded[] = [];
    candidate.leadership$.subscribe(l => history.push({ ...l, at: monotonicNow() }));
    candidate.start();
    return { candidate, history };
  };
  return { client, start };
}

/** Waits until the candidate holds a key in the queue, and returns that key. */
export function queued(tracked: Tracked, timeout = 10_000): Promise<string> {
  return waitFor(() => tracked.candidate.leadership.key, {
    timeout,
    message: `${tracked.candidate.leadership.value} queued`,
  });
}

/** Waits until the candidate holds a key in the queue again, newer than `revision`. */
export function requeued(tracked: Tracked, revision: string, timeout = 10_000): Promise<string> {
  return waitFor(
    () => {
      const { revision: current } = tracked.candidate.leadership;
      return current !== undefined && BigInt(current) > BigInt(revision) && current;
    },
    { timeout, message: `${tracked.candidate.leadership.value} queued after revision ${revision}` },
  );
}
