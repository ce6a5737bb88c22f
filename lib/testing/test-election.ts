/** `TestElection`: a stand-in for one election's engine that a test drives. */
import type { ComparatorBuilder, Etcd3 } from 'etcd3';
import { BehaviorSubject, type Observable, Subject, filter } from 'rxjs';
import {
  type CandidateStats,
  CandidateStoppedError,
  ElectionError,
  type LeaderInfo,
  type LeaderTerm,
  type Leadership,
  type LeadershipReason,
  LeadershipLostError,
  NotLeaderError,
  type Participant,
  initialLeadership,
  initialCandidateStats,
  LEFT_ELECTION,
} from '../core/index.js';
import { LeadershipState } from '../core/leadership-state.js';

/** Fake lease ids count up from here (hex, as etcd's look), so keys read like real ones. */
const FIRST_LEASE = 0x7e57_0000_0000_0001n;

interface Term extends LeaderTerm {
  controller: AbortController;
}

/**
 * A stand-in for the etcd engine of one election, for unit tests without etcd: you decide when
 * this node leads. `ElectionTestingModule` puts one under the election's `ElectionService`, so
 * `@OnLeader`, `@OnFollower`, `@LeaderOnly`, `LeaderGuard`, `isLeader()`, `leadership$` and the
 * term's signal react exactly as they do to the real engine. Get it with `getTestElection()`.
 *
 * @example
 * ```ts
 * const election = getTestElection(moduleRef);
 * election.elect(); // @OnLeader runs, @LeaderOnly methods run
 * election.follow('node-2'); // the term's signal aborts, @OnFollower runs
 * ```
 */
export class TestElection {
  /** Counters, as `ElectionService.stats` shows them. */
  readonly stats: CandidateStats = initialCandidateStats();

  private name?: string;
  private client?: Etcd3;
  private state?: LeadershipState;
  private readonly leaderState = new BehaviorSubject<LeaderInfo | undefined | null>(null);
  private readonly errorStream = new Subject<unknown>();
  private term?: Term;
  private started = false;
  private stopped?: Promise<void>;
  private leaving = false;
  private nextLease = FIRST_LEASE;
  private revision = 0n;

  /** @internal Binds this double to the election it stands in for (the testing module does). */
  attach(client: Etcd3, options: { election: string; value: string }): this {
    if (this.state) throw new ElectionError(alreadyAttached(this.name!, options.election));
    this.name = options.election;
    this.client = client;
    this.state = new LeadershipState(initialLeadership(options.election, options.value));
    return this;
  }

  // ----------------------------------------------------------------------------------------
  // Driving it
  // ----------------------------------------------------------------------------------------

  /**
   * Makes this node the leader, with a new term: a fresh signal and a fencing token whose
   * revision is larger than any before. `@OnLeader` handlers run before it returns. Starts the
   * election first if it has not started (as with `autoStart: false`).
   */
  elect(): Leadership {
    const state = this.live('elect()');
    this.start();
    if (this.term) return state.current;
    const revision = String(++this.revision);
    const { key, lease } = this.ownKey();
    const controller = new AbortController();
    this.term = { controller, signal: controller.signal, token: { key, revision } };
    this.stats.elected++;
    const leader: LeaderInfo = { key, value: state.current.value, revision, lease };
    this.update({ role: 'leader', reason: 'elected', key, lease, revision, leader });
    this.leaderState.next(leader);
    return state.current;
  }

  /**
   * Makes this node a follower. With `leader`, another node (of that value) now leads; without,
   * nobody does. If this node led, its term ends first: the signal aborts (reason
   * `LeadershipLostError`), then `@OnFollower` handlers run with the new snapshot.
   *
   * @param reason The reason the snapshot shows. @default 'session-expired' when this node led, else 'leader-changed'
   */
  follow(leader?: string, reason?: LeadershipReason): Leadership {
    const state = this.live('follow()');
    this.start();
    const other: LeaderInfo | undefined =
      leader === undefined ? undefined : this.otherLeader(leader);
    const why = reason ?? (this.term ? 'session-expired' : 'leader-changed');
    this.endTerm(why);
    this.update({ role: 'follower', reason: why, leader: other, ...this.ownKey() });
    this.leaderState.next(other);
    return state.current;
  }

  /**
   * Makes this node lose etcd: role `disconnected`, no session (health down). If it led, its term
   * ends first, as in {@link follow}.
   *
   * @param reason The reason the snapshot shows. @default 'etcd-unreachable'
   */
  disconnect(reason: LeadershipReason = 'etcd-unreachable'): Leadership {
    const state = this.live('disconnect()');
    this.endTerm(reason);
    this.update({
      role: 'disconnected',
      reason,
      key: undefined,
      lease: undefined,
      revision: undefined,
      leader: undefined,
    });
    return state.current;
  }

  // ----------------------------------------------------------------------------------------
  // What ElectionService reads, as the real engine offers it
  // ----------------------------------------------------------------------------------------

  /** Every change of this node's leadership; replays the latest. */
  get leadership$(): Observable<Leadership> {
    return this.attached().leadership$;
  }

  /** Who leads; replays the latest once known. */
  get leader$(): Observable<LeaderInfo | undefined> {
    return this.leaderState.pipe(filter((l): l is LeaderInfo | undefined => l !== null));
  }

