import { afterEach, describe, expect, it } from 'vitest';
import {
  Candidate,
  type CandidateOptions,
  type Leadership,
  type LeaderTerm,
  type Sessions,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import { leaseRevoke, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName } from './fixtures.js';
import { keysOf, leaseList, useLockApps } from './lock-fixtures.js';

const etcd = useEtcd();
const app = useLockApps(etcd);
const candidates: Candidate[] = [];

afterEach(async () => {
  await Promise.allSettled(candidates.splice(0).map(c => c.stop()));
});

interface Node {
  candidate: Candidate;
  history: Leadership[];
}

/** A started candidate campaigning on `sessions`. */
function join(sessions: Sessions, options: Omit<CandidateOptions, 'ttl'>): Node {
  const { election, value, ...settings } = options;
  const candidate = new Candidate(
    sessions.client,
    { election, value, settings: resolveEngineOptions({ ttl: 5, ...settings }) },
    sessions,
  );
  candidates.push(candidate);
  const history: Leadership[] = [];
  candidate.leadership$.subscribe(l => history.push(l));
  candidate.start();
  return { candidate, history };
}

/** Waits until every node leads, and returns their terms. */
async function allLead(nodes: Node[]): Promise<LeaderTerm[]> {
  await Promise.all(nodes.map(n => n.candidate.waitForLeadership({ timeout: 10_000 })));
  return nodes.map(n => n.candidate.currentTerm()!);
}

describe('Candidate on the shared session', () => {
  it('campaigns in every election and locks on one lease', async () => {
    const { sessions, locks } = app();
    const nodes = [1, 2, 3].map(i =>
      join(sessions, { election: uniqueName(`one-${i}`), value: 'a' }),
    );
    await allLead(nodes);
    const lock = await locks.acquire(uniqueName('one-lock'));
    const lease = sessions.current()!.leaseHex;
    expect(nodes.map(n => n.candidate.leadership.lease)).toEqual([lease, lease, lease]);
    expect(lock.key.endsWith(`/${lease}`)).toBe(true);
    expect(sessions.stats.granted).toBe(1);
    expect(await leaseList(etcd())).toContain(lease);
    await lock.release();
  });

  it('losing the lease ends every term and lock synchronously, then all recover on one new lease', async () => {
    const { sessions, locks } = app({ ttl: 5 });
    const nodes = [1, 2, 3].map(i =>
      join(sessions, { election: uniqueName(`lost-${i}`), value: 'a' }),
    );
    const terms = await allLead(nodes);
    const lock = await locks.acquire(uniqueName('lost-lock'));
    const session = sessions.current()!;
    // Registered after every election and lock: when it runs, all of them must have let go.
    let seen: { roles: string[]; signals: boolean[]; lockHeld: boolean } | undefined;
    session.onLost(() => {
      seen = {
        roles: nodes.map(n => n.candidate.leadership.role),
        signals: [...terms.map(t => t.signal.aborted), lock.signal.aborted],
        lockHeld: lock.held,
      };
    });
    expect(await leaseRevoke(etcd(), session.leaseHex)).toBe(true);
    await waitFor(() => seen, { timeout: 5000, message: 'session loss heard' });
    expect(seen).toEqual({
      roles: ['follower', 'follower', 'follower'],
      signals: [true, true, true, true],
      lockHeld: false,
    });
    await allLead(nodes);
    const next = sessions.current()!.leaseHex;
    expect(next).not.toBe(session.leaseHex);
    expect(nodes.map(n => n.candidate.leadership.lease)).toEqual([next, next, next]);
    expect(sessions.stats).toMatchObject({ granted: 2, lost: 1 });
    for (const { candidate, history } of nodes) {
      expect(candidate.stats.sessionLosses).toBe(1);
      expect(history.some(l => l.reason === 'lease-revoked' && l.role === 'follower')).toBe(true);
    }
  });

  it('resign settles and keeps the lease; the other elections keep their terms', async () => {
    const { sessions } = app();
    const name = uniqueName('resign');
    const a = join(sessions, { election: name, value: 'a' });
    const other = join(sessions, { election: uniqueName('resign-other'), value: 'a' });
    const [first, otherTerm] = await allLead([a, other]);
    await a.candidate.resign();
    expect(first.signal.aborted).toBe(true);
    const again = await a.candidate.waitForLeadership({ timeout: 10_000 });
    expect(BigInt(again.revision!)).toBeGreaterThan(BigInt(first.token.revision));
    expect(again.lease).toBe(sessions.current()!.leaseHex);
    expect(otherTerm.signal.aborted).toBe(false);
    expect(sessions.stats.granted).toBe(1);
  });

  it('a key overwritten from outside ends that term alone: the foreign value goes, the lease stays', async () => {
    const { sessions } = app();
    const name = uniqueName('overwrite');
    const a = join(sessions, { election: name, value: 'a' });
    const other = join(sessions, { election: uniqueName('overwrite-other'), value: 'a' });
    const [first, otherTerm] = await allLead([a, other]);
    await etcd().etcdctlOk(['put', first.token.key, 'not a candidate']);
    await waitFor(() => first.signal.aborted, { timeout: 5000, message: 'term ended' });
    const again = await a.candidate.waitForLeadership({ timeout: 10_000 });
    expect(a.history.some(l => l.reason === 'key-overwritten')).toBe(true);
    expect(again.lease).toBe(first.token.key.split('/').pop());
    const keys = await keysOf(etcd(), name);
    expect(keys).toEqual([
      { key: first.token.key, value: 'a', createRevision: again.revision, lease: again.lease },
    ]);
    expect(otherTerm.signal.aborted).toBe(false);
    expect(sessions.stats).toMatchObject({ granted: 1, lost: 0 });
  });

  it('stop deletes the key but leaves the shared lease to its owner', async () => {
    const { sessions } = app();
    const name = uniqueName('stop');
    const a = join(sessions, { election: name, value: 'a' });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const lease = sessions.current()!.leaseHex;
    await a.candidate.stop();
    expect(await keysOf(etcd(), name)).toEqual([]);
    expect(sessions.current()?.leaseHex).toBe(lease);
    expect(await leaseList(etcd())).toContain(lease);
    await sessions.close();
    expect(await leaseList(etcd())).not.toContain(lease);
  });

  it('while no session can be had, every election says etcd-unreachable', async () => {
    const { sessions } = app({ hosts: ['http://127.0.0.1:1'], requestTimeout: 500 });
    const nodes = [1, 2].map(i =>
      join(sessions, { election: uniqueName(`down-${i}`), value: 'a' }),
    );
    await waitFor(() => nodes.every(n => n.candidate.leadership.reason === 'etcd-unreachable'), {
      timeout: 10_000,
      message: 'both disconnected',
    });
    expect(nodes.map(n => n.candidate.leadership.role)).toEqual(['disconnected', 'disconnected']);
    expect(nodes.every(n => !n.candidate.hasSession())).toBe(true);
    expect(sessions.stats.granted).toBe(0);
  });
});
