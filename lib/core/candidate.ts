/** One node in one election as the application sees it: its state, its term, start and stop. */
import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import { type Observable, Subject } from 'rxjs';
import { RESIGN } from './campaign.js';
import { type SessionContext, superviseSessions } from './candidate-session.js';
import {
  CandidateStoppedError,
  ElectionOptionsError,
  LeadershipLostError,
  NotLeaderError,
} from './errors/index.js';
import {
  publishElected,
  publishEtcdError,
  publishState,
  publishTermEnded,
} from './diagnostics/index.js';
import { Election, type LeaderInfo, type Participant, type Ticket } from './election.js';
import {
  type FencingToken,
  type Leadership,
  type LeadershipReason,
  LEFT_ELECTION,
  initialLeadership,
} from './leadership.js';
import { type Handover, LeaderObserver } from './leader-observer.js';
import { LeadershipState } from './leadership-state.js';
import { type ResolvedCandidateOptions, checkIdentity, keepaliveInterval } from './options.js';
import { mark } from './marks.js';
import { deadlineAware } from './term-signal.js';
import { Sessions } from './sessions.js';

/** Counters of one candidate since it started. */
export interface CandidateStats {
  /** Terms won. */
  elected: number;
  /** Terms ended (resigned, lost, stopped). */
  lost: number;
  /** Sessions lost (lease expired locally or revoked), not counting our own closes. */
  sessionLosses: number;
  /** Watch events delivered to this node's waits on its predecessor. */
  waitWatchEvents: number;
  /** Times this node's predecessor went away while it waited. */
  wakeups: number;
  /** The last leader change this node observed: from the old key's deletion to the new leader. */
  lastHandover?: Handover;
}

/** @internal Counters at start: all zero, no handover seen yet. */
export function initialCandidateStats(): CandidateStats {
  return { elected: 0, lost: 0, sessionLosses: 0, waitWatchEvents: 0, wakeups: 0 };
}

/** What a {@link Candidate} is made with: who it is, and settings from `resolveEngineOptions`. */
export interface CandidateConfig {
  /** The election name, shared with every implementation campaigning on it. */
  election: string;
  /** This node's proposal, proclaimed while it leads. Any UTF-8 string. */
  value: string;
  /** The engine's settings, taken as they are: neither checked nor defaulted again. */
  settings: ResolvedCandidateOptions;
}

/** What a leader's work gets: a signal that aborts when the term ends, and its fencing token. */
export interface LeaderTerm {
  /** Aborts, with a {@link LeadershipLostError} as reason, the moment this term ends. */
  signal: AbortSignal;
  /** The fencing token of this term. */
  token: FencingToken;
}

interface ActiveTerm extends LeaderTerm {
  controller: AbortController;
}

/**
 * Keeps one node in one election for its whole life: session → campaign → wait → lead → lose →
 * recover, as a stream of {@link Leadership}. Loss of leadership is handled synchronously (role
 * flips, the term's signal aborts, subscribers hear it) before any recovery starts.
 */
export class Candidate {
  /** The recipe this candidate runs. */
  readonly election: Election;
  /** Counters since start. */
  readonly stats: CandidateStats = initialCandidateStats();

  private readonly state: LeadershipState;
  private readonly observer: LeaderObserver;
  private readonly errorStream = new Subject<unknown>();
  private readonly stopController = new AbortController();
  /** What this candidate shares with its loops over sessions and rounds. */
  private readonly ctx: SessionContext;
  private term?: ActiveTerm;
  private running?: Promise<void>;
  private observing?: Promise<void>;
  private stopped?: Promise<void>;

  /**
   * @param sessions The application's session owner to campaign on (one lease for every election
   *   and lock of the process, losing it ends all their terms at once). Without it, the candidate
   *   owns one with its own settings, closed (its lease revoked) by {@link stop}.
   */
  constructor(client: Etcd3, options: CandidateConfig, sessions?: Sessions) {
    checkIdentity(options.election, options.value);
    const { settings } = options;
    const ownSessions = sessions ? undefined : new Sessions(client, settings);
    this.election = new Election(client, options.election, {
      requestTimeout: settings.requestTimeout,
      maxRequestBytes: settings.maxRequestBytes,
      tokenRefresh: keepaliveInterval(settings.ttl),
    });
    this.election.checkValue(options.value);
    this.state = new LeadershipState(
      initialLeadership(options.election, options.value),
      publishState,
    );
    this.observer = new LeaderObserver(this.election, this.stats, leader => {
      if (!this.term) this.update({ leader, reason: this.followerReason() });
    });
    this.errorStream.subscribe(error => publishEtcdError(options.election, error));
    this.ctx = {
      client,
      election: this.election,
      settings,
      stats: this.stats,
      observer: this.observer,
      state: this.state,
      sessions: sessions ?? ownSessions!,
      ownSessions,
      stopSignal: this.stopController.signal,
      value: options.value,
      resignWaiters: [],
      resignReason: 'resigned',
      leaving: false,
      keyGoneOnStop: false,
      report: error => this.errorStream.next(error),
      becomeLeader: ticket => this.becomeLeader(ticket),
      stepDown: (reason, patch) => this.stepDown(reason, patch),
    };
  }

