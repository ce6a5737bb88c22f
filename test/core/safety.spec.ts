/**
 * The engine's safety and liveness under pauses, suspends, resigns at awkward moments and
 * re-entrant subscribers, against a real etcd. Each test pins one defect that was fixed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import {
  Candidate,
  type CandidateConfig,
  type Clock,
  type Leadership,
  monotonicNow,
  resolveEngineOptions,
  systemClock,
} from '../../lib/core/index.js';
import { TcpProxy } from '../faults/proxy.js';
import { deadline, delay, leaseIds, leaseRevoke, memberMetric, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, requeued, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { client, start } = useCandidates(etcd);

const proxies: TcpProxy[] = [];
afterEach(async () => {
  await Promise.allSettled(proxies.splice(0).map(p => p.close()));
});
async function proxy(): Promise<TcpProxy> {
  const p = await TcpProxy.start(etcd().endpoints[0]);
  proxies.push(p);
  return p;
}

/** Blocks the event loop, as a long GC pause or a CPU-bound callback does. */
function busy(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // spin
  }
}

describe('a pause past the lease deadline', () => {
  it('shows the term as ended to the first callback that runs after it', async () => {
    const node = start({ election: uniqueName('pause'), value: 'a', ttl: 2 });
    await node.candidate.waitForLeadership({ timeout: 10_000 });
    const { signal } = node.candidate.currentTerm()!;
    let resumedAt = 0;
    let abortedAt = 0;
    signal.addEventListener('abort', () => (abortedAt = monotonicNow()));
    const firstAfter: Array<{ aborted: boolean; threw: boolean; leader: boolean }> = [];
    // The README's pattern: leader work on a short interval, guarded by the term's signal. Its
    // timer is due long before the engine's deadline timer, so it runs first after the pause.
    const work = setInterval(() => {
      if (!resumedAt || firstAfter.length) return;
      let threw = false;
      const aborted = signal.aborted;
      try {
        signal.throwIfAborted();
      } catch {
        threw = true;
      }
      firstAfter.push({ aborted, threw, leader: node.candidate.isLeader() });
    }, 5);
    try {
      await new Promise<void>(resolve =>
        setTimeout(() => {
          busy(4000);
          resumedAt = monotonicNow();
          resolve();
        }, 0),
      );
      await waitFor(() => firstAfter.length > 0, { timeout: 5000, message: 'interval ran' });
    } finally {
      clearInterval(work);
    }
    expect(firstAfter[0]).toEqual({ aborted: true, threw: true, leader: false });
    console.info(`resume → abort: ${(abortedAt - resumedAt).toFixed(3)} ms`);
    expect(abortedAt).toBeGreaterThanOrEqual(resumedAt);
    // If it leads again by now, that is a new term, with a signal of its own.
    expect(node.candidate.currentTerm()?.signal).not.toBe(signal);
  });
});

/** Real clocks until `suspend()`; then the monotonic one stands still and the wall one jumps. */
class SuspendableClock implements Clock {
  private frozenAt?: number;
  private jump = 0;
  monotonic(): number {
    return this.frozenAt ?? systemClock.monotonic();
  }
  wall(): number {
    return systemClock.wall() + this.jump;
  }
  suspend(ms: number): void {
    this.frozenAt = this.monotonic();
    this.jump += ms;
  }
}

describe('a suspend past the lease deadline', () => {
  it('ends the term at the next read: the wall clock counts what the monotonic one missed', async () => {
    const clock = new SuspendableClock();
    const node = start({ election: uniqueName('suspend'), value: 'a', ttl: 3, clock });
    await node.candidate.waitForLeadership({ timeout: 10_000 });
    const { signal } = node.candidate.currentTerm()!;
    clock.suspend(5000);
    expect(node.candidate.isLeader()).toBe(false);
    expect(signal.aborted).toBe(true);
    expect(node.candidate.leadership).toMatchObject({
      role: 'follower',
      reason: 'session-expired',
    });
  });
});

