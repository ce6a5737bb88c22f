import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import { BehaviorSubject, type Observable, Subject, filter } from 'rxjs';
import { type BackoffOptions, DEFAULT_BACKOFF, backoffDelay } from './backoff.js';
import {
  CandidateStoppedError,
  ElectionOptionsError,
  LeadershipLostError,
  LeadershipTimeoutError,
  NotLeaderError,
} from './errors.js';
import {
  publishElected,
  publishEtcdError,
  publishLeaderObserved,
  publishState,
  publishTermEnded,
} from './diagnostics.js';
import { Election, type LeaderInfo, type Participant, type Ticket } from './election.js';
import {
  type FencingToken,
  type Leadership,
  type LeadershipReason,
  initialLeadership,
  transition,
} from './leadership.js';
import { sleep, untilAborted } from './rpc.js';
import { Session, type SessionLossReason } from './session.js';

/** Settings of a {@link Candidate}. */
export interface CandidateOptions {
  /** The election name, shared with every implementation campaigning on it. */
  election: string;
  /** This node's proposal, proclaimed while it leads. Any UTF-8 string. */
  value: string;
  /**
   * Lease TTL in seconds: how long a crashed leader blocks the election.
   * @default 10
   */
  ttl?: number;
  /**
   * Milliseconds by which the local lease deadline precedes the last keepalive's send time +
   * TTL. Covers clock-rate drift and timer lateness.
   * @default max(1000, ttl * 1000 / 5)
   */
  margin?: number;
  /**
   * Deadline of each etcd request, in milliseconds.
   * @default 5000
   */
  requestTimeout?: number;
  /** Retry delays after failures. @default { initial: 100, max: 5000 } */
  backoff?: Partial<BackoffOptions>;
  /**
   * Follow who leads (`leader$`, `Leadership.leader`) with etcd's observe loop.
   * @default true
   */
  observe?: boolean;
  /**
   * Largest request etcd accepts: etcd's `--max-request-bytes`.
   * @default 1572864
   */
  maxRequestBytes?: number;
}

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

/** One observed change of leader. */
export interface Handover {
  /** The leader that went away. */
  from?: LeaderInfo;
  /** The leader that followed. */
  to: LeaderInfo;
  /** Milliseconds from seeing the old leader's key deleted to seeing the new leader. */
  ms: number;
  /** When the new leader was seen. */
  at: Date;
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

const RESIGN = Symbol('resign');

class AbandonSession extends Error {}

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

  private readonly ttl: number;
  private readonly margin: number;
  private readonly requestTimeout: number;
  private readonly backoff: BackoffOptions;
  private readonly observeLeader: boolean;
  private value: string;

  private readonly state: BehaviorSubject<Leadership>;
  private readonly leaderState = new BehaviorSubject<LeaderInfo | undefined | null>(null);
  private readonly errorStream = new Subject<unknown>();
  private readonly stopController = new AbortController();

  private session?: Session;
  private round?: AbortController;
  private ticket?: Ticket;
  private term?: ActiveTerm;
  private resignWaiters: Array<() => void> = [];
  private running?: Promise<void>;
  private observing?: Promise<void>;
  private stopped?: Promise<void>;
  /** Set when stop() begins: the loops keep this node's place but never campaign or lead again. */
  private leaving = false;
  private leaderGoneAt?: { at: number; leader?: LeaderInfo };
  private lastObserved?: LeaderInfo;

  constructor(
    private readonly client: Etcd3,
    options: CandidateOptions,
  ) {
    const resolved = resolveCandidateOptions(options);
    this.ttl = resolved.ttl;
    this.margin = resolved.margin;
    this.requestTimeout = resolved.requestTimeout;
    this.backoff = resolved.backoff;
    this.observeLeader = resolved.observe;
    this.value = options.value;
    this.election = new Election(client, options.election, {
      requestTimeout: this.requestTimeout,
      maxRequestBytes: resolved.maxRequestBytes,
    });
    this.election.checkValue(this.value);
    this.state = new BehaviorSubject(initialLeadership(options.election, options.value));
    this.errorStream.subscribe(error => publishEtcdError(options.election, error));
  }

