/** Maps the library's diagnostics events onto Prometheus metrics, one set per registry. */
import diagnostics from 'node:diagnostics_channel';
import { Counter, Gauge, Histogram, type Metric, type Registry, register } from 'prom-client';
import { DIAGNOSTICS_CHANNELS, ElectionOptionsError } from '../core/index.js';
import type * as Events from '../core/diagnostics/events.js';
import type { ElectionMetricsOptions } from './election-metrics.interface.js';
import {
  ELECTION_METRICS,
  HANDOVER_BUCKETS,
  LOCK_WAIT_BUCKETS,
  STEP_DOWN_BUCKETS,
} from './metrics.constants.js';

/** Metrics by registry, with how many applications use them; kept process-wide (dual builds too). */
type SharedMetrics = Map<Registry, { metrics: ElectionMetrics; users: number }>;
const sharedMetrics = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.metrics')
] ??= new Map()) as SharedMetrics;

/** What one candidate of this process last said about itself. */
interface Standing {
  leader: boolean;
  session: boolean;
}

/**
 * Prometheus metrics of every election and lock of this process, fed from the library's
 * diagnostics channels and registered into a prom-client registry (the default one unless told
 * otherwise). Create it before the elections start (Nest does, when `ElectionMetricsModule` is
 * imported); {@link close} unregisters it. One per registry.
 */
export class ElectionMetrics {
  /** The registry the metrics live in. */
  readonly registry: Registry;

  private readonly isLeader: Gauge<'election'>;
  private readonly hasSession: Gauge<'election'>;
  private readonly leaderPresent: Gauge<'election'>;
  private readonly termsWon: Counter<'election'>;
  private readonly termsLost: Counter<'election' | 'reason'>;
  private readonly leaderChanges: Counter<'election'>;
  private readonly sessionLosses: Counter<'reason'>;
  private readonly etcdErrors: Counter<'election' | 'kind'>;
  private readonly rebalanced: Counter<'election'>;
  private readonly handover: Histogram<'election'>;
  private readonly stepDown: Histogram<'election'>;
  private readonly lockHeld: Gauge<'lock'>;
  private readonly lockAcquired: Counter<'lock'>;
  private readonly lockLost: Counter<'lock' | 'reason'>;
  private readonly lockWait: Histogram<'lock'>;

  /** election → candidate value → its standing, for several candidates of one election here. */
  private readonly standings = new Map<string, Map<string, Standing>>();
  /** election → key of the last leader seen, so that two local observers count a change once. */
  private readonly lastLeader = new Map<string, string | undefined>();
  /** election → key of the leader of the last handover timed, so each is timed once. */
  private readonly lastHandover = new Map<string, string>();
  /** lock → keys this process holds under it. */
  private readonly locksHeld = new Map<string, Set<string>>();
  private readonly metrics: Array<{ name: string; metric: Metric }> = [];
  private readonly subscriptions: Array<() => void> = [];
  private closed = false;