describe('resign', () => {
  it('settles when called during the pause after an error, and really leaves the queue', async () => {
    const name = uniqueName('resign-backoff');
    const a = start({ election: name, value: 'a', ttl: 6 });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const p = await proxy();
    const b = start(
      { election: name, value: 'b', ttl: 6, backoff: { initial: 4000, max: 4000 } },
      client([p.url]),
    );
    await queued(b);
    const before = b.candidate.leadership.revision!;
    const errors: unknown[] = [];
    b.candidate.errors$.subscribe(error => errors.push(error));
    p.drop();
    await waitFor(() => errors.length > 0, { timeout: 5000, message: 'b sees its wait break' });
    p.heal();
    // b now pauses 2–4 s before it reads again; resign() must not wait for that, nor be lost.
    await deadline(b.candidate.resign(), 6000, 'resign() settles');
    await requeued(b, before);
    const queue = await a.candidate.participants();
    expect(queue.map(q => q.value)).toEqual(['a', 'b']);
    expect(BigInt(queue[1].revision)).toBeGreaterThan(BigInt(before));
  });

  it('settles when stop() follows at once', async () => {
    const name = uniqueName('resign-stop');
    const a = start({ election: name, value: 'a' });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const b = start({ election: name, value: 'b' });
    await queued(b);
    const resigned = b.candidate.resign();
    const stopped = b.candidate.stop();
    await deadline(Promise.all([resigned, stopped]), 5000, 'resign() and stop() settle');
    expect((await a.candidate.participants()).map(q => q.value)).toEqual(['a']);
    await expect(b.candidate.resign()).rejects.toThrow(/stopped/);
  });

  it('settles when the session is lost while it is pending', async () => {
    const name = uniqueName('resign-loss');
    const a = start({ election: name, value: 'a', ttl: 6 });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const p = await proxy();
    const b = start(
      { election: name, value: 'b', ttl: 2, backoff: { initial: 4000, max: 4000 } },
      client([p.url]),
    );
    await queued(b);
    const lease = b.candidate.leadership.lease!;
    const errors: unknown[] = [];
    b.candidate.errors$.subscribe(error => errors.push(error));
    p.drop();
    await waitFor(() => errors.length > 0, { timeout: 5000, message: 'b sees its wait break' });
    p.heal();
    await waitFor(() => b.candidate.hasSession(), { timeout: 5000, message: 'b keeps its lease' });
    // b pauses after the error; its resign's delete is held on the stalled link, and the lease
    // goes meanwhile: b loses its session with the resign pending.
    p.stall();
    const resigned = b.candidate.resign();
    expect(await leaseRevoke(etcd(), lease)).toBe(true);
    await waitFor(() => !b.candidate.hasSession(), { timeout: 5000, message: 'session lost' });
    p.heal();
    await deadline(resigned, 10_000, 'resign() settles');
    const queue = await a.candidate.participants();
    expect(queue.find(q => q.lease === lease)).toBeUndefined();
  });
});

describe('backoff', () => {
  it('starts over after every successful read, so a follower is not slow after old errors', async () => {
    const name = uniqueName('backoff-reset');
    const a = start({ election: name, value: 'a', ttl: 6 });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const p = await proxy();
    const b = start(
      {
        election: name,
        value: 'b',
        ttl: 6,
        observe: false,
        backoff: { initial: 2000, max: 20_000 },
      },
      client([p.url]),
    );
    await queued(b);
    const member = etcd().members[0];
    const watchers = () => memberMetric(member, 'etcd_debugging_mvcc_watcher_total');
    // The count once it holds still: a watch that just saw what it waited for (a's, as it
    // campaigned) is closed a little later, not at once.
    let previous = -1;
    const baseline = await waitFor(
      async () => {
        const n = await watchers();
        const settled = n === previous;
        previous = n;
        return settled && n;
      },
      { timeout: 5000, interval: 200, message: 'watcher count settled' },
    );
    const errors: unknown[] = [];
    b.candidate.errors$.subscribe(error => errors.push(error));
    // Four interruptions, each followed by a successful read and a new wait.
    for (let i = 1; i <= 4; i++) {
      p.drop();
      await waitFor(() => errors.length >= i, { timeout: 5000, message: `interruption ${i}` });
      p.heal();
      await waitFor(async () => (await watchers()) >= baseline, {
        timeout: 15_000,
        message: `b waits again after interruption ${i}`,
      });
    }
    p.drop();
    await waitFor(() => errors.length >= 5, { timeout: 5000, message: 'interruption 5' });
    p.heal();
    const healedAt = monotonicNow();
    await a.candidate.resign();
    // Reset: the pause is 1–2 s (initial backoff). Without the reset it would be 10–20 s.
    await b.candidate.waitForLeadership({ timeout: 8000 });
    console.info(`heal → b leads: ${Math.round(monotonicNow() - healedAt)} ms`);
  });
});

