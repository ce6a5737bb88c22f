import type { Observable, Subscription } from 'rxjs';
import { publishRebalanced } from './diagnostics/index.js';
import type { LeaderInfo, Participant } from './election.js';
import { ElectionOptionsError } from './errors/index.js';
import type { Leadership } from './leadership.js';
import { sleep } from './rpc.js';

/**
 * What the balancer needs of one election: a `Candidate`, an `ElectionService`, or the election
 * of an `@OnOneInstance` job all fit.
 */
export interface BalancedElection {
  readonly leadership$: Observable<Leadership>;
  readonly leader$: Observable<LeaderInfo | undefined>;
  isLeader(): boolean;
  participants(): Promise<Participant[]>;
  resign(options?: { reason?: 'rebalanced' }): Promise<void>;
  /**
   * Calls `onChange` whenever the queue may have changed (a key joined, left or was rewritten),
   * until `signal` aborts. With it the balancer reads the queues only when they change; without,
   * it reads them every interval.
   */
  watchQueue?(onChange: () => void, signal: AbortSignal): Promise<void>;
}

/** Pacing of a {@link Balancer}. */
export interface BalancerOptions {
  /**
   * Milliseconds between two looks at the queues, stretched by a random 0–100 % so that replicas
   * do not read (and decide) in step. Once nothing needs doing, the balancer reads again only
   * when a queue changes (elections that can watch theirs), else every interval.
   * @default 1000
   */
  interval?: number;
  /**
   * Milliseconds to let the others see a step (a resign, step-backs) before the next decision,
   * stretched by a random 0–100 % as well.
   * @default 150
   */
  settle?: number;
  /** Milliseconds to wait for the successor of a resigned election to be seen. @default 5000 */
  handoverTimeout?: number;
  /** Called after each step, for logging. */
  onStep?(step: RebalanceStep): void;
  /** Called with the first error of each streak the balancer recovers from (a queue it could not read). */
  onError?(error: unknown): void;
}

/** @internal One balanced election as the planner sees it. */
export interface QueueView {
  /** The election name. */
  election: string;
  /** The queue, leader first: `null` for this replica, the candidate's value for any other. */
  queue: ReadonlyArray<string | null>;
  /** False while this replica's key heads the queue but it has not declared leadership yet. */
  settled: boolean;
}

/** What the planner found, and what this replica should do now. */
export interface RebalancePlan {
  /** E: the balanced elections this replica takes part in. */
  elections: number;
  /** R: the replicas seen in their queues, this one included, counted by value. */
  replicas: number;
  /** ceil(E / R). */
  fairShare: number;
  /** How many of them this replica leads. */
  leading: number;
  /** The election to resign now (one at a time), if this replica leads more than its share. */
  resign?: { election: string; successor: string };
  /** Elections in which this replica steps back in the queue (it is no leader there). */
  stepBack: string[];
  /**
   * True while some leader is over its share with a replica under its share queued behind but
   * not next in line: a step-back is due somewhere, so look again soon.
   */
  pending: boolean;
}

/**
 * @internal What one replica's planner remembers between steps: how many more terms it may resign while
 * the membership (the replicas seen, and E) stays as it is. Replicas that balance different sets
 * of elections see different loads and could hand terms round for ever; the budget bounds the
 * moves of a stable membership to what the spread needed when it last changed.
 */
export interface RebalanceBudget {
  /** The membership the budget was set for. */
  membership?: string;
  /** Resigns left. */
  left: number;
  /** Step-backs left (each election's worth, plus the slack). */
  stepBacks?: number;
}

/** Resigns allowed beyond this replica's excess when the membership changes (for overshoots). */
const BUDGET_SLACK = 2;

/** One thing the balancer did. */
export interface RebalanceStep extends Omit<RebalancePlan, 'resign' | 'stepBack' | 'pending'> {
  /** `resign`: this replica gave up leading `election`; `step-back`: its place behind the leader. */
  kind: 'resign' | 'step-back';
  election: string;
  /** For a resign: the value of the candidate next in line, which takes over. */
  successor?: string;
}