  /**
   * Every change of this node's {@link Leadership}, in order (a change made from inside a
   * subscriber is delivered to every subscriber after the one in progress); replays the latest
   * to new subscribers.
   */
  get leadership$(): Observable<Leadership> {
    return this.state.leadership$;
  }

  /** Who leads, observed (whatever language it runs); `undefined` while nobody does. */
  get leader$(): Observable<LeaderInfo | undefined> {
    return this.observer.leader$;
  }

  /** Errors the candidate recovered from (etcd unreachable, broken watches …), for logging. */
  get errors$(): Observable<unknown> {
    return this.errorStream.asObservable();
  }

  /** The current snapshot, checked against the lease deadline at call time. */
  get leadership(): Leadership {
    this.isLeader();
    return this.state.current;
  }

  /** True while a session exists whose local deadline has not passed. */
  hasSession(): boolean {
    return !!this.ctx.session?.isAlive();
  }

  /**
   * True only while this node leads and its lease deadline has not passed, checked at call time
   * on both clocks: a process that was paused or suspended past its deadline sees false (and
   * steps down) before anything else.
   */
  isLeader(): boolean {
    if (!this.term) return false;
    if (!this.ctx.session?.isAlive()) return false;
    return this.term !== undefined;
  }

  /** The current term (signal and fencing token) while this node leads, else undefined. */
  currentTerm(): LeaderTerm | undefined {
    if (!this.isLeader() || !this.term) return undefined;
    return { signal: this.term.signal, token: this.term.token };
  }

  /** Starts campaigning (and observing). Idempotent. */
  start(): void {
    if (this.running || this.stopController.signal.aborted) return;
    this.running = superviseSessions(this.ctx);
    const { settings } = this.ctx;
    if (settings.observe) {
      this.observing = this.observer.observe({
        signal: this.stopController.signal,
        backoff: settings.backoff,
        onError: error => this.errorStream.next(error),
      });
    }
  }

