import { describe, expect, it } from 'vitest';
import {
  Election,
  type LeaderInfo,
  Session,
  ValueTooLargeError,
  resolveSessionSettings,
} from '../../lib/core/index.js';
import { deleteKey, memberMetric, waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, type Tracked, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { client, start } = useCandidates(etcd);
const settings = { requestTimeout: 5000, maxRequestBytes: 1_572_864 };
const lease = resolveSessionSettings({ ttl: 5, margin: 1000, requestTimeout: 5000 });

describe('etcd election recipe', () => {
  it('elects in FIFO order of create revision', async () => {
    const name = uniqueName('fifo');
    const nodes: Tracked[] = [];
    for (const value of ['a', 'b', 'c', 'd']) {
      const node = start({ election: name, value });
      await queued(node);
      nodes.push(node);
    }
    const order: string[] = [];
    for (let i = 0; i < nodes.length; i++) {
      const leader = await waitFor(() => nodes.find(n => n.candidate.isLeader()), {
        timeout: 10_000,
        message: `leader #${i + 1}`,
      });
      order.push(leader.candidate.leadership.value);
      const revisions = (await leader.candidate.participants()).map(p => BigInt(p.revision));
      expect(revisions).toEqual([...revisions].sort((x, y) => (x < y ? -1 : 1)));
      await leader.candidate.stop();
    }
    expect(order).toEqual(['a', 'b', 'c', 'd']);
  });

  it('wakes exactly one waiter per leader change (no herd)', async () => {
    const name = uniqueName('herd');
    const nodes: Tracked[] = [];
    for (let i = 0; i < 6; i++) {
      const node = start({ election: name, value: `n${i}`, observe: false });
      await queued(node);
      nodes.push(node);
    }
    await waitFor(() => nodes[0].candidate.isLeader(), { timeout: 10_000, message: 'n0 leads' });
    const wakeups = () => nodes.reduce((sum, n) => sum + n.candidate.stats.wakeups, 0);
    const events = () => nodes.reduce((sum, n) => sum + n.candidate.stats.waitWatchEvents, 0);
    for (let change = 1; change <= 3; change++) {
      const before = { wakeups: wakeups(), events: events() };
      const leader = nodes.find(n => n.candidate.isLeader())!;
      await leader.candidate.resign();
      await waitFor(() => nodes.find(n => n.candidate.isLeader() && n !== leader), {
        timeout: 10_000,
        message: `leader after change ${change}`,
      });
      // The resigned node re-queued at the back: its new key has a predecessor to watch.
      await queued(leader);
      expect(wakeups() - before.wakeups).toBe(1);
      expect(events() - before.events).toBe(1);
    }
  });

  it('guards proclaim and resign by create revision', async () => {
    const name = uniqueName('guard');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const session = await Session.grant(etcdClient, lease);
    try {
      const ticket = await election.campaign(session.leaseId, 'one');
      expect(await election.proclaim(ticket, 'two')).toBe(true);
      expect((await election.leader())?.value).toBe('two');

      const stale = { ...ticket, revision: (BigInt(ticket.revision) - 1n).toString() };
      expect(await election.proclaim(stale, 'stale')).toBe(false);
      expect(await election.resign(stale)).toBe(false);
      expect((await election.leader())?.value).toBe('two');

      expect(await election.resign(ticket)).toBe(true);
      expect(await election.leader()).toBeUndefined();
      expect(await election.proclaim(ticket, 'three')).toBe(false);
      expect(await election.leader()).toBeUndefined();
    } finally {
      await session.close();
    }
  });

  it('keeps its place when campaigning again on the same lease, and proclaims a new value', async () => {
    const name = uniqueName('recampaign');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const session = await Session.grant(etcdClient, lease);
    try {
      const first = await election.campaign(session.leaseId, 'v1');
      const again = await election.campaign(session.leaseId, 'v2');
      expect(again).toEqual({ ...first, value: 'v2' });
      expect(await election.leader()).toMatchObject({ key: first.key, value: 'v2' });
    } finally {
      await session.close();
    }
  });

  it('fails the campaign, as Go does, when the proclaim of a new value on our old key fails', async () => {
    const name = uniqueName('recampaign-lost');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const session = await Session.grant(etcdClient, lease);
    try {
      const first = await election.campaign(session.leaseId, 'v1');
      // Between the campaign Txn (which finds our key) and its proclaim, the key is replaced
      // from outside: a new create revision. The proclaim, guarded by the old one, must fail.
      const kv = (
        etcdClient as unknown as {
          pool: { hosts: Array<{ getServiceClient(s: string): Record<string, unknown> }> };
        }
      ).pool.hosts[0].getServiceClient('KV') as { txn: (...args: unknown[]) => unknown };
      const txn = kv.txn;
      let calls = 0;
      kv.txn = function (this: unknown, ...args: unknown[]) {
        if (++calls !== 2) return txn.apply(this, args);
        const replaced = etcd()
          .etcdctlOk(['del', first.key])
          .then(() => etcd().etcdctlOk(['put', first.key, 'outside']));
        void replaced.then(() => txn.apply(this, args));
        return { cancel: () => undefined };
      };
      try {
        await expect(election.campaign(session.leaseId, 'v2')).rejects.toThrow(/campaign/);
      } finally {
        kv.txn = txn;
      }
      expect(calls).toBeGreaterThanOrEqual(2);
      // Nothing of ours was written over what the outside wrote.
      expect((await election.leader())?.value).toBe('outside');
    } finally {
      await session.close();
      await deleteKey(etcd(), election.keyOf(session.leaseId));
    }
  });

  it('observes every change: new leader, proclaimed value, same value under a new key, empty', async () => {
    const name = uniqueName('observe');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const seen: Array<LeaderInfo | undefined> = [];
    const controller = new AbortController();
    const observing = election.observe(leader => seen.push(leader), {
      signal: controller.signal,
      backoff: { initial: 50, max: 500 },
    });
    const sessions = [
      await Session.grant(etcdClient, lease),
      await Session.grant(etcdClient, lease),
    ];
    try {
      await waitFor(() => seen.length === 1, { timeout: 5000, message: 'empty election seen' });
      expect(seen[0]).toBeUndefined();

      const a = await election.campaign(sessions[0].leaseId, 'same');
      await waitFor(() => seen.at(-1)?.key === a.key, { timeout: 5000, message: 'a observed' });
      const b = await election.campaign(sessions[1].leaseId, 'same');
      await election.proclaim(a, 'changed');
      await waitFor(() => seen.at(-1)?.value === 'changed', { timeout: 5000, message: 'proclaim' });
      await election.resign(a);
      await waitFor(() => seen.at(-1)?.key === b.key, { timeout: 5000, message: 'b observed' });
      await election.resign(b);
      await waitFor(() => seen.length > 0 && seen.at(-1) === undefined && seen.length >= 6, {
        timeout: 5000,
        message: 'empty again',
      });
      expect(seen.map(l => l && `${l.key}=${l.value}`)).toEqual([
        undefined,
        `${a.key}=same`,
        `${a.key}=changed`,
        undefined,
        `${b.key}=same`,
        undefined,
      ]);
      expect(BigInt(b.revision)).toBeGreaterThan(BigInt(a.revision));
    } finally {
      controller.abort();
      await observing;
      await Promise.all(sessions.map(s => s.close()));
    }
  });

  it('does not lead when its key vanished during the wait (post-wait ownership check)', async () => {
    const name = uniqueName('postwait');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const sessions = [
      await Session.grant(etcdClient, lease),
      await Session.grant(etcdClient, lease),
    ];
    try {
      const head = await election.campaign(sessions[0].leaseId, 'head');
      const waiter = await election.campaign(sessions[1].leaseId, 'waiter');
      const waiting = election.waitForTurn(waiter);
      expect(await deleteKey(etcd(), waiter.key)).toBe(1);
      await election.resign(head);
      await waiting;
      expect(await election.verify(waiter)).toMatchObject({ owned: false, exists: false });
    } finally {
      await Promise.all(sessions.map(s => s.close()));
    }
  });

  it('a candidate whose key vanished while waiting re-queues instead of leading on it', async () => {
    const name = uniqueName('postwait-candidate');
    const head = start({ election: name, value: 'head' });
    await waitFor(() => head.candidate.isLeader(), { timeout: 10_000, message: 'head leads' });
    const waiter = start({ election: name, value: 'waiter' });
    const vanished = await queued(waiter);
    const vanishedRevision = waiter.candidate.leadership.revision!;
    expect(await deleteKey(etcd(), vanished)).toBe(1);
    await head.candidate.stop();
    await waiter.candidate.waitForLeadership({ timeout: 10_000 });
    const terms = waiter.history.filter(l => l.role === 'leader');
    expect(terms.length).toBeGreaterThan(0);
    for (const term of terms)
      expect(BigInt(term.revision!)).toBeGreaterThan(BigInt(vanishedRevision));
  });
});

describe('watches etcd has in sync at once', () => {
  // etcd brings a watch that starts at or before its current revision up to date in a loop
  // that runs every 100 ms, and delivers nothing to it until then ("slow" watchers). A watch
  // that starts after the revision just read is in sync from the start: a deletion right after
  // it was created reaches it at once, not up to 100 ms later.
  const member = () => etcd().members[0];
  const watchers = () => memberMetric(member(), 'etcd_debugging_mvcc_watcher_total');
  const slow = () => memberMetric(member(), 'etcd_debugging_mvcc_slow_watcher_total');

  /** The watcher count once it holds still (watches of earlier tests may still be closing). */
  async function settledWatchers(): Promise<number> {
    let previous = -1;
    return waitFor(
      async () => {
        const n = await watchers();
        const settled = n === previous;
        previous = n;
        return settled && { n };
      },
      { timeout: 5000, interval: 200, message: 'watcher count settled' },
    ).then(({ n }) => n);
  }

  /** Waits until etcd has exactly `count` watchers (the ones of the last round closed). */
  const watching = (count: number, label: string) =>
    waitFor(async () => (await watchers()) === count, {
      timeout: 10_000,
      interval: 5,
      message: `${label}: ${count} watchers`,
    });

  /** Waits for one watcher more than `base`, then reads how many etcd has not synced yet. */
  async function slowOnceWatching(base: number, label: string): Promise<number> {
    await watching(base + 1, label);
    return slow();
  }

  it('a waiter watches its predecessor from the revision after its read', async () => {
    const name = uniqueName('synced-wait');
    const a = start({ election: name, value: 'a', observe: false });
    await a.candidate.waitForLeadership({ timeout: 10_000 });
    const base = await settledWatchers();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      await watching(base, `before b${i}`);
      const b = start({ election: name, value: `b${i}`, observe: false });
      seen.push(await slowOnceWatching(base, `b${i}`));
      await b.candidate.stop();
    }
    expect(seen).toEqual([0, 0, 0, 0, 0]);
  });

  it('an observer of an empty election watches from the revision after its read', async () => {
    const base = await settledWatchers();
    const seen: number[] = [];
    for (let i = 0; i < 5; i++) {
      await watching(base, `before observer ${i}`);
      const election = new Election(client(), uniqueName('synced-observe'), settings);
      const controller = new AbortController();
      const observing = election.observe(() => undefined, {
        signal: controller.signal,
        backoff: { initial: 100, max: 1000 },
      });
      try {
        seen.push(await slowOnceWatching(base, `observer ${i}`));
      } finally {
        controller.abort();
        await observing;
      }
    }
    expect(seen).toEqual([0, 0, 0, 0, 0]);
  });
});