describe('leaks', () => {
  it('1000 resigns leave no watch stream, lease or heap behind', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const member = etcd().members[0];
    const streams = () => memberMetric(member, 'etcd_debugging_mvcc_watch_stream_total');
    const leasesBefore = await leaseIds(etcd());
    const streamsBefore = await streams();
    const node = start({ election: uniqueName('storm'), value: 'solo', ttl: 5, observe: false });
    await node.candidate.waitForLeadership({ timeout: 10_000 });
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1000; i++) {
      await node.candidate.resign();
      await node.candidate.waitForLeadership({ timeout: 5000 });
    }
    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    const during = await streams();
    await node.candidate.stop();
    const after = await waitFor(
      async () => {
        const n = await streams();
        return n <= streamsBefore && n;
      },
      { timeout: 10_000, message: 'watch streams back at baseline' },
    ).catch(() => streams());
    const leasesAfter = await leaseIds(etcd());
    console.info(
      `after 1000 resigns: watch streams ${streamsBefore} → ${during} (leading) → ${after} ` +
        `(stopped); leases ${leasesBefore.length} → ${leasesAfter.length}; ` +
        `heap +${(heapGrowth / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(during).toBeLessThanOrEqual(streamsBefore + 1);
    expect(after).toBeLessThanOrEqual(streamsBefore);
    expect(leasesAfter.filter(id => !leasesBefore.includes(id))).toEqual([]);
    expect(heapGrowth).toBeLessThan(4 * 2 ** 20);
  });

  it('a lease granted after stop() gave up on it is revoked', async () => {
    const before = await leaseIds(etcd());
    const etcdClient = client();
    for (let i = 0; i < 20; i++) {
      const candidate = new Candidate(etcdClient, {
        election: uniqueName('grant'),
        value: 'x',
        settings: resolveEngineOptions({}),
      });
      candidate.start();
      await candidate.stop();
    }
    const added = async () => (await leaseIds(etcd())).filter(id => !before.includes(id));
    const left = await waitFor(async () => (await added()).length === 0 && [], {
      timeout: 10_000,
      message: 'no lease left of the 20 candidates',
    }).catch(() => added());
    expect(left).toEqual([]);
  });
});

describe('timers', () => {
  it('a TTL beyond what a timer holds does not make the keepalive spin', async () => {
    const member = etcd().members[0];
    const keepalives = () =>
      memberMetric(member, 'grpc_server_msg_received_total', { grpc_method: 'LeaseKeepAlive' });
    const node = start({ election: uniqueName('huge-ttl'), value: 'a', ttl: 7_000_000 });
    await node.candidate.waitForLeadership({ timeout: 10_000 });
    const before = await keepalives();
    await delay(2000); // an observation window
    const sent = (await keepalives()) - before;
    expect(node.candidate.isLeader()).toBe(true);
    expect(sent).toBeLessThanOrEqual(2);
  });

  it('ttl 1 works with the default margin', async () => {
    const node = start({ election: uniqueName('ttl-1'), value: 'a', ttl: 1 });
    const leadership = await node.candidate.waitForLeadership({ timeout: 10_000 });
    expect(leadership.role).toBe('leader');
  });
});

describe('what we report is what etcd holds', () => {
  it('a proclaim made while the campaign is in flight lands in etcd before this node leads', async () => {
    const p = await proxy();
    const options: CandidateConfig = {
      election: uniqueName('proclaim'),
      value: 'v1',
      settings: resolveEngineOptions({ ttl: 3 }),
    };
    const candidate = new Candidate(client([p.url]), options);
    let proclaimed: Promise<void> | undefined;
    const leaders: Array<string | undefined> = [];
    candidate.leader$.subscribe(l => leaders.push(l?.value));
    candidate.leadership$.subscribe(l => {
      if (l.reason !== 'campaigning' || proclaimed) return;
      // The campaign Txn (with v1) is about to go out: hold it on the wire, proclaim v2 meanwhile.
      p.stall();
      setImmediate(() => {
        proclaimed = candidate.proclaim('v2');
        p.heal();
      });
    });
    try {
      candidate.start();
      const leadership = await candidate.waitForLeadership({ timeout: 10_000 });
      await proclaimed;
      expect((await candidate.leader())?.value).toBe('v2');
      expect(leadership.leader?.value).toBe('v2');
      await waitFor(() => leaders.at(-1) === 'v2', { timeout: 5000, message: 'observed v2' });
    } finally {
      await candidate.stop();
    }
  });
});

describe('subscribers', () => {
  it('see every change in order when one of them resigns from inside its callback', async () => {
    const candidate = new Candidate(client(), {
      election: uniqueName('reentrant'),
      value: 'a',
      settings: resolveEngineOptions({}),
    });
    let resigned = false;
    candidate.leadership$.subscribe(l => {
      if (l.role === 'leader' && !resigned) {
        resigned = true;
        void candidate.resign();
      }
    });
    const seen: Array<Pick<Leadership, 'role' | 'reason'>> = [];
    candidate.leadership$.subscribe(({ role, reason }) => seen.push({ role, reason }));
    try {
      candidate.start();
      await waitFor(() => seen.some(s => s.reason === 'resigned'), {
        timeout: 10_000,
        message: 'resigned',
      });
      const lead = seen.findIndex(s => s.role === 'leader');
      const resign = seen.findIndex(s => s.reason === 'resigned');
      expect(lead).toBeGreaterThanOrEqual(0);
      expect(resign).toBeGreaterThan(lead);
    } finally {
      await candidate.stop();
    }
  });
});
