import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  deleteKey,
  freePorts,
  GoCandidate,
  GoObserver,
  goLeader,
  killAll,
  leaseRevoke,
  spawnTracked,
  startEtcd,
  threadsStopped,
  TimeoutError,
  waitFor,
  type EtcdCluster,
} from './index.js';
import { useEtcd } from './use-etcd.js';

/** True if a process with this pid exists (`kill(pid, 0)` does not throw). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose command line mentions `needle` (Linux /proc scan). */
function pidsMentioning(needle: string): number[] {
  if (!existsSync('/proc')) return [];
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry));
    } catch {
      // raced with exit
    }
  }
  return pids;
}

/** Keys currently under `<election>/`, oldest first. */
async function electionKeys(cluster: EtcdCluster, election: string): Promise<string[]> {
  const out = await cluster.etcdctlOk(['get', '--prefix', `${election}/`, '--keys-only']);
  return out.split('\n').filter(Boolean);
}

/** Go peers started by a test; killed after each test even if it failed. */
const peers: Array<GoCandidate | GoObserver> = [];
function track<T extends GoCandidate | GoObserver>(peer: T): T {
  peers.push(peer);
  return peer;
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map(p => (p instanceof GoObserver ? p.close() : p.kill())));
});
afterAll(killAll);

