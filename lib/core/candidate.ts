/** One node in one election, its whole life: session → campaign → wait → lead → lose → recover. */
import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import { type Observable, Subject } from 'rxjs';
import { backoffDelay } from './backoff.js';
import { later, remaining } from './clock.js';
import {
  CandidateStoppedError,
  ElectionOptionsError,
  LeadershipLostError,
  NotLeaderError,
  SessionsClosedError,
} from './errors/index.js';
import { type EtcdRefusal, isRefusal, refusalOf } from './errors/index.js';
import {
  publishElected,
  publishEtcdError,
  publishState,
  publishTermEnded,
} from './diagnostics/index.js';
import { Election, type LeaderInfo, type Participant, type Ticket } from './election.js';
import { candidateKey } from './keys.js';
import {
  type FencingToken,
  type Leadership,
  type LeadershipReason,
  initialLeadership,
} from './leadership.js';
import { type Handover, LeaderObserver } from './leader-observer.js';
import { LeadershipState } from './leadership-state.js';
import { type ResolvedCandidateOptions, checkIdentity, keepaliveInterval } from './options.js';
import { mark } from './marks.js';
import { retryWhileAlive } from './retry.js';
import { sleep, unary, untilAborted } from './rpc.js';
import { deadlineAware } from './term-signal.js';
import { scheduleWarmUp } from './warmup.js';
import type { Session, SessionLossReason } from './session.js';
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

interface ResignWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

const RESIGN = Symbol('resign');

/** Leaves the session (our key deleted first, if it lives on), then recovery starts afresh. */
class AbandonSession extends Error {}

/** etcd refuses this node (auth, permission, TLS): no point retrying soon. */
class Refused extends Error {
  constructor(
    readonly refusal: EtcdRefusal,
    readonly error: unknown,
  ) {
    super(refusal);
  }
}

/** The longest pause between attempts to reach an etcd that does not answer. */
const PROBE_INTERVAL = 500;

/**
 * Keeps one node in one election for its whole life: session → campaign → wait → lead → lose →
 * recover, as a stream of {@link Leadership}. Loss of leadership is handled synchronously (role
 * flips, the term's signal aborts, subscribers hear it) before any recovery starts.
 */
export class Candidate {
  /** The recipe this candidate runs. */
  readonly election: Election;
  /** Counters since start. */
  readonly stats: CandidateStats = {
    elected: 0,
    lost: 0,
    sessionLosses: 0,
    waitWatchEvents: 0,
    wakeups: 0,
  };

  private readonly settings: ResolvedCandidateOptions;
  /** Where this candidate's session comes from: the application's, or {@link ownSessions}. */
  private readonly sessions: Sessions;
  /** The session owner this candidate made for itself, when given none. */
  private readonly ownSessions?: Sessions;
  private value: string;

  private readonly state: LeadershipState;
  private readonly observer: LeaderObserver;
  private readonly errorStream = new Subject<unknown>();
  private readonly stopController = new AbortController();

  private session?: Session;
  private offSession?: () => void;
  /** stop() deleted our key already: nothing is left to delete on the shared lease. */
  private keyGoneOnStop = false;
  private round?: AbortController;
  private ticket?: Ticket;
  private term?: ActiveTerm;
  private resignWaiters: ResignWaiter[] = [];
  /** What the latest resign() gives as the reason: `rebalanced` when a balancer asked. */
  private resignReason: 'resigned' | 'rebalanced' = 'resigned';
  private running?: Promise<void>;
  private observing?: Promise<void>;
  private stopped?: Promise<void>;
  /** Set when stop() begins: the loops keep this node's place but never campaign or lead again. */
  private leaving = false;

  /**
   * @param sessions The application's session owner to campaign on (one lease for every election
   *   and lock of the process, losing it ends all their terms at once). Without it, the candidate
   *   owns one with its own settings, closed (its lease revoked) by {@link stop}.
   */
  constructor(
    private readonly client: Etcd3,
    options: CandidateConfig,
    sessions?: Sessions,
  ) {
    checkIdentity(options.election, options.value);
    const { settings } = options;
    this.settings = settings;
    this.ownSessions = sessions ? undefined : new Sessions(client, settings);
    this.sessions = sessions ?? this.ownSessions!;
    this.value = options.value;
    this.election = new Election(client, options.election, {
      requestTimeout: settings.requestTimeout,
      maxRequestBytes: settings.maxRequestBytes,
      tokenRefresh: keepaliveInterval(settings.ttl),
    });
    this.election.checkValue(this.value);
    this.state = new LeadershipState(
      initialLeadership(options.election, options.value),
      publishState,
    );
    this.observer = new LeaderObserver(this.election, this.stats, leader => {
      if (!this.term) this.update({ leader, reason: this.followerReason() });
    });
    this.errorStream.subscribe(error => publishEtcdError(options.election, error));
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
    return !!this.session?.isAlive();
  }