  /**
   * Steps down if leading (synchronously, before the key is deleted), leaves the queue and
   * joins it again at the back. Resolves once the old key is gone (deleted, or its lease revoked
   * or expired when etcd could not be asked to delete it); at once when this node holds no key.
   * Rejects with {@link CandidateStoppedError} once stopping has begun. `reason: 'rebalanced'`
   * (a balancer's step) is the reason the step-down reports instead of `resigned`.
   */
  resign(options: { reason?: 'rebalanced' } = {}): Promise<void> {
    const ctx = this.ctx;
    if (ctx.leaving || this.stopController.signal.aborted) {
      return Promise.reject(new CandidateStoppedError(this.election.name));
    }
    ctx.resignReason = options.reason ?? 'resigned';
    this.stepDown(ctx.resignReason);
    if (!this.running || !ctx.session?.isAlive()) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) =>
      ctx.resignWaiters.push({ resolve, reject }),
    );
    // The loop completes the resign wherever it is: waiting, leading, or pausing after an error.
    ctx.round?.abort(RESIGN);
    return done;
  }

  /**
   * Replaces this node's value. While it holds a key, the key is rewritten (guarded by its create
   * revision); if the key is no longer ours, throws {@link NotLeaderError}. While a campaign is in
   * flight, the value is written as soon as it lands, before this node can lead.
   */
  async proclaim(value: string): Promise<void> {
    if (this.stopController.signal.aborted) throw new CandidateStoppedError(this.election.name);
    if (typeof value !== 'string') {
      throw new ElectionOptionsError('value', value, 'a string');
    }
    this.election.checkValue(value);
    this.ctx.value = value;
    const ticket = this.ctx.ticket;
    if (ticket) {
      const ok = await this.election.proclaim(ticket, value);
      if (!ok) throw new NotLeaderError(this.election.name, 'proclaim');
      if (this.term && this.term.token.revision === ticket.revision) {
        this.update({ value, leader: this.ownLeaderInfo(ticket) });
        return;
      }
    }
    this.update({ value });
  }

  /** Resolves with the snapshot once this node leads; rejects on timeout, abort or stop. */
  waitForLeadership(options: { signal?: AbortSignal; timeout?: number } = {}): Promise<Leadership> {
    const accept = () => (this.isLeader() ? this.state.current : undefined);
    return this.state.waitFor(this.election.name, accept, options);
  }

  /** Every candidate in the queue, leader first (all implementations alike). */
  participants(): Promise<Participant[]> {
    return this.election.participants();
  }

  /** The current leader, read from etcd now. */
  leader(): Promise<LeaderInfo | undefined> {
    return this.election.leader();
  }

  /** Calls `onChange` on every change of the queue until `signal` aborts (see `KeyQueue`). */
  watchQueue(onChange: () => void, signal: AbortSignal): Promise<void> {
    return this.election.watchQueue(onChange, signal);
  }

  /**
   * An etcd3 transaction guarded by this term's fencing token: the `then` branch runs only if
   * this node's key still leads with the same create revision. Throws {@link NotLeaderError}
   * when this node does not lead.
   */
  guard(): ComparatorBuilder {
    const term = this.currentTerm();
    if (!term) throw new NotLeaderError(this.election.name, 'build a fenced transaction');
    return this.election.guard(term.token);
  }

  /**
   * Leaves the election for good: steps down at once (the term's signal aborts) and never leads
   * again, but keeps its place in the queue while it awaits `drain` (bound it yourself), so no
   * successor starts before the old leader's work is done; then resigns and revokes the lease,
   * closing every stream and timer. Does not close the etcd client. Idempotent. A `resign()`
   * still pending settles too. `onResigned` is called once the resign has been answered (or has
   * failed, or there was no key to resign): from then on no successor waits on this node. Only
   * the first call's options count; later calls return the same promise.
   */
  stop(options: { drain?: () => Promise<void>; onResigned?: () => void } = {}): Promise<void> {
    let resigned = options.onResigned;
    const settle = () => {
      const callback = resigned;
      resigned = undefined;
      callback?.();
    };
    const ctx = this.ctx;
    this.stopped ??= (async () => {
      ctx.leaving = true;
      this.stepDown('stopping');
      ctx.round?.abort();
      this.update({ reason: 'stopping' });
      if (options.drain) await options.drain().catch(error => this.errorStream.next(error));
      // The successor waits on the resign alone: send it before anything else, and only then
      // unwind the loops and revoke the lease, so that neither that CPU work nor a second write
      // (which the successor's linearizable read would queue behind) slows the handover.
      const ticket = ctx.ticket;
      if (ticket) ctx.keyGoneOnStop = await this.election.resign(ticket).catch(() => false);
      settle();
      this.stopController.abort(new CandidateStoppedError(this.election.name));
      await Promise.allSettled([this.running, this.observing]);
      // Our own lease goes last (at once if the loop, unwinding, revoked it already).
      await ctx.ownSessions?.close();
      // Our key went with the resign above or with the lease revoked as the loop unwound.
      for (const waiter of ctx.resignWaiters.splice(0)) waiter.resolve();
      this.update(LEFT_ELECTION);
      this.flushAndComplete();
    })().finally(settle);
    return this.stopped;
  }

  private becomeLeader(ticket: Ticket): ActiveTerm {
    mark('elected');
    const controller = new AbortController();
    const term: ActiveTerm = {
      controller,
      // Whoever reads the signal first after a pause past the deadline sees it aborted.
      signal: deadlineAware(controller.signal, () => this.isLeader()),
      token: { key: ticket.key, revision: ticket.revision },
    };
    this.term = term;
    this.stats.elected++;
    publishElected(this.election.name, term.token, ticket.value, this.state.current.lease);
    this.update({
      role: 'leader',
      reason: 'elected',
      key: ticket.key,
      revision: ticket.revision,
      leader: this.ownLeaderInfo(ticket),
    });
    return term;
  }

  /** This node's key as observers see it in etcd. */
  private ownLeaderInfo(ticket: Ticket): LeaderInfo {
    return {
      key: ticket.key,
      value: ticket.value,
      revision: ticket.revision,
      lease: this.state.current.lease ?? '',
    };
  }

  /**
   * Ends the current term synchronously: the role flips (isLeader() is false from here on), the
   * term's signal aborts, then subscribers hear of it. Recovery comes after, asynchronously.
   */
  private stepDown(reason: LeadershipReason, patch: Partial<Leadership> = {}): boolean {
    const term = this.term;
    if (!term) return false;
    this.term = undefined;
    this.stats.lost++;
    term.controller.abort(new LeadershipLostError(this.election.name, reason));
    publishTermEnded(this.state.current, term.token, reason, this.ctx.session?.deadline.monotonic);
    const observed = this.observer.last;
    this.update({
      role: 'follower',
      reason,
      leader: observed && observed.key !== term.token.key ? observed : undefined,
      ...patch,
    });
    return true;
  }

  private followerReason(): LeadershipReason {
    const current = this.state.current;
    return current.role === 'follower' && current.leader ? 'leader-changed' : current.reason;
  }

  private update(patch: Partial<Leadership>): void {
    this.state.update(patch);
  }

  private flushAndComplete(): void {
    this.state.complete();
    this.observer.complete();
    this.errorStream.complete();
  }
}