describe('values', () => {
  it('accepts any UTF-8 value byte for byte', async () => {
    const name = uniqueName('utf8');
    const value = 'nœud — 節点 🚀 \u0000 "quoted" \n newline';
    const node = start({ election: name, value });
    await node.candidate.waitForLeadership({ timeout: 10_000 });
    const [leader] = await node.candidate.participants();
    expect(leader.value).toBe(value);
  });

  it('rejects a value over the request limit before writing anything', async () => {
    const name = uniqueName('too-large');
    const etcdClient = client();
    const election = new Election(etcdClient, name, settings);
    const session = await Session.grant(etcdClient, lease);
    try {
      const huge = 'x'.repeat(2 * 1024 * 1024);
      await expect(election.campaign(session.leaseId, huge)).rejects.toThrow(ValueTooLargeError);
      await expect(election.campaign(session.leaseId, huge)).rejects.toThrow(/request limit/);
      expect(await election.participants()).toEqual([]);
      // A limit above etcd's own: etcd refuses, and the error says so.
      const lenient = new Election(etcdClient, name, {
        ...settings,
        maxRequestBytes: 8 * 1024 * 1024,
      });
      await expect(lenient.campaign(session.leaseId, huge)).rejects.toThrow(ValueTooLargeError);
      expect(await election.participants()).toEqual([]);
    } finally {
      await session.close();
    }
  });
});