  constructor(options: ElectionMetricsOptions = {}) {
    const registry = options.registry ?? register;
    if (
      typeof registry !== 'object' ||
      registry === null ||
      typeof (registry as Registry).registerMetric !== 'function'
    ) {
      throw new ElectionOptionsError(
        'registry',
        registry,
        "a prom-client Registry (omit it for prom-client's default register)",
      );
    }
    this.registry = registry;
    for (const name of Object.values(ELECTION_METRICS)) {
      if (registry.getSingleMetric(name)) {
        throw new ElectionOptionsError(
          'registry',
          `a registry that already holds "${name}"`,
          "a registry without this library's metrics: close() the other ElectionMetrics first, or give each its own registry",
        );
      }
    }
    const registers = [registry];
    const gauge = <L extends string>(name: string, help: string, labelNames: L[]) =>
      this.track(name, new Gauge<L>({ name, help, labelNames, registers }));
    const counter = <L extends string>(name: string, help: string, labelNames: L[]) =>
      this.track(name, new Counter<L>({ name, help, labelNames, registers }));
    const histogram = <L extends string>(
      name: string,
      help: string,
      labelNames: L[],
      buckets: number[],
    ) => this.track(name, new Histogram<L>({ name, help, labelNames, buckets, registers }));

    const m = ELECTION_METRICS;
    this.isLeader = gauge(m.isLeader, '1 while this process leads the election.', ['election']);
    this.hasSession = gauge(
      m.hasSession,
      '1 while this process holds a live etcd session for the election.',
      ['election'],
    );
    this.leaderPresent = gauge(
      m.leaderPresent,
      '1 while this process sees a leader of the election (any implementation).',
      ['election'],
    );
    this.termsWon = counter(m.termsWon, 'Terms this process won.', ['election']);
    this.termsLost = counter(m.termsLost, 'Terms this process ended, by reason.', [
      'election',
      'reason',
    ]);
    this.leaderChanges = counter(m.leaderChanges, 'Changes of leader this process observed.', [
      'election',
    ]);
    this.sessionLosses = counter(m.sessionLosses, 'etcd sessions (leases) lost, by reason.', [
      'reason',
    ]);
    this.etcdErrors = counter(m.etcdErrors, 'etcd errors met and retried, by kind.', [
      'election',
      'kind',
    ]);
    this.rebalanced = counter(m.rebalanced, 'Terms given up to spread leadership.', ['election']);
    this.handover = histogram(
      m.handover,
      'Seconds from the old leader key deleted to the new leader seen.',
      ['election'],
      HANDOVER_BUCKETS,
    );
    this.stepDown = histogram(
      m.stepDownAfterDeadline,
      'Seconds from the local lease deadline to the step-down.',
      ['election'],
      STEP_DOWN_BUCKETS,
    );
    this.lockHeld = gauge(m.lockHeld, '1 while this process holds the lock.', ['lock']);
    this.lockAcquired = counter(m.lockAcquired, 'Times this process acquired the lock.', ['lock']);
    this.lockLost = counter(m.lockLost, 'Times this process lost the lock, by reason.', [
      'lock',
      'reason',
    ]);
    this.lockWait = histogram(
      m.lockWait,
      'Seconds spent waiting for the lock.',
      ['lock'],
      LOCK_WAIT_BUCKETS,
    );

    const c = DIAGNOSTICS_CHANNELS;
    this.on<Events.StateEvent>(c.state, e => this.onState(e));
    this.on<Events.ElectedEvent>(c.elected, e => this.onElected(e));
    this.on<Events.TermEndedEvent>(c.lost, e => this.onTermEnded(e));
    this.on<Events.TermEndedEvent>(c.resigned, e => this.onTermEnded(e));
    this.on<Events.LeaderObservedEvent>(c.leaderObserved, e => this.onLeaderObserved(e));
    this.on<Events.SessionLostEvent>(c.sessionLost, e =>
      this.sessionLosses.inc({ reason: e.reason }),
    );
    this.on<Events.EtcdErrorEvent>(c.etcdError, e =>
      this.etcdErrors.inc({ election: e.election, kind: e.kind }),
    );
    this.on<Events.RebalancedEvent>(c.rebalanced, e =>
      this.rebalanced.inc({ election: e.election }),
    );
    this.on<Events.LockEvent>(c.lockAcquired, e => this.onLock(e, true));
    this.on<Events.LockEvent>(c.lockReleased, e => this.onLock(e, false));
    this.on<Events.LockEvent>(c.lockLost, e => {
      this.lockLost.inc({ lock: e.name, reason: e.reason ?? 'unknown' });
      this.onLock(e, false);
    });
  }