  /**
   * True only while this node leads and its lease deadline has not passed, checked at call time
   * on both clocks: a process that was paused or suspended past its deadline sees false (and
   * steps down) before anything else.
   */
  isLeader(): boolean {
    if (!this.term) return false;
    if (!this.session?.isAlive()) return false;
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
    this.running = this.run();
    if (this.settings.observe) {
      this.observing = this.observer.observe({
        signal: this.stopController.signal,
        backoff: this.settings.backoff,
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
    if (this.leaving || this.stopController.signal.aborted) {
      return Promise.reject(new CandidateStoppedError(this.election.name));
    }
    this.resignReason = options.reason ?? 'resigned';
    this.stepDown(this.resignReason);
    if (!this.running || !this.session?.isAlive()) return Promise.resolve();
    const done = new Promise<void>((resolve, reject) =>
      this.resignWaiters.push({ resolve, reject }),
    );
    // The loop completes the resign wherever it is: waiting, leading, or pausing after an error.
    this.round?.abort(RESIGN);
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
    this.value = value;
    const ticket = this.ticket;
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
    this.stopped ??= (async () => {
      this.leaving = true;
      this.stepDown('stopping');
      this.round?.abort();
      this.update({ reason: 'stopping' });
      if (options.drain) await options.drain().catch(error => this.errorStream.next(error));
      // The successor waits on the resign alone: send it before anything else, and only then
      // unwind the loops and revoke the lease, so that neither that CPU work nor a second write
      // (which the successor's linearizable read would queue behind) slows the handover.
      const ticket = this.ticket;
      if (ticket) this.keyGoneOnStop = await this.election.resign(ticket).catch(() => false);
      settle();
      this.stopController.abort(new CandidateStoppedError(this.election.name));
      await Promise.allSettled([this.running, this.observing]);
      // Our own lease goes last (at once if the loop, unwinding, revoked it already).
      await this.ownSessions?.close();
      // Our key went with the resign above or with the lease revoked as the loop unwound.
      for (const waiter of this.resignWaiters.splice(0)) waiter.resolve();
      this.update({
        role: 'disconnected',
        reason: 'stopped',
        key: undefined,
        lease: undefined,
        revision: undefined,
      });
      this.flushAndComplete();
    })().finally(settle);
    return this.stopped;
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    let failures = 0;
    while (!stop.aborted) {
      const lifetime = new AbortController();
      const signal = AbortSignal.any([lifetime.signal, stop]);
      let session: Session | undefined;
      let delay = 0;
      try {
        session = await this.sharedSession(signal);
        failures = 0;
        this.session = session;
        const current = session;
        this.offSession = current.onLost(reason => this.onSessionLost(current, reason, lifetime));
        // After a refusal, stay as refused until the campaign shows etcd lets us in again.
        if (!isRefusal(this.state.current.reason)) {
          this.update({ role: 'follower', reason: 'campaigning', lease: session.leaseHex });
        }
        await this.campaignLoop(session, signal);
      } catch (caught) {
        if (stop.aborted) break;
        if (caught instanceof SessionsClosedError) {
          // The application's session owner closed before this election stopped: shutting down.
          this.update({
            role: 'disconnected',
            reason: 'stopping',
            key: undefined,
            lease: undefined,
          });
          await untilAborted(stop).catch(() => undefined);
          break;
        }
        if (!lifetime.signal.aborted && !(caught instanceof AbandonSession)) {
          const refusal = caught instanceof Refused ? caught.refusal : refusalOf(caught);
          const error = caught instanceof Refused ? caught.error : caught;
          failures++;
          this.errorStream.next(error);
          const gone = { key: undefined, revision: undefined, lease: undefined };
          if (refusal) {
            // etcd answers but refuses us: retry slowly, someone has to fix the set-up.
            delay = Math.max(
              this.settings.backoff.max,
              backoffDelay(failures - 1, this.settings.backoff),
            );
            this.update({ role: 'disconnected', reason: refusal, ...gone });
          } else if (!session) {
            // etcd does not answer: probe every half second at least, so that a node campaigns
            // within a second of etcd answering again, however long the outage was.
            delay = Math.min(PROBE_INTERVAL, backoffDelay(failures - 1, this.settings.backoff));
            this.update({ role: 'disconnected', reason: 'etcd-unreachable', ...gone });
          } else {
            delay = backoffDelay(failures - 1, this.settings.backoff);
          }
        }
      } finally {
        this.ticket = undefined;
        if (session) await this.closeSession(session);
      }
      if (stop.aborted) break;
      await sleep(delay, stop).catch(() => undefined);
    }
  }

  /**
   * The application's live session, waiting for one while there is none; meanwhile each failed
   * grant shows in this candidate's state (`etcd-unreachable`, or the refusal).
   */
  private async sharedSession(signal: AbortSignal): Promise<Session> {
    const sessions = this.sessions;
    const onFailure = (error: unknown) => {
      this.errorStream.next(error);
      this.update({
        role: 'disconnected',
        reason: refusalOf(error) ?? 'etcd-unreachable',
        key: undefined,
        revision: undefined,
        lease: undefined,
      });
    };
    const off = sessions.onGrantFailed(onFailure);
    try {
      if (!sessions.current() && sessions.error !== undefined) onFailure(sessions.error);
      return await sessions.get(signal);
    } finally {
      off();
    }
  }

  private async closeSession(session: Session): Promise<void> {
    if (this.session === session) this.session = undefined;
    this.offSession?.();
    this.offSession = undefined;
    return this.leaveSharedSession(session);
  }

  /**
   * Lets go of the session without ending it (the application's other elections and locks may
   * live on it): a live one keeps no key of ours; a lost one is revoked by its owner. On shutdown
   * our own session owner is closed here, revoking the lease.
   */
  private async leaveSharedSession(session: Session): Promise<void> {
    const waiters = this.resignWaiters.splice(0);
    const settle = () => waiters.forEach(waiter => waiter.resolve());
    if (!session.isAlive()) {
      // A pending resign completes once the lease (with our key) is revoked, or has certainly
      // expired in etcd (etcd may extend a lease by up to a TTL when a new raft leader starts).
      const expired = later(
        session.deadline,
        this.settings.margin + session.ttl * 1000 + this.settings.requestTimeout,
      );
      void Promise.race([
        this.sessions.revocation(session),
        sleep(remaining(expired, this.settings.clock), this.stopController.signal).catch(
          () => undefined,
        ),
      ]).then(settle);
      return;
    }
    if (this.stopController.signal.aborted) {
      if (this.ownSessions) {
        // On shutdown stop() resigned already; revoking our own lease takes any key left on it
        // too, so no delete goes out before the revoke.
        await this.ownSessions.close();
      } else if (!this.keyGoneOnStop) {
        // stop() resigned already, but a campaign abandoned in flight may have written our key
        // without telling us its revision: one delete of it, by our lease.
        await this.election.resignLease(session.leaseId).catch(() => false);
      }
      settle();
      return;
    }
    // Key overwritten, resign failed, or refused: our key (or a foreign value at it) must go
    // before we campaign again, or the next campaign would take it for our place.
    await this.deleteOwnKey(session);
    settle();
  }

  /**
   * Deletes `<prefix>/<our lease hex>` whatever it holds, retrying until done, the session is
   * lost (the key goes with its lease), we stop, or etcd refuses us (the key is ours, and the
   * next campaign takes it up again).
   */
  private deleteOwnKey(session: Session): Promise<void> {
    const key = Buffer.from(candidateKey(this.election.name, session.leaseId));
    const { requestTimeout, backoff } = this.settings;
    return retryWhileAlive(
      session,
      signal =>
        unary(this.client, 'KV', 'deleteRange', { key }, { timeout: requestTimeout, signal }),
      {
        backoff,
        // A refusal ends the retries unreported: the next campaign meets it, and reports it, again
        // (one error per slow retry, as when etcd refuses the campaign itself).
        onError: error => {
          if (!refusalOf(error)) this.errorStream.next(error);
        },
        signal: this.stopController.signal,
        giveUp: error => refusalOf(error) !== undefined,
      },
    );
  }

  private async campaignLoop(session: Session, signal: AbortSignal): Promise<void> {
    let failures = 0;
    const resetBackoff = () => (failures = 0);
    for (;;) {
      signal.throwIfAborted();
      // Draining for stop(): hold our place in the queue, neither campaign nor lead again.
      if (this.leaving) await untilAborted(signal);
      const round = new AbortController();
      this.round = round;
      const roundSignal = AbortSignal.any([signal, round.signal]);
      let delay = 0;
      try {
        if (this.resignWaiters.length) {
          await this.completeResign(session, signal);
          continue;
        }
        const ticket = await this.election.campaign(session.leaseId, this.value, roundSignal);
        this.ticket = ticket;
        scheduleWarmUp(this.client, this.election.prefix);
        // A proclaim() made while the campaign was in flight: write it before going further, so
        // that what we report is what etcd holds.
        while (ticket.value !== this.value) {
          if (!(await this.election.proclaim(ticket, this.value, roundSignal))) {
            throw new AbandonSession('key-overwritten');
          }
        }
        this.update({
          ...(isRefusal(this.state.current.reason) && { role: 'follower', reason: 'campaigning' }),
          lease: session.leaseHex,
          key: ticket.key,
          revision: ticket.revision,
          value: this.value,
        });
        const own = await this.election.waitForTurn(ticket, roundSignal, {
          onWatchEvents: count => (this.stats.waitWatchEvents += count),
          onWait: predecessor => this.observer.waiting(predecessor),
          onWake: () => {
            this.stats.wakeups++;
            this.observer.woke();
          },
          onRead: () => {
            resetBackoff();
            this.observer.decided();
          },
        });
        if (!own.owned) {
          if (own.exists) throw new AbandonSession('key-overwritten');
          this.ticket = undefined;
          this.update({ reason: 'key-deleted', key: undefined, revision: undefined });
          continue;
        }
        if (!session.isAlive()) signal.throwIfAborted();
        roundSignal.throwIfAborted();
        const term = this.becomeLeader(ticket);
        failures = 0;
        await this.holdLeadership(ticket, term, own.revision, roundSignal, resetBackoff);
      } catch (error) {
        signal.throwIfAborted();
        if (this.leaving || round.signal.reason === RESIGN) continue;
        if (error instanceof AbandonSession) throw error;
        const refusal = refusalOf(error);
        if (refusal) throw new Refused(refusal, error);
        this.errorStream.next(error);
        delay = backoffDelay(failures++, this.settings.backoff);
      } finally {
        if (this.round === round && delay === 0) this.round = undefined;
        // No wait is running now: nothing for the observer to hold back for.
        this.observer.decided();
      }
      // The pause after an error still listens to resign() (and the loop's end) through the round.
      await sleep(delay, roundSignal).catch(() => signal.throwIfAborted());
      if (this.round === round) this.round = undefined;
    }
  }

  private async completeResign(session: Session, signal: AbortSignal): Promise<void> {
    const ticket = this.ticket;
    this.ticket = undefined;
    this.update({ reason: this.resignReason, key: undefined, revision: undefined });
    const waiters = this.resignWaiters.splice(0);
    let deleted: boolean;
    try {
      // A campaign abandoned in flight may have written our key without telling us its revision.
      if (ticket) await this.election.resign(ticket, signal);
      else await this.election.resignLease(session.leaseId, signal);
      deleted = true;
    } catch {
      deleted = false;
    }
    if (deleted) {
      for (const waiter of waiters) waiter.resolve();
      return;
    }
    // A key we could not delete (or the session ended meanwhile) would keep our old place: give
    // up the lease instead; the waiters settle once it is revoked or has expired.
    this.resignWaiters.push(...waiters);
    signal.throwIfAborted();
    throw new AbandonSession('resign-failed');
  }

  private async holdLeadership(
    ticket: Ticket,
    term: ActiveTerm,
    verifiedAt: string,
    roundSignal: AbortSignal,
    onRead: () => void,
  ): Promise<void> {
    const signal = AbortSignal.any([roundSignal, term.signal]);
    let from: string | undefined = verifiedAt;
    let failures = 0;
    for (;;) {
      try {
        if (from === undefined) {
          const own = await this.election.verify(ticket, signal);
          failures = 0;
          onRead();
          if (!own.owned) {
            const loss = own.exists ? 'key-overwritten' : 'key-deleted';
            this.stepDown(loss, { key: undefined, revision: undefined });
            if (own.exists) throw new AbandonSession(loss);
            return;
          }
          from = own.revision;
        }
        const loss = await this.election.watchOwnership(ticket, from, signal);
        this.stepDown(loss, { key: undefined, revision: undefined });
        if (loss === 'key-overwritten') throw new AbandonSession(loss);
        this.ticket = undefined;
        return;
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (error instanceof AbandonSession) throw error;
        const refusal = refusalOf(error);
        if (refusal) {
          this.stepDown(refusal);
          throw new Refused(refusal, error);
        }
        this.errorStream.next(error);
        from = undefined;
        await sleep(backoffDelay(failures++, this.settings.backoff), signal);
      }
    }
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
  private stepDown(reason: LeadershipReason, patch: Partial<Leadership> = {}): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    this.stats.lost++;
    term.controller.abort(new LeadershipLostError(this.election.name, reason));
    publishTermEnded(this.state.current, term.token, reason, this.session?.deadline.monotonic);
    const observed = this.observer.last;
    this.update({
      role: 'follower',
      reason,
      leader: observed && observed.key !== term.token.key ? observed : undefined,
      ...patch,
    });
  }

  private onSessionLost(session: Session, reason: SessionLossReason, lifetime: AbortController) {
    if (reason === 'closed' || session !== this.session) return;
    this.stats.sessionLosses++;
    const why: LeadershipReason = reason === 'revoked' ? 'lease-revoked' : 'session-expired';
    const gone = { key: undefined, revision: undefined, lease: undefined };
    if (this.term) this.stepDown(why, gone);
    else this.update({ role: 'follower', reason: why, ...gone });
    lifetime.abort(new LeadershipLostError(this.election.name, why));
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
