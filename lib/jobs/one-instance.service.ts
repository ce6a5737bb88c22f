/** The elections of the `@OnOneInstance` jobs of one application, and the runs of those jobs. */
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
  Optional,
} from '@nestjs/common';
import { type Candidate, ElectionError, type ResolvedCandidateOptions } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT } from '../election.constants.js';
import { ElectionConnections, type JoinedRegistration } from '../election.connections.js';
import { runInTerm } from '../elections/election.context.js';
import { createCandidate } from '../election.engines.js';
import {
  drainTimedOutMessage,
  duplicateOneInstanceMessage,
  oneInstanceStateMessage,
} from '../election.messages.js';
import { ElectionBalancer } from '../elections/election.balancer.js';
import { ElectionRegistry } from '../elections/election.registry.js';
import { WorkTracker } from '../work-tracker.js';

/** Counters and standing of one `@OnOneInstance` job in this process. */
export interface OneInstanceJobStats {
  /** `Class.method`. */
  label: string;
  /** The job's election name. */
  name: string;
  /** Whether the job takes part in balancing. */
  balance: boolean;
  /** Whether this instance leads the job now (checked against the lease deadline). */
  leading: boolean;
  /** Runs that happened here (this instance led). */
  runs: number;
  /** Runs skipped here because another instance leads (or none does). */
  skipped: number;
}

/** @internal A job the explorer found: its election name and whether it is balanced. */
export interface OneInstanceBinding {
  label: string;
  name: string;
  balance: boolean;
}

/** @internal One job's election and counters. */
export interface OneInstanceJob extends OneInstanceBinding {
  candidate: Candidate;
  runs: number;
  skipped: number;
  /** Runs in flight. */
  work: WorkTracker;
}

/**
 * The elections of the `@OnOneInstance` jobs of one application: one election per job, all on the
 * application's shared etcd session (the connection `LockService` uses: the connection-only
 * registration, else the first election's), campaigning from bootstrap and resigning on shutdown
 * once running jobs have settled (up to `shutdownTimeout`). Every job campaigns with this
 * replica's value: the default election's, else the connection-only registration's `value`,
 * else `<hostname>-<pid>`.
 */
@Injectable()
export class OneInstanceService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);
  private readonly byLabel = new Map<string, OneInstanceJob>();
  private readonly byName = new Map<string, OneInstanceJob>();
  private joined?: JoinedRegistration & { settings: ResolvedCandidateOptions };
  private started = false;
  private stopping?: Promise<void>;

  /** @internal Created by `ElectionModule`; inject it. */
  constructor(
    private readonly connections: ElectionConnections,
    @Optional() private readonly registry?: ElectionRegistry,
    @Optional() private readonly balancer?: ElectionBalancer,
  ) {}

  /** Counters and standing of every `@OnOneInstance` job of this application. A snapshot. */
  jobs(): OneInstanceJobStats[] {
    return [...this.byLabel.values()].map(job => ({
      label: job.label,
      name: job.name,
      balance: job.balance,
      leading: job.candidate.isLeader(),
      runs: job.runs,
      skipped: job.skipped,
    }));
  }

  /**
   * @internal Every job election, with its `balance` option: where a balancer attaches (one
   * `Candidate` per job, all on the same shared session).
   */
  elections(): ReadonlyArray<Pick<OneInstanceJob, 'label' | 'name' | 'balance' | 'candidate'>> {
    return [...this.byLabel.values()];
  }

  /** @internal Registers a job (the explorer does, at `onModuleInit`): its election is made here. */
  add(binding: OneInstanceBinding): void {
    if (this.byLabel.has(binding.label)) return;
    const taken = this.byName.get(binding.name);
    if (taken) {
      throw new ElectionError(
        duplicateOneInstanceMessage(binding.name, taken.label, binding.label),
      );
    }
    const { registration, connection, settings } = this.connection();
    // The value of the application's default election, so that every election of this replica
    // (jobs included) names it alike: balancing counts replicas by value. Without one, the
    // connection-only registration's value (its default is `<hostname>-<pid>`).
    const value = this.registry?.find()?.leadership.value ?? registration.value;
    const candidate = createCandidate(
      connection.client,
      { election: binding.name, value, settings },
      connection.sessions,
    );
    const job: OneInstanceJob = {
      ...binding,
      candidate,
      runs: 0,
      skipped: 0,
      work: new WorkTracker(),
    };
    let role: string | undefined;
    candidate.leadership$.subscribe(leadership => {
      if (leadership.role === role) return;
      const first = role === undefined;
      role = leadership.role;
      if (!first) {
        this.logger.log(
          oneInstanceStateMessage(job.label, job.name, leadership.role, leadership.reason),
        );
      }
    });
    this.byLabel.set(job.label, job);
    this.byName.set(job.name, job);
    // Balanced jobs (the default) spread across replicas: the application's one balancer counts
    // them with its balanced elections.
    if (job.balance) this.balancer?.add(candidate);
    if (this.started) candidate.start();
  }

  /**
   * @internal One run of a job: calls `fn` inside the term's context (`currentLeaderSignal()`) if
   * this instance leads the job now, checked against the lease deadline; else skips it (returns
   * undefined).
   */
  run<T>(label: string, fn: () => T): T | undefined {
    const job = this.byLabel.get(label);
    if (!job) throw new ElectionError(`@OnOneInstance ${label} is not registered.`);
    const term = job.candidate.currentTerm();
    if (!term) {
      job.skipped++;
      return undefined;
    }
    job.runs++;
    const result = runInTerm(job.name, term, fn);
    if (result instanceof Promise) void job.work.track(job.label, result);
    return result;
  }

  /** Nest lifecycle hook: campaigns for every job. */
  onApplicationBootstrap(): void {
    this.started = true;
    for (const job of this.byLabel.values()) job.candidate.start();
  }

  /**
   * Nest lifecycle hook, in the first shutdown phase: every job's term ends (signals abort), running jobs get
   * up to `shutdownTimeout` to settle while this instance keeps their places, then each election
   * resigns, so another instance takes over at once.
   */
  onModuleDestroy(): Promise<void> {
    this.stopping ??= (async () => {
      const timeout = this.joined?.registration.shutdownTimeout ?? 5000;
      for (const job of this.byLabel.values()) {
        if (job.balance) this.balancer?.remove(job.candidate);
      }
      await Promise.allSettled(
        [...this.byLabel.values()].map(job =>
          job.candidate.stop({ drain: () => this.drain(job, timeout) }),
        ),
      );
    })();
    return this.stopping;
  }

  private async drain(job: OneInstanceJob, timeout: number): Promise<void> {
    const late = await job.work.drain(timeout);
    if (late.length > 0) this.logger.warn(drainTimedOutMessage(job.name, timeout, late));
  }

  /**
   * The jobs' connection, and their settings: those of its registration, as resolved, with the
   * observe loop on (the balancer follows each job's leader).
   */
  private connection(): JoinedRegistration & { settings: ResolvedCandidateOptions } {
    if (!this.joined) {
      const joined = this.connections.forJobs('@OnOneInstance jobs');
      this.joined = { ...joined, settings: { ...joined.registration.settings, observe: true } };
    }
    return this.joined;
  }
}