  /** Unsubscribes from the channels and removes the metrics from the registry. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const unsubscribe of this.subscriptions.splice(0)) unsubscribe();
    for (const { name, metric } of this.metrics.splice(0)) {
      // only ours: another registration of the same name would not be this object
      if (this.registry.getSingleMetric(name) === metric) this.registry.removeSingleMetric(name);
    }
  }

  /**
   * The metrics of `options.registry` (default: prom-client's default register), shared by every
   * application of this process that asks for the same registry — the channels they are fed from
   * are process-wide, so one set per registry counts each event once. Give each one back with
   * {@link release}.
   */
  static shared(options: ElectionMetricsOptions = {}): ElectionMetrics {
    const registry = options.registry ?? register;
    const entry = sharedMetrics.get(registry);
    if (entry && !entry.metrics.closed) {
      entry.users++;
      return entry.metrics;
    }
    const metrics = new ElectionMetrics(options);
    sharedMetrics.set(metrics.registry, { metrics, users: 1 });
    return metrics;
  }

  /** Gives back metrics from {@link shared}; the last user closes them. */
  release(): void {
    const entry = sharedMetrics.get(this.registry);
    if (!entry || entry.metrics !== this) return this.close();
    if (--entry.users > 0) return;
    sharedMetrics.delete(this.registry);
    this.close();
  }

  /** For Nest's lifecycle: {@link release} (the last application using them closes them). */
  onModuleDestroy(): void {
    this.release();
  }

  private track<M extends Metric>(name: string, metric: M): M {
    this.metrics.push({ name, metric });
    return metric;
  }

  private on<T>(name: string, handler: (event: T) => void): void {
    const listener = (message: unknown) => handler(message as T);
    diagnostics.subscribe(name, listener);
    this.subscriptions.push(() => diagnostics.unsubscribe(name, listener));
  }

  private onState({ leadership, previous }: Events.StateEvent): void {
    const { election } = leadership;
    let byValue = this.standings.get(election);
    if (!byValue) this.standings.set(election, (byValue = new Map()));
    if (previous.value !== leadership.value) byValue.delete(previous.value);
    if (leadership.reason === 'stopped') byValue.delete(leadership.value);
    else
      byValue.set(leadership.value, {
        leader: leadership.role === 'leader',
        session: leadership.lease !== undefined,
      });
    const standings = [...byValue.values()];
    this.isLeader.set({ election }, standings.some(s => s.leader) ? 1 : 0);
    this.hasSession.set({ election }, standings.some(s => s.session) ? 1 : 0);
  }

  private onElected({ election, token }: Events.ElectedEvent): void {
    this.termsWon.inc({ election });
    this.leaderPresent.set({ election }, 1);
    this.countLeaderChange(election, token.key);
  }

  private onTermEnded({ election, reason, afterDeadlineMs }: Events.TermEndedEvent): void {
    this.termsLost.inc({ election, reason });
    if (afterDeadlineMs !== undefined) this.stepDown.observe({ election }, afterDeadlineMs / 1000);
  }

  private onLeaderObserved({ election, leader, handoverMs }: Events.LeaderObservedEvent): void {
    this.leaderPresent.set({ election }, leader ? 1 : 0);
    if (!leader) return;
    this.countLeaderChange(election, leader.key);
    if (handoverMs !== undefined && this.lastHandover.get(election) !== leader.key) {
      this.lastHandover.set(election, leader.key);
      this.handover.observe({ election }, handoverMs / 1000);
    }
  }

  /** Counts a change to `key` once, however many local candidates report it. */
  private countLeaderChange(election: string, key: string): void {
    const known = this.lastLeader.has(election);
    if (known && this.lastLeader.get(election) === key) return;
    this.lastLeader.set(election, key);
    // The first leader this process sees is where it came in, not a change (but show the series).
    this.leaderChanges.inc({ election }, known ? 1 : 0);
  }

  private onLock(event: Events.LockEvent, acquired: boolean): void {
    const lock = event.name;
    let keys = this.locksHeld.get(lock);
    if (!keys) this.locksHeld.set(lock, (keys = new Set()));
    if (acquired) {
      keys.add(event.key);
      this.lockAcquired.inc({ lock });
      if (event.waitedMs !== undefined) this.lockWait.observe({ lock }, event.waitedMs / 1000);
    } else {
      keys.delete(event.key);
    }
    this.lockHeld.set({ lock }, keys.size > 0 ? 1 : 0);
  }
}