/**
 * @internal Decides one step of spreading leadership, from this replica's view of the queues. Pure.
 *
 * Each replica's share is ceil(E / R) over the elections it is seen in: for this replica, all
 * of its balanced elections; for another, those of ours it is queued in, over the replicas
 * queued there (the same figure when every replica balances the same elections).
 *
 * - Over its share, a replica resigns one election whose next in line leads less than its own
 *   share, the least loaded first; if there is none it waits (a step-back brings one forward).
 * - Next in line behind a leader over its share, a replica that would go over its own share by
 *   taking over steps back (gives up its place, never a term) when a replica under its share
 *   is queued behind, so that one comes forward; as many times as that leader still needs.
 * - An election with nobody else queued behind this replica is never resigned.
 *
 * Every resign moves a term from a replica over its share to one under it. When every replica
 * balances the same elections the spread only evens out; otherwise views differ, and `budget`
 * (the caller's, kept across steps) bounds the resigns of a stable membership.
 */
export function planRebalance(
  views: readonly QueueView[],
  budget: RebalanceBudget = { left: Infinity, stepBacks: Infinity },
): RebalancePlan {
  const values = new Set<string>();
  const leads = new Map<string | null, number>();
  const seenIn = new Map<string, QueueView[]>();
  for (const view of views) {
    const { queue } = view;
    for (const id of new Set(queue)) {
      if (id === null) continue;
      values.add(id);
      seenIn.set(id, [...(seenIn.get(id) ?? []), view]);
    }
    if (queue.length > 0) leads.set(queue[0], (leads.get(queue[0]) ?? 0) + 1);
  }
  const elections = views.length;
  const replicas = values.size + 1;
  const fairShare = Math.ceil(elections / replicas);
  const leading = leads.get(null) ?? 0;
  const plan: RebalancePlan = {
    elections,
    replicas,
    fairShare,
    leading,
    stepBack: [],
    pending: false,
  };
  if (elections === 0) return plan;
  const membership = `${elections}\n${[...values].sort().join('\n')}`;
  if (budget.membership !== membership) {
    budget.membership = membership;
    budget.left = Math.max(0, leading - fairShare) + BUDGET_SLACK;
    budget.stepBacks = elections + BUDGET_SLACK;
  }

  const shares = new Map<string | null, number>([[null, fairShare]]);
  const share = (id: string | null): number => {
    let known = shares.get(id);
    if (known === undefined) {
      const where = seenIn.get(id as string) ?? [];
      const there = new Set(where.flatMap(v => v.queue));
      there.add(null);
      known = Math.ceil(where.length / there.size);
      shares.set(id, known);
    }
    return known;
  };
  const load = (id: string | null) => leads.get(id) ?? 0;
  const under = (id: string | null) => load(id) < share(id);

  plan.pending = views.some(
    ({ queue }) =>
      queue.length > 2 &&
      load(queue[0]) > share(queue[0]) &&
      !under(queue[1]) &&
      queue.slice(2).some(under),
  );

  if (leading > fairShare) {
    const best = views
      .filter(v => v.settled && v.queue[0] === null && v.queue.length > 1 && under(v.queue[1]))
      .map(v => ({ election: v.election, successor: v.queue[1] as string }))
      .sort((a, b) => load(a.successor) - load(b.successor) || cmp(a.election, b.election))[0];
    if (best && budget.left > 0) {
      budget.left--;
      plan.resign = best;
    }
  }

  if (leading >= fairShare) {
    // Per leader over its share: how many more of its elections need a successor under share.
    const need = new Map<string, number>();
    for (const v of views) {
      const head = v.queue[0];
      if (typeof head !== 'string' || load(head) <= share(head)) continue;
      if (!need.has(head)) need.set(head, load(head) - share(head));
      const next = v.queue[1];
      if (typeof next === 'string' && under(next)) need.set(head, need.get(head)! - 1);
    }
    const sorted = [...views].sort((a, b) => cmp(a.election, b.election));
    for (const v of sorted) {
      const head = v.queue[0];
      if (typeof head !== 'string' || v.queue[1] !== null) continue;
      // Only for one that leads fewer than this replica, as this replica sees it.
      if (!v.queue.slice(2).some(id => under(id) && load(id) < leading)) continue;
      const left = need.get(head) ?? 0;
      if (left <= 0 || !(budget.stepBacks! > 0)) continue;
      need.set(head, left - 1);
      budget.stepBacks!--;
      plan.stepBack.push(v.election);
    }
  }
  return plan;
}