  /** Every change of this node's {@link Leadership}; replays the latest to new subscribers. */
  get leadership$(): Observable<Leadership> {
    return this.state.asObservable();
  }

  /** Who leads, observed (whatever language it runs); `undefined` while nobody does. */
  get leader$(): Observable<LeaderInfo | undefined> {
    return this.leaderState.pipe(filter((l): l is LeaderInfo | undefined => l !== null));
  }

  /** Errors the candidate recovered from (etcd unreachable, broken watches …), for logging. */
  get errors$(): Observable<unknown> {
    return this.errorStream.asObservable();
  }

  /** The current snapshot, checked against the lease deadline at call time. */
  get leadership(): Leadership {
    this.isLeader();
    return this.state.value;
  }

  /** True while a session exists whose local deadline has not passed. */
  hasSession(): boolean {
    return !!this.session?.isAlive();
  }

  /**
   * True only while this node leads and its lease deadline has not passed, checked at call time:
   * a process that was paused past its deadline sees false (and steps down) before anything else.
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
    if (this.observeLeader) {
      this.observing = this.election.observe((leader, at) => this.onObserved(leader, at), {
        signal: this.stopController.signal,
        backoff: this.backoff,
        onError: error => this.errorStream.next(error),
      });
    }
  }

  /**
   * Steps down if leading (synchronously, before the key is deleted), leaves the queue and
   * joins it again at the back. Resolves once the old key is gone.
   */
  async resign(): Promise<void> {
    if (this.leaving) throw new CandidateStoppedError(this.election.name);
    const round = this.round;
    if (!round || round.signal.aborted) return;
    const done = new Promise<void>(resolve => this.resignWaiters.push(resolve));
    this.stepDown('resigned');
    round.abort(RESIGN);
    return done;
  }

