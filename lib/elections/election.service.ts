/** The face of one election in a Nest application: standing, leader, handlers, shutdown. */
import {
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import { type Observable, distinctUntilChanged, map } from 'rxjs';
import {
  type Candidate,
  type CandidateStats,
  type FencingToken,
  type LeaderInfo,
  type LeaderTerm,
  type Leadership,
  type Participant,
  electionPrefix,
} from '../core/index.js';
import { mark } from '../core/marks.js';
import { ELECTION_LOGGER_CONTEXT } from '../election.constants.js';
import { runInTerm } from './election.context.js';
import { type SharedConnection } from '../election.connections.js';
import { type ElectionEngine, createCandidate } from '../election.engines.js';
import { ElectionLog, isOtherLeader } from './election-log.js';
import {
  type ElectionDecoratorName,
  drainTimedOutMessage,
  handlerFailedMessage,
} from '../election.messages.js';
import type { ResolvedRegistration } from '../election-options.js';
import type { LeaderContext } from '../interfaces/index.js';
import { WorkTracker, isPromiseLike } from '../work-tracker.js';

/** @internal A discovered `@OnLeader` / `@OnFollower` method, bound to its instance. */
export interface ElectionHandler<T> {
  /** `Class.method`, for logs. */
  label: string;
  call(arg: T): unknown;
}

interface Transition {
  leadership: Leadership;
  term?: LeaderTerm;
}

/**
 * The face of one election in a Nest application: this node's standing, who leads, and the
 * operations of etcd's election recipe. Inject it as `ElectionService` (the default election)
 * or with `@InjectElection(name)`.
 *
 * It campaigns from `onApplicationBootstrap` (unless `autoStart: false`) without waiting for
 * etcd, and on shutdown aborts the leader's signal, waits up to `shutdownTimeout` for leader work
 * and resigns; the module revokes the shared lease and closes the client it created last.
 */
export class ElectionService
  implements OnApplicationBootstrap, OnModuleDestroy, OnApplicationShutdown
{
  /** The election name. */
  readonly name: string;
  /**
   * The etcd3 client this election uses (yours if you passed `client`), e.g. to build the
   * operations of a fenced transaction (see {@link guard}).
   */
  readonly client: Etcd3;

  private readonly candidate: ElectionEngine;
  private readonly autoStart: boolean;
  private readonly shutdownTimeout: number;
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);
  private readonly log: ElectionLog;
  private readonly leaderHandlers: ElectionHandler<LeaderContext>[] = [];
  private readonly followerHandlers: ElectionHandler<Leadership>[] = [];
  /** Leader work in flight: `@OnLeader` handlers and `@LeaderOnly` calls. */
  private readonly work = new WorkTracker();
  private readonly transitions: Transition[] = [];
  private dispatching = false;
  private previous?: Leadership;
  private settled = false;
  private stopping?: Promise<void>;
  private resigned?: Promise<void>;

  /**
   * @internal Created by `ElectionModule` from the registration's resolved options, on the shared
   * connection it joined; inject it rather than constructing it.
   */
  constructor(
    registration: ResolvedRegistration & { election: string },
    connection: SharedConnection,
  ) {
    this.name = registration.election;
    this.autoStart = registration.autoStart;
    this.shutdownTimeout = registration.shutdownTimeout;
    // The client belongs to ElectionConnections, which closes it last.
    this.client = connection.client;
    this.candidate = registration.createEngine
      ? // A test double brings its own engine, which takes no session.
        registration.createEngine(this.client, registration)
      : createCandidate(this.client, registration, connection.sessions);
    this.log = new ElectionLog(this.name, {
      hosts: connection.hosts,
      prefix: electionPrefix(this.name),
      requestTimeout: registration.settings.requestTimeout,
    });
    this.candidate.leadership$.subscribe(leadership => this.onLeadership(leadership));
    this.candidate.errors$.subscribe(error => this.log.error(error));
  }

  /**
   * This node's {@link Leadership}: replays the latest snapshot to each subscriber, then emits
   * on every change. Completes when the election stops.
   */
  get leadership$(): Observable<Leadership> {
    return this.candidate.leadership$;
  }

  /** Whether this node leads: replays the latest, then emits on every change. */
  get isLeader$(): Observable<boolean> {
    return this.candidate.leadership$.pipe(
      map(leadership => leadership.role === 'leader'),
      distinctUntilChanged(),
    );
  }

  /**
   * Who leads, as observed in etcd whatever language it runs (`undefined` while nobody does).
   * Replays the latest once known. Needs `observe` (the default).
   */
  get leader$(): Observable<LeaderInfo | undefined> {
    return this.candidate.leader$;
  }

  /** The current snapshot, checked against the lease deadline at call time. */
  get leadership(): Leadership {
    return this.candidate.leadership;
  }

  /**
   * True only while this node leads and its lease deadline has not passed, checked at call time:
   * after a long pause (GC, SIGSTOP) it is false before anything else can run.
   */
  isLeader(): boolean {
    return this.candidate.isLeader();
  }

  /** True while this node holds a live etcd session (lease), whatever its role. */
  hasSession(): boolean {
    return this.candidate.hasSession();
  }

  /** The current term's signal (aborts when leadership ends) while leading, else undefined. */
  get signal(): AbortSignal | undefined {
    return this.candidate.currentTerm()?.signal;
  }

  /** The current term (signal and fencing token) while leading, else undefined. */
  currentTerm(): LeaderTerm | undefined {
    return this.candidate.currentTerm();
  }

  /**
   * The fencing token of the current term (leader key and its create revision, which only grows
   * from leader to leader) while leading, else undefined.
   */
  fencingToken(): FencingToken | undefined {
    return this.candidate.currentTerm()?.token;
  }

  /**
   * An etcd3 transaction guarded by this term's fencing token: its `then` branch runs only if this
   * node's key still leads with the same create revision. Throws `NotLeaderError` when not leading.
   *
   * @example
   * ```ts
   * const res = await election.guard().then(election.client.put('jobs/last').value(id)).commit();
   * if (!res.succeeded) throw new Error('lost leadership: write refused');
   * ```
   */
  guard(): ComparatorBuilder {
    return this.candidate.guard();
  }

  /**
   * Counters since start: terms won (`elected`) and ended (`lost`), session losses, and the last
   * leader change this node observed (`lastHandover`). A snapshot.
   */
  get stats(): CandidateStats {
    return { ...this.candidate.stats };
  }

  /**
   * Steps down if leading (synchronously: the signal aborts, `@OnFollower` runs) and joins the
   * queue again at the back. Resolves once the old key is gone.
   */
  resign(options?: { reason?: 'rebalanced' }): Promise<void> {
    return this.candidate.resign(options);
  }

  /**
   * Replaces this node's value; while it leads, every observer sees the new value. Throws
   * `NotLeaderError` if this node's key is no longer its own, `ValueTooLargeError` over etcd's
   * request limit (nothing written).
   */
  proclaim(value: string): Promise<void> {
    return this.candidate.proclaim(value);
  }

  /**
   * Resolves with the snapshot once this node leads; rejects with `LeadershipTimeoutError` after
   * `timeout` ms, with the signal's reason on abort, with `CandidateStoppedError` on shutdown.
   */
  waitForLeadership(options: { signal?: AbortSignal; timeout?: number } = {}): Promise<Leadership> {
    return this.candidate.waitForLeadership(options);
  }

  /** The queue read from etcd now, leader first (every implementation alike). */
  participants(): Promise<Participant[]> {
    return this.candidate.participants();
  }

  /** The leader read from etcd now; undefined when nobody campaigns. */
  leader(): Promise<LeaderInfo | undefined> {
    return this.candidate.leader();
  }

  /**
   * Calls `onChange` whenever the queue may have changed (a candidate joined, left or proclaimed),
   * until `signal` aborts: one watch on the election's prefix. The balancer follows queues so.
   */
  watchQueue(onChange: () => void, signal: AbortSignal): Promise<void> {
    const engine = this.candidate as Partial<Pick<Candidate, 'watchQueue'>>;
    if (!engine.watchQueue) return Promise.resolve();
    return engine.watchQueue(onChange, signal);
  }

  /** Starts campaigning without waiting for etcd. Idempotent; automatic unless `autoStart: false`. */
  start(): void {
    this.candidate.start();
  }

  /**
   * Leaves the election for good: aborts the leader's signal, waits up to `shutdownTimeout` for
   * leader work to settle, resigns and revokes the lease. Does not close the client (shutdown
   * does). Idempotent; called on shutdown.
   */
  stop(): Promise<void> {
    if (!this.stopping) {
      mark('shutdown');
      // The successor waits on the resign alone: the state lines of the step-down wait until
      // etcd has answered it (or leader work holds it back, see drain()).
      this.log.hold();
      let resigned!: () => void;
      this.resigned = new Promise<void>(resolve => (resigned = resolve));
      void this.resigned.then(() => this.log.release());
      this.stopping = this.candidate
        .stop({ drain: () => this.drain(), onResigned: resigned })
        .finally(resigned);
    }
    return this.stopping;
  }

  /**
   * @internal Settles once {@link stop}'s resign has been answered by etcd (or has failed, or
   * there was nothing to resign), or stop() has ended; pending until stop() is called.
   */
  whenResigned(): Promise<void> {
    return this.resigned ?? new Promise<void>(() => undefined);
  }

  /** Nest lifecycle hook: campaigns unless `autoStart` is false. */
  onApplicationBootstrap(): void {
    if (this.autoStart) this.start();
  }

  /**
   * Nest lifecycle hook: steps down in the first shutdown phase, so that leader work stops (and a follower
   * takes over) before the providers it uses are torn down.
   */
  async onModuleDestroy(): Promise<void> {
    await this.stop();
  }

  /**
   * Nest lifecycle hook: makes sure the election has stopped (the client and the lease belong to
   * the module, which closes them after this).
   */
  async onApplicationShutdown(): Promise<void> {
    await this.stop();
  }

  /** @internal Registers an `@OnLeader` handler (the explorer does, at bootstrap). */
  addLeaderHandler(handler: ElectionHandler<LeaderContext>): void {
    this.leaderHandlers.push(handler);
  }

  /** @internal Registers an `@OnFollower` handler (the explorer does, at bootstrap). */
  addFollowerHandler(handler: ElectionHandler<Leadership>): void {
    this.followerHandlers.push(handler);
  }

  /**
   * @internal Runs `fn` if this node leads now (checked against the lease deadline), inside the
   * term's context (`currentLeaderSignal()`), and counts it as leader work until it settles.
   * Returns undefined without calling `fn` otherwise.
   */
  runAsLeader<T>(label: string, fn: () => T): T | undefined {
    const term = this.candidate.currentTerm();
    if (!term) return undefined;
    const result = runInTerm(this.name, term, fn);
    if (isPromiseLike(result)) void this.work.track(label, result);
    return result;
  }

  private onLeadership(leadership: Leadership): void {
    // Handlers may act on the election synchronously (resign …), which emits again from inside
    // this call: queue transitions and apply them in order, one at a time.
    const transition: Transition = { leadership };
    this.transitions.push(transition);
    const outermost = !this.dispatching;
    this.dispatching = true;
    try {
      if (leadership.role === 'leader') transition.term = this.candidate.currentTerm();
      if (!outermost) return;
      for (let next = this.transitions.shift(); next; next = this.transitions.shift()) {
        this.apply(next);
      }
    } finally {
      if (outermost) this.dispatching = false;
    }
  }

  private apply({ leadership: next, term }: Transition): void {
    const previous = this.previous;
    this.previous = next;
    this.log.transition(previous, next);
    const leaving = next.reason === 'stopping' || next.reason === 'stopped';
    if (next.role === 'leader') {
      if (previous?.role === 'leader' && previous.revision === next.revision) return;
      this.settled = true;
      // A term that ended while this transition was queued (a handler resigned, the deadline
      // passed) gets no @OnLeader call: its signal would already be aborted.
      if (term && !term.signal.aborted) {
        mark('on-leader');
        const context: LeaderContext = { signal: term.signal, token: term.token, leadership: next };
        for (const handler of this.leaderHandlers) {
          // A handler before this one may have ended the term (it resigned).
          if (term.signal.aborted) break;
          this.invoke('@OnLeader', handler, context, true);
        }
      }
    } else if (previous?.role === 'leader') {
      if (!leaving) this.callFollowerHandlers(next);
    } else if (
      !this.settled &&
      !leaving &&
      next.role === 'follower' &&
      // Queued: our key is in etcd, behind the leader (not merely a session and a leader seen).
      next.key !== undefined &&
      isOtherLeader(next)
    ) {
      this.settled = true;
      this.callFollowerHandlers(next);
    }
  }

  private callFollowerHandlers(leadership: Leadership): void {
    for (const handler of this.followerHandlers) {
      this.invoke('@OnFollower', handler, leadership, false);
    }
  }

  private invoke<T>(
    decorator: ElectionDecoratorName,
    handler: ElectionHandler<T>,
    arg: T,
    isLeaderWork: boolean,
  ): void {
    const fail = (error: unknown) => {
      this.logger.error(
        handlerFailedMessage(this.name, decorator, handler.label, error),
        error instanceof Error ? error.stack : undefined,
      );
    };
    try {
      const result = handler.call(arg);
      if (!isPromiseLike(result)) return;
      const settled = Promise.resolve(result).then(() => undefined, fail);
      if (isLeaderWork) void this.work.track(handler.label, settled);
    } catch (error) {
      fail(error);
    }
  }

  private async drain(): Promise<void> {
    if (this.work.size === 0) return;
    // Leader work holds the resign back anyway: say why we wait.
    this.log.release();
    const late = await this.work.drain(this.shutdownTimeout);
    if (late.length > 0) {
      this.logger.warn(drainTimedOutMessage(this.name, this.shutdownTimeout, late));
    }
  }
}