interface Member {
  election: BalancedElection;
  latest?: Leadership;
  subscription?: Subscription;
  /** Stops the watch of its queue. */
  watch?: AbortController;
}

/**
 * Spreads the leadership of several elections over the replicas that campaign in them: each
 * replica runs one balancer over its balanced elections, and gives up, one at a time, the terms
 * it holds beyond its fair share (see {@link planRebalance}). It acts only through each
 * election's public operations, so the safety of every handover is the election's own: the old
 * leader steps down before its key is deleted.
 */
export class Balancer {
  private readonly members = new Map<BalancedElection, Member>();
  private readonly interval: number;
  private readonly settle: number;
  private readonly handoverTimeout: number;
  private value?: string;
  private readonly budget: RebalanceBudget = { left: 0 };
  private controller?: AbortController;
  private running?: Promise<void>;
  /** Something may have changed since the last look (a queue, this replica's standing). */
  private dirty = true;
  private poke?: () => void;

  constructor(private readonly options: BalancerOptions = {}) {
    this.interval = positive('interval', options.interval ?? 1000);
    this.settle = positive('settle', options.settle ?? 150);
    this.handoverTimeout = positive('handoverTimeout', options.handoverTimeout ?? 5000);
  }

  /**
   * Balances `election` from now on, until it stops or {@link remove} is called. Every election
   * of one balancer must campaign with the same value (the replica's name: other replicas count
   * replicas by value); throws {@link ElectionOptionsError} otherwise.
   */
  add(election: BalancedElection): void {
    if (this.members.has(election)) return;
    const member: Member = { election };
    member.subscription = election.leadership$.subscribe({
      next: leadership => {
        member.latest = leadership;
        this.wake();
      },
      complete: () => this.remove(election),
    });
    const value = member.latest?.value;
    if (value !== undefined && this.value !== undefined && value !== this.value) {
      member.subscription.unsubscribe();
      throw new ElectionOptionsError(
        'value',
        value,
        `${JSON.stringify(this.value)} in election "${member.latest?.election}", as in the other ` +
          `balanced elections of this replica: replicas are counted by value, so the balanced ` +
          `elections of one replica must share one`,
      );
    }
    this.value ??= value;
    if (member.subscription.closed) return;
    this.members.set(election, member);
    if (this.controller) this.watch(member);
    this.wake();
  }

  /** Stops balancing `election` (it keeps campaigning). */
  remove(election: BalancedElection): void {
    const member = this.members.get(election);
    member?.subscription?.unsubscribe();
    member?.watch?.abort();
    this.members.delete(election);
    this.wake();
  }

  /** Starts the loop: a first look after one interval, so that replicas starting together meet. */
  start(): void {
    if (this.running) return;
    const controller = new AbortController();
    this.controller = controller;
    for (const member of this.members.values()) this.watch(member);
    this.running = this.run(controller.signal);
  }

  /** Stops the loop (an election being resigned finishes its resign). Idempotent. */
  async stop(): Promise<void> {
    this.controller?.abort();
    await this.running;
    for (const member of this.members.values()) {
      member.subscription?.unsubscribe();
      member.watch?.abort();
    }
    this.members.clear();
  }

  /** True while nothing needs doing and the balancer waits for a queue to change. */
  get idle(): boolean {
    return this.poke !== undefined;
  }

  /** Marks that something may have changed, and ends an idle wait. */
  private wake(): void {
    this.dirty = true;
    this.poke?.();
  }

  /** Follows `member`'s queue, when its election can: each change wakes the loop. */
  private watch(member: Member): void {
    if (!member.election.watchQueue || member.watch) return;
    const controller = new AbortController();
    member.watch = controller;
    const signal = AbortSignal.any([controller.signal, this.controller!.signal]);
    member.election.watchQueue(() => this.wake(), signal).catch(() => undefined);
  }