describe('ports, waits and process tracking', () => {
  it('freePorts returns distinct loopback ports', async () => {
    const ports = await freePorts(6);
    expect(new Set(ports).size).toBe(6);
    for (const p of ports) expect(p).toBeGreaterThan(0);
  });

  it('waitFor rejects with a TimeoutError naming the condition', async () => {
    const err = await waitFor(() => false, { timeout: 100, message: 'the impossible' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/the impossible.*100 ms/);
  });

  it('killAll kills running and paused tracked children', async () => {
    const running = spawnTracked('sleep', ['30']);
    const paused = spawnTracked('sleep', ['30']);
    await paused.pause();
    expect(paused.paused).toBe(true);
    expect(threadsStopped(paused.pid)).toBe(true);
    await killAll();
    expect((await running.exited).signal).toBe('SIGKILL');
    expect((await paused.exited).signal).toBe('SIGKILL');
    expect(alive(running.pid)).toBe(false);
    expect(alive(paused.pid)).toBe(false);
  });
});

describe('single-member etcd', () => {
  const etcd = useEtcd({ name: 'single' });

  it('starts and answers etcdctl put/get; exposes metrics', async () => {
    const cluster = etcd();
    expect(cluster.members).toHaveLength(1);
    expect(cluster.endpoints).toEqual([cluster.members[0].clientUrl]);
    expect(cluster.endpoints[0]).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    await cluster.etcdctlOk(['put', 'greeting', 'hello']);
    expect(await cluster.etcdctlOk(['get', 'greeting', '--print-value-only'])).toBe('hello');
    const metrics = await cluster.members[0].metrics();
    expect(metrics).toMatch(/^etcd_server_has_leader 1$/m);
  });

  it('keeps data across stop (SIGTERM) and kill (SIGKILL) restarts', async () => {
    const cluster = etcd();
    const member = cluster.members[0];
    await cluster.etcdctlOk(['put', 'durable', 'v1']);

    const firstPid = member.pid!;
    const stopped = await member.stop();
    expect(stopped).toMatchObject({ code: null, signal: 'SIGTERM' }); // graceful, no SIGKILL
    expect(member.running).toBe(false);
    expect(alive(firstPid)).toBe(false);
    await member.start();
    expect(member.pid).not.toBe(firstPid);
    expect(await cluster.etcdctlOk(['get', 'durable', '--print-value-only'])).toBe('v1');

    await cluster.etcdctlOk(['put', 'durable', 'v2']);
    expect((await member.kill())?.signal).toBe('SIGKILL');
    await member.start();
    expect(await cluster.etcdctlOk(['get', 'durable', '--print-value-only'])).toBe('v2');
  });

  it('pause freezes the member and resume brings it back', async () => {
    const member = etcd().members[0];
    await member.pause();
    try {
      expect(member.paused).toBe(true);
      expect(await member.isHealthy()).toBe(false); // /health probe times out after 1 s
    } finally {
      await member.resume();
    }
    expect(member.paused).toBe(false);
    await member.waitHealthy(10_000);
    expect(await etcd().etcdctlOk(['get', 'durable', '--print-value-only'])).toBe('v2');
  });

  it('Go candidates: second waits until the first resigns; observer and goLeader agree', async () => {
    const cluster = etcd();
    const election = 'harness-elect';
    const a = track(GoCandidate.start(cluster, election, 'valueA'));
    const aElectedAt = await a.waitElected(10_000);
    expect(a.isElected).toBe(true);
    expect(a.key).toMatch(new RegExp(`^${election}/[0-9a-f]+$`));
    expect(a.electedValue).toBe('valueA');

    const observer = track(GoObserver.start(cluster, election));
    await observer.waitForValue('valueA', 10_000);

    const b = track(GoCandidate.start(cluster, election, 'valueB'));
    // b's campaign key exists once it is queued behind a
    await waitFor(async () => (await electionKeys(cluster, election)).length === 2, {
      timeout: 10_000,
      message: 'second candidate queued',
    });
    expect(b.isElected).toBe(false);
    expect(await goLeader(cluster, election)).toMatchObject({ key: a.key, value: 'valueA' });

    const resignedAt = await a.resign();
    expect((await a.exited).code).toBe(0);
    const bElectedAt = await b.waitElected(10_000);
    expect(resignedAt).toBeGreaterThan(aElectedAt);
    expect(bElectedAt).toBeGreaterThan(resignedAt);
    expect(b.key).not.toBe(a.key);

    const seenB = await observer.waitForValue('valueB', 10_000);
    expect(seenB.key).toBe(b.key);
    expect(seenB.at).toBeGreaterThan(resignedAt);
    expect(observer.leaders.map(o => [o.key, o.value])).toEqual([
      [a.key, 'valueA'],
      [b.key, 'valueB'],
    ]);

    const leader = await goLeader(cluster, election);
    expect(leader).toMatchObject({ key: b.key, value: 'valueB', lease: b.leaseId });

    // SIGKILL leaves the key behind until the lease is revoked
    await b.kill();
    expect((await goLeader(cluster, election))?.key).toBe(b.key);
    expect(await leaseRevoke(cluster, b.leaseId!)).toBe(true);
    expect(await leaseRevoke(cluster, b.leaseId!)).toBe(false);
    expect(await goLeader(cluster, election)).toBeUndefined();
  });

  it('a waiting Go candidate interrupted before election exits 1 and leaves no key', async () => {
    const cluster = etcd();
    const election = 'harness-abandon';
    const a = track(GoCandidate.start(cluster, election, 'first'));
    await a.waitElected(10_000);
    const b = track(GoCandidate.start(cluster, election, 'second'));
    await waitFor(async () => (await electionKeys(cluster, election)).length === 2, {
      timeout: 10_000,
      message: 'second candidate queued',
    });
    await b.resign();
    expect((await b.exited).code).toBe(1);
    await expect(b.elected).rejects.toThrow(/exited before being elected/);
    expect(await electionKeys(cluster, election)).toEqual([a.key]);
    // deleting the leader key externally is not noticed by Go's campaign
    expect(await deleteKey(cluster, a.key!)).toBe(1);
    expect(await goLeader(cluster, election)).toBeUndefined();
    expect(a.running).toBe(true);
    await a.resign({ signal: 'SIGTERM' });
    expect((await a.exited).code).toBe(0);
  });
});

describe('close()', () => {
  it('kills every member (also paused ones), removes data dirs and is idempotent', async () => {
    const cluster = await startEtcd({ name: 'closing' });
    const [member] = cluster.members;
    const pid = member.pid!;
    try {
      expect(alive(pid)).toBe(true);
      expect(pidsMentioning(member.dataDir)).toEqual([pid]);
      await member.pause();
    } finally {
      await cluster.close();
    }
    expect(() => process.kill(pid, 0)).toThrow();
    expect(pidsMentioning(member.dataDir)).toEqual([]);
    expect(existsSync(member.dataDir)).toBe(false);
    await cluster.close();
    expect(cluster.closed).toBe(true);
  });
});

describe('three-member etcd', () => {
  let cluster: EtcdCluster;
  beforeAll(async () => {
    cluster = await startEtcd({ members: 3, name: 'trio' });
  });
  afterAll(async () => {
    await cluster?.close();
  });

  it('elects a raft leader, survives its death, and the killed member rejoins', async () => {
    expect(cluster.endpoints).toHaveLength(3);
    const election = 'harness-trio';
    const candidate = track(GoCandidate.start(cluster, election, 'survivor'));
    await candidate.waitElected(10_000);

    const leader = await cluster.raftLeader();
    expect(cluster.members).toContain(leader);
    const statuses = await cluster.memberStatuses();
    expect(statuses).toHaveLength(3);
    expect(new Set(statuses.map(s => s.leaderId))).toEqual(new Set([leader.memberId]));

    await leader.kill();
    expect(leader.running).toBe(false);
    const newLeader = await cluster.waitForRaftLeader({ exclude: leader, timeout: 10_000 });
    expect(newLeader).not.toBe(leader);
    await cluster.etcdctlOk(['put', 'after-failover', 'yes'], { timeout: 10_000 });
    expect(await cluster.etcdctlOk(['get', 'after-failover', '--print-value-only'])).toBe('yes');
    // the Go campaign (lease) survives the raft leader change
    expect((await goLeader(cluster, election))?.key).toBe(candidate.key);

    await leader.start();
    expect(leader.running).toBe(true);
    const local = await waitFor(
      async () => {
        const out = await cluster.etcdctlOk(
          ['get', 'after-failover', '--print-value-only', '--consistency=s'],
          { endpoints: [leader.clientUrl] },
        );
        return out === 'yes' ? out : undefined;
      },
      { timeout: 10_000, message: 'restarted member caught up' },
    );
    expect(local).toBe('yes');
    expect(await cluster.memberStatuses()).toHaveLength(3);
    await candidate.resign();
  });

  it('a follower can be stopped gracefully and restarted while writes continue', async () => {
    const leader = await cluster.raftLeader();
    const follower = cluster.members.find(m => m !== leader)!;
    await follower.stop();
    expect(follower.running).toBe(false);
    await cluster.etcdctlOk(['put', 'while-down', '1']);
    await follower.start();
    await waitFor(
      async () =>
        (await cluster.etcdctlOk(['get', 'while-down', '--print-value-only', '--consistency=s'], {
          endpoints: [follower.clientUrl],
        })) === '1',
      { timeout: 10_000, message: 'stopped follower caught up' },
    );
    expect((await cluster.raftLeader()).running).toBe(true);
  });
});