  /** Errors to log; a test double has none. */
  get errors$(): Observable<unknown> {
    return this.errorStream.asObservable();
  }

  /** The current snapshot. */
  get leadership(): Leadership {
    return this.attached().current;
  }

  /** True while {@link elect} holds. */
  isLeader(): boolean {
    return this.term !== undefined;
  }

  /** True unless disconnected (or not started yet). */
  hasSession(): boolean {
    return this.state !== undefined && this.state.current.role !== 'disconnected';
  }

  /** The current term while leading. */
  currentTerm(): LeaderTerm | undefined {
    return this.term && { signal: this.term.signal, token: this.term.token };
  }

  /**
   * The fenced transaction builder, as the real engine gives it. Committing it needs a real etcd:
   * the testing module's client points at none.
   */
  guard(): ComparatorBuilder {
    const term = this.currentTerm();
    if (!term) throw new NotLeaderError(this.name ?? '', 'build a fenced transaction');
    return this.client!.if(term.token.key, 'Create', '==', term.token.revision);
  }

  /** Starts the election: a follower in the queue, nobody known to lead. Idempotent. */
  start(): void {
    this.attached();
    if (this.started || this.stopped) return;
    this.started = true;
    this.update({ role: 'follower', reason: 'campaigning', ...this.ownKey() });
  }

  /** Steps down if leading, as `ElectionService.resign()` does; nobody leads afterwards. */
  async resign(): Promise<void> {
    if (this.leaving) throw new CandidateStoppedError(this.name ?? '');
    if (!this.term) return;
    this.endTerm('resigned');
    this.update({ role: 'follower', reason: 'resigned', leader: undefined });
    this.leaderState.next(undefined);
  }

  /** Replaces this node's value (the leader's too, while leading). */
  async proclaim(value: string): Promise<void> {
    if (this.leaving) throw new CandidateStoppedError(this.name ?? '');
    const state = this.attached();
    if (!this.term) {
      this.update({ value });
      return;
    }
    const leader = { ...state.current.leader!, value };
    this.update({ value, leader });
    this.leaderState.next(leader);
  }

  /** Resolves once {@link elect} is called; rejects on timeout, abort or shutdown. */
  waitForLeadership(options: { signal?: AbortSignal; timeout?: number } = {}): Promise<Leadership> {
    const accept = (leadership: Leadership) =>
      leadership.role === 'leader' ? leadership : undefined;
    return this.attached().waitFor(this.name ?? '', accept, options);
  }

  /** The queue as this double knows it: the leader first, then this node. */
  async participants(): Promise<Participant[]> {
    const { leader, key, lease, revision, value } = this.attached().current;
    const queue: Participant[] = [];
    if (leader) queue.push({ ...leader, leader: true });
    if (key && key !== leader?.key) {
      queue.push({ key, lease: lease!, value, revision: revision ?? '0', leader: false });
    }
    return queue;
  }

  /** The leader as this double knows it. */
  async leader(): Promise<LeaderInfo | undefined> {
    return this.attached().current.leader;
  }

  /** Shutdown, as the real engine does it: the term ends, leader work drains, then stopped. */
  stop(options: { drain?: () => Promise<void>; onResigned?: () => void } = {}): Promise<void> {
    this.stopped ??= (async () => {
      this.leaving = true;
      this.endTerm('stopping');
      this.update({ role: 'follower', reason: 'stopping' });
      if (options.drain) await options.drain().catch(error => this.errorStream.next(error));
      options.onResigned?.();
      this.update(LEFT_ELECTION);
      this.state?.complete();
      this.leaderState.complete();
      this.errorStream.complete();
    })();
    return this.stopped;
  }

  // ----------------------------------------------------------------------------------------

  private attached(): LeadershipState {
    if (!this.state) throw new ElectionError(notAttached());
    return this.state;
  }

  private live(what: string): LeadershipState {
    const state = this.attached();
    if (this.leaving) throw new CandidateStoppedError(`${this.name} (${what} after shutdown)`);
    return state;
  }

  /** This node's key and lease, made up once per session and kept until it disconnects. */
  private ownKey(): { key: string; lease: string } {
    const { key, lease } = this.attached().current;
    if (key && lease) return { key, lease };
    const id = (this.nextLease++).toString(16);
    return { key: `${this.name}/${id}`, lease: id };
  }

  private otherLeader(value: string): LeaderInfo {
    const current = this.attached().current.leader;
    if (current && current.value === value && current.key !== this.attached().current.key) {
      return current;
    }
    const lease = (this.nextLease++).toString(16);
    return { key: `${this.name}/${lease}`, value, lease, revision: String(++this.revision) };
  }

  private endTerm(reason: LeadershipReason): void {
    const term = this.term;
    if (!term) return;
    this.term = undefined;
    this.stats.lost++;
    term.controller.abort(new LeadershipLostError(this.name ?? '', reason));
  }

  private update(patch: Partial<Leadership>): void {
    this.attached().update(patch);
  }
}

function notAttached(): string {
  return (
    'This TestElection is not bound to an election yet: import ElectionTestingModule.forRoot() ' +
    'and compile the testing module (moduleRef.init() or app.init()) before driving it.'
  );
}

function alreadyAttached(current: string, next: string): string {
  return (
    `This TestElection already stands in for election "${current}" and cannot also serve ` +
    `"${next}": each compiled testing module gets its own (use getTestElection(moduleRef)).`
  );
}