  /** Resolves at the next {@link wake} (or abort). */
  private untilWoken(signal: AbortSignal): Promise<void> {
    return new Promise(resolve => {
      const done = () => {
        this.poke = undefined;
        signal.removeEventListener('abort', done);
        resolve();
      };
      this.poke = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  private async run(signal: AbortSignal): Promise<void> {
    let pause = this.interval;
    let failing = false;
    while (!signal.aborted) {
      try {
        await sleep(jitter(pause), signal);
        // Nothing changed since a look that found nothing to do: wait for a change, when every
        // queue is watched (else look again every interval).
        const watched = [...this.members.values()].every(m => m.watch);
        if (!this.dirty && watched) await this.untilWoken(signal);
        signal.throwIfAborted();
        this.dirty = false;
        const busy = await this.step(signal);
        if (busy) this.dirty = true;
        pause = busy ? this.settle : this.interval;
        failing = false;
      } catch (error) {
        if (signal.aborted) return;
        this.dirty = true;
        pause = this.interval;
        if (!failing) this.options.onError?.(error);
        failing = true;
      }
    }
  }

  /** Reads the queues, plans, and acts; true if it did something or something is due soon. */
  private async step(signal: AbortSignal): Promise<boolean> {
    const members = [...this.members.values()].filter(m => active(m.latest));
    const views = await Promise.all(members.map(m => this.view(m)));
    signal.throwIfAborted();
    const plan = planRebalance(views, this.budget);
    const { resign: _resign, stepBack: _stepBack, pending, ...shares } = plan;
    const byName = new Map(members.map((m, i) => [views[i].election, m]));
    const work: Promise<unknown>[] = [];
    for (const election of plan.stepBack) {
      const member = byName.get(election)!;
      if (member.election.isLeader()) continue;
      work.push(member.election.resign({ reason: 'rebalanced' }).catch(() => undefined));
      this.options.onStep?.({ ...shares, kind: 'step-back', election });
    }
    if (plan.resign) {
      const member = byName.get(plan.resign.election)!;
      const held = member.latest;
      if (member.election.isLeader() && held?.key && held.revision) {
        // The step-down happens inside resign(), synchronously; tell of it only after.
        const resigned = member.election.resign({ reason: 'rebalanced' });
        const token = { key: held.key, revision: held.revision };
        publishRebalanced(held.election, token, plan.leading, plan.fairShare, plan.replicas);
        this.options.onStep?.({ ...shares, kind: 'resign', ...plan.resign });
        work.push(
          resigned.then(() => this.successorSeen(member.election, token.key, signal)),
          // A resign that fails ends the session; the candidate recovers by itself.
        );
      }
    }
    await settledOrAborted(work, signal);
    return work.length > 0 || pending;
  }

  private async view(member: Member): Promise<QueueView> {
    const queue = await member.election.participants();
    const own = member.latest?.key;
    const ids = queue.map(p => (p.key === own ? null : p.value));
    const leading = member.election.isLeader();
    // A key of ours that heads the queue leads only once the candidate says so: until then it
    // counts as ours, but is not resigned.
    return { election: member.latest!.election, queue: ids, settled: ids[0] !== null || leading };
  }

  /** Resolves once a leader other than `oldKey` is seen, or after the handover timeout. */
  private successorSeen(election: BalancedElection, oldKey: string, signal: AbortSignal) {
    return new Promise<void>(resolve => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        queueMicrotask(() => subscription.unsubscribe());
        resolve();
      };
      const timer = setTimeout(done, this.handoverTimeout);
      signal.addEventListener('abort', done, { once: true });
      const subscription = election.leader$.subscribe({
        next: leader => {
          if (leader && leader.key !== oldKey) done();
        },
        complete: done,
      });
    });
  }
}

/** Waits for `work` to settle, or for `signal` to abort (a resign may wait on etcd long). */
function settledOrAborted(work: Promise<unknown>[], signal: AbortSignal): Promise<void> {
  return new Promise(resolve => {
    const done = () => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    signal.addEventListener('abort', done, { once: true });
    void Promise.allSettled(work).then(done);
  });
}

function active(leadership: Leadership | undefined): leadership is Leadership {
  return !!leadership && leadership.reason !== 'stopping' && leadership.reason !== 'stopped';
}

function jitter(ms: number): number {
  return ms * (1 + Math.random());
}

function positive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ElectionOptionsError(field, value, 'a number of milliseconds above 0');
  }
  return value;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
