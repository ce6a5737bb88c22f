/** The balancer: spreads the leadership of an application's elections across its replicas. */
import type { Observable, Subscription } from 'rxjs';
import { publishRebalanced } from './diagnostics/index.js';
import type { LeaderInfo, Participant } from './election.js';
import { ElectionOptionsError } from './errors/index.js';
import type { Leadership } from './leadership.js';
import { sleep } from './rpc.js';
import {
  type QueueView,
  type RebalanceBudget,
  type RebalanceStep,
  planRebalance,
} from './rebalance-plan.js';

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