  /**
   * Replaces this node's value. While it holds a key, the key is rewritten (guarded by its create
   * revision); if the key is no longer ours, throws {@link NotLeaderError}.
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
        this.update({
          value,
          leader: {
            key: ticket.key,
            value,
            revision: ticket.revision,
            lease: this.state.value.lease!,
          },
        });
        return;
      }
    }
    this.update({ value });
  }

  /** Resolves with the snapshot once this node leads; rejects on timeout, abort or stop. */
  waitForLeadership(options: { signal?: AbortSignal; timeout?: number } = {}): Promise<Leadership> {
    const { signal, timeout } = options;
    return new Promise<Leadership>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        subscription.unsubscribe();
      };
      const onAbort = () => {
        cleanup();
        reject(signal!.reason);
      };
      const subscription = this.state.subscribe({
        next: () => {
          if (this.isLeader()) {
            queueMicrotask(cleanup);
            resolve(this.state.value);
          }
        },
        complete: () => {
          queueMicrotask(cleanup);
          reject(new CandidateStoppedError(this.election.name));
        },
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new LeadershipTimeoutError(this.election.name, timeout));
        }, timeout);
      }
    });
  }

  /** Every candidate in the queue, leader first (all implementations alike). */
  participants(): Promise<Participant[]> {
    return this.election.participants();
  }

  /** The current leader, read from etcd now. */
  leader(): Promise<LeaderInfo | undefined> {
    return this.election.leader();
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
   * closing every stream and timer. Does not close the etcd client. Idempotent.
   */
  stop(options: { drain?: () => Promise<void> } = {}): Promise<void> {
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
      if (ticket) await this.election.resign(ticket).catch(() => false);
      this.stopController.abort(new CandidateStoppedError(this.election.name));
      await Promise.allSettled([this.running, this.observing]);
      this.update({
        role: 'disconnected',
        reason: 'stopped',
        key: undefined,
        lease: undefined,
        revision: undefined,
      });
      this.state.complete();
      this.leaderState.complete();
      this.errorStream.complete();
    })();
    return this.stopped;
  }

  private async run(): Promise<void> {
    const stop = this.stopController.signal;
    let failures = 0;
    while (!stop.aborted) {
      const lifetime = new AbortController();
      const signal = AbortSignal.any([lifetime.signal, stop]);
      let session: Session | undefined;
      try {
        session = await Session.grant(this.client, {
          ttl: this.ttl,
          margin: this.margin,
          requestTimeout: this.requestTimeout,
          signal,
        });
        failures = 0;
        this.session = session;
        const current = session;
        current.onLost(reason => this.onSessionLost(current, reason, lifetime));
        this.update({ role: 'follower', reason: 'campaigning', lease: session.leaseHex });
        await this.campaignLoop(session, signal);
      } catch (error) {
        if (stop.aborted) break;
        if (!lifetime.signal.aborted) {
          this.errorStream.next(error);
          if (!session) {
            failures++;
            this.update({ role: 'disconnected', reason: 'etcd-unreachable', lease: undefined });
          }
        }
      } finally {
        this.ticket = undefined;
        if (session) await this.closeSession(session);
      }
      if (stop.aborted) break;
      const delay = failures === 0 ? 0 : backoffDelay(failures - 1, this.backoff);
      await sleep(delay, stop).catch(() => undefined);
    }
  }

  private async closeSession(session: Session): Promise<void> {
    if (this.session === session) this.session = undefined;
    // On shutdown (stop() has resigned already) revoke, awaited; on loss revoke best-effort,
    // unawaited, so an unreachable etcd does not hold up recovery.
    if (this.stopController.signal.aborted) await session.close();
    else void session.close();
  }

  private async campaignLoop(session: Session, signal: AbortSignal): Promise<void> {
    let failures = 0;
    for (;;) {
      signal.throwIfAborted();
      // Draining for stop(): hold our place in the queue, neither campaign nor lead again.
      if (this.leaving) await untilAborted(signal);
      const round = new AbortController();
      this.round = round;
      const roundSignal = AbortSignal.any([signal, round.signal]);
      try {
        const ticket = await this.election.campaign(session.leaseId, this.value, roundSignal);
        this.ticket = ticket;
        this.update({ key: ticket.key, revision: ticket.revision });
        const own = await this.election.waitForTurn(ticket, roundSignal, {
          onWatchEvents: count => (this.stats.waitWatchEvents += count),
          onWake: () => this.stats.wakeups++,
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
        await this.holdLeadership(ticket, term, own.revision, roundSignal);
      } catch (error) {
        signal.throwIfAborted();
        if (this.leaving) continue;
        if (round.signal.reason === RESIGN) {
          await this.completeResign(signal);
          continue;
        }
        if (error instanceof AbandonSession) throw error;
        this.errorStream.next(error);
        await sleep(backoffDelay(failures++, this.backoff), signal);
      } finally {
        if (this.round === round) this.round = undefined;
      }
    }
  }

  private async completeResign(signal: AbortSignal): Promise<void> {
    const ticket = this.ticket;
    this.ticket = undefined;
    this.update({ reason: 'resigned', key: undefined, revision: undefined });
    let deleted = true;
    if (ticket)
      deleted = await this.election.resign(ticket, signal).then(
        () => true,
        () => false,
      );
    const waiters = this.resignWaiters;
    this.resignWaiters = [];
    for (const resolve of waiters) resolve();
    // A key we could not delete would keep our old place: give up the lease instead.
    if (!deleted) throw new AbandonSession('resign-failed');
  }

  private async holdLeadership(
    ticket: Ticket,
    term: ActiveTerm,
    verifiedAt: string,
    roundSignal: AbortSignal,
  ): Promise<void> {
    const signal = AbortSignal.any([roundSignal, term.signal]);
    let from: string | undefined = verifiedAt;
    let failures = 0;
    for (;;) {
      try {
        if (from === undefined) {
          const own = await this.election.verify(ticket, signal);
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
        this.errorStream.next(error);
        from = undefined;
        await sleep(backoffDelay(failures++, this.backoff), signal);
      }
    }
  }

  private becomeLeader(ticket: Ticket): ActiveTerm {
    const controller = new AbortController();
    const term: ActiveTerm = {
      controller,
      signal: controller.signal,
      token: { key: ticket.key, revision: ticket.revision },
    };
    this.term = term;
    this.stats.elected++;
    publishElected(this.election.name, term.token, this.value, this.state.value.lease);
    this.update({
      role: 'leader',
      reason: 'elected',
      key: ticket.key,
      revision: ticket.revision,
      leader: {
        key: ticket.key,
        value: this.value,
        revision: ticket.revision,
        lease: this.state.value.lease ?? '',
      },
    });
    return term;
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
    publishTermEnded(this.state.value, term.token, reason, this.session?.deadline);
    const observed = this.lastObserved;
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

  private onObserved(leader: LeaderInfo | undefined, at: number): void {
    const previous = this.lastObserved;
    this.lastObserved = leader;
    if (!leader) {
      this.leaderGoneAt = { at, leader: previous };
    } else if (this.leaderGoneAt && this.leaderGoneAt.leader?.key !== leader.key) {
      this.stats.lastHandover = {
        from: this.leaderGoneAt.leader,
        to: leader,
        ms: Math.round((at - this.leaderGoneAt.at) * 1000) / 1000,
        at: new Date(),
      };
      this.leaderGoneAt = undefined;
    }
    publishLeaderObserved(this.election.name, leader, previous, this.stats.lastHandover);
    this.leaderState.next(leader);
    if (!this.term) this.update({ leader, reason: this.followerReason() });
  }

  private followerReason(): LeadershipReason {
    const current = this.state.value;
    return current.role === 'follower' && current.leader ? 'leader-changed' : current.reason;
  }

  private update(patch: Partial<Leadership>): void {
    if (this.state.isStopped) return;
    const next = transition(this.state.value, patch);
    publishState(this.state.value, next);
    if (next !== this.state.value) this.state.next(next);
  }
}

/** The fully resolved settings of a candidate, after defaults and validation. */
export interface ResolvedCandidateOptions {
  ttl: number;
  margin: number;
  requestTimeout: number;
  backoff: BackoffOptions;
  observe: boolean;
  maxRequestBytes: number;
}

/**
 * Applies defaults and validates; throws {@link ElectionOptionsError} naming the first bad field.
 */
export function resolveCandidateOptions(options: CandidateOptions): ResolvedCandidateOptions {
  const { election, value } = options;
  if (typeof election !== 'string' || election.length === 0) {
    throw new ElectionOptionsError('election', election, 'a non-empty string');
  }
  if (typeof value !== 'string') {
    throw new ElectionOptionsError('value', value, 'a string (any UTF-8)');
  }
  const ttl = options.ttl ?? 10;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 9_000_000_000) {
    throw new ElectionOptionsError('ttl', ttl, 'a whole number of seconds, at least 1');
  }
  const margin = options.margin ?? Math.max(1000, (ttl * 1000) / 5);
  const keepaliveInterval = (ttl * 1000) / 3;
  if (typeof margin !== 'number' || !(margin >= 0) || margin > ttl * 1000 - keepaliveInterval) {
    throw new ElectionOptionsError(
      'margin',
      margin,
      `milliseconds from 0 to ${Math.floor(ttl * 1000 - keepaliveInterval)} (TTL minus one keepalive interval) for ttl ${ttl}`,
    );
  }
  const requestTimeout = options.requestTimeout ?? 5000;
  if (typeof requestTimeout !== 'number' || !(requestTimeout > 0) || !isFinite(requestTimeout)) {
    throw new ElectionOptionsError(
      'requestTimeout',
      requestTimeout,
      'a positive number of milliseconds',
    );
  }
  const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
  if (typeof backoff.initial !== 'number' || !(backoff.initial > 0)) {
    throw new ElectionOptionsError(
      'backoff.initial',
      backoff.initial,
      'a positive number of milliseconds',
    );
  }
  if (typeof backoff.max !== 'number' || !(backoff.max >= backoff.initial)) {
    throw new ElectionOptionsError(
      'backoff.max',
      backoff.max,
      `milliseconds, at least backoff.initial (${backoff.initial})`,
    );
  }
  const observe = options.observe ?? true;
  if (typeof observe !== 'boolean') {
    throw new ElectionOptionsError('observe', observe, 'true or false');
  }
  const maxRequestBytes = options.maxRequestBytes ?? 1_572_864;
  if (!Number.isInteger(maxRequestBytes) || maxRequestBytes < 1024) {
    throw new ElectionOptionsError(
      'maxRequestBytes',
      maxRequestBytes,
      'a whole number of bytes, at least 1024',
    );
  }
  return { ttl, margin, requestTimeout, backoff, observe, maxRequestBytes };
}
