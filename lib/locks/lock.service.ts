/** Go-compatible locks on the application's shared etcd session, and the runs of its jobs. */
import { Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import {
  type AcquireOptions,
  ElectionError,
  type Lock,
  LockTimeoutError,
  type Locks,
  LocksClosedError,
  type LocksStats,
  type Sessions,
  type SessionsStats,
} from '../core/index.js';
import { LOCK_LOGGER_CONTEXT } from '../election.constants.js';
import { ElectionConnections } from '../election.connections.js';
import { createLocks } from '../election.engines.js';
import {
  jobLockFailedMessage,
  lockDrainTimedOutMessage,
  lockEtcdErrorMessage,
  lockLostMessage,
} from '../election.messages.js';
import { runWithLock } from './lock.context.js';
import { WorkTracker } from '../work-tracker.js';

/** Counters of one `@WithoutOverlapping` job in this process. */
export interface JobStats {
  /** `Class.method`. */
  label: string;
  /** The lock name the job's runs hold. */
  name: string;
  /** Runs that held the lock and ran. */
  runs: number;
  /** Runs skipped because the lock was held elsewhere (or `wait` ran out). */
  skipped: number;
  /** Runs skipped because etcd could not be asked. */
  errors: number;
}

/** @internal A job the explorer found: its lock name and how long a run may wait. */
export interface JobBinding {
  label: string;
  name: string;
  wait?: number;
}

/**
 * Go-compatible locks (`concurrency.Mutex`, `etcdctl lock`) on the application's etcd session.
 * Every lock of the application shares one lease; acquires of one name inside the application
 * queue up first come first served, so a lock excludes other calls of this process as well as
 * other processes.
 *
 * Available with any `ElectionModule.forRoot*()` registration; `forRoot({ etcd })` without an
 * election registers the connection alone. With several registrations, the connection-only one is
 * used (else the first election's client and session settings).
 */
@Injectable()
export class LockService implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger(LOCK_LOGGER_CONTEXT);
  private sessionOwner?: Sessions;
  private lockOwner?: Locks;
  private readonly jobStats = new Map<string, JobStats & { wait?: number; busy?: boolean }>();
  private errorLogged = false;
  private closing?: Promise<void>;
  private shutdownTimeout = 5000;
  /** Work running under a lock: `withLock` callbacks and job runs. */
  private readonly work = new WorkTracker();

  /** @internal Created by `ElectionModule`; inject it. */
  constructor(private readonly connections: ElectionConnections) {}

  /**
   * Waits for lock `name` (an etcd prefix, as `etcdctl lock NAME` takes it) and resolves with it
   * held. Release it with `release()` or `await using`.
   *
   * @param options.wait Milliseconds to wait, then reject with `LockTimeoutError`. Omitted: as
   *   long as it takes.
   * @param options.signal Aborting gives up (rejects with its reason).
   *
   * Either way of giving up leaves nothing in etcd.
   */
  async acquire(name: string, options: AcquireOptions = {}): Promise<Lock> {
    return this.acquired(await this.locks.acquire(name, options));
  }

  /**
   * Go's `TryLock`: the lock if it is free now, else undefined (nothing left behind). A lock held
   * by this process counts as not free. Rejects when etcd cannot be asked.
   */
  async tryAcquire(
    name: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<Lock | undefined> {
    return this.acquired(await this.locks.tryAcquire(name, options));
  }

  /**
   * Runs `fn` holding lock `name` and releases it when `fn` settles, returning what `fn`
   * returns. Inside, `currentLock()` gives the lock; pass `lock.signal` on, it aborts if the lock
   * is lost.
   */
  async withLock<T>(
    name: string,
    fn: (lock: Lock) => T | Promise<T>,
    options: AcquireOptions = {},
  ): Promise<T> {
    const lock = await this.acquire(name, options);
    try {
      return await this.work.track(
        `withLock("${name}")`,
        runWithLock(lock, () => fn(lock)),
      );
    } finally {
      await lock.release();
    }
  }

  /** The locks this process holds now. */
  held(): Lock[] {
    return this.lockOwner?.held() ?? [];
  }

  /** Counters of the locks and of the shared session, since start. A snapshot. */
  get stats(): LocksStats & { sessions: SessionsStats } {
    return {
      ...(this.lockOwner?.stats ?? this.locks.stats),
      sessions: { ...this.sessions.stats },
    };
  }

  /** Counters of every `@WithoutOverlapping` job of this application. A snapshot. */
  jobs(): JobStats[] {
    return [...this.jobStats.values()].map(({ label, name, runs, skipped, errors }) => ({
      label,
      name,
      runs,
      skipped,
      errors,
    }));
  }

  /** Nest lifecycle hook: picks the connection once every provider exists. */
  onModuleInit(): void {
    void this.locks;
  }

  /**
   * Nest lifecycle hook, in the first shutdown phase (before clients are closed): pending acquires reject,
   * held locks end (signals abort) but keep their keys while the work under them settles (up to
   * `shutdownTimeout`), then the keys are deleted and the lease is revoked.
   */
  async onModuleDestroy(): Promise<void> {
    // The shared session is closed last, by ElectionConnections.
    this.closing ??= this.lockOwner?.close({ drain: () => this.drain() }) ?? Promise.resolve();
    await this.closing;
  }

  /** @internal Registers a `@WithoutOverlapping` job (the explorer does, at bootstrap). */
  addJob(job: JobBinding): void {
    this.jobStats.set(job.label, { ...job, runs: 0, skipped: 0, errors: 0 });
  }

  /**
   * @internal One run of a `@WithoutOverlapping` job: holds its lock around `fn` (inside the
   * lock's context, for `currentLock()`), or skips (resolving undefined) when it is held
   * elsewhere, `wait` runs out, or etcd cannot be asked.
   */
  async runJob<T>(label: string, fn: () => T): Promise<Awaited<T> | undefined> {
    const job = this.jobStats.get(label);
    if (!job) throw new ElectionError(`@WithoutOverlapping ${label} is not registered.`);
    // This replica's previous run (or its wait for the lock) is still going: the lock is held
    // here, and a run never queues behind its own job, or it would start off its tick.
    if (job.busy) {
      job.skipped++;
      return undefined;
    }
    job.busy = true;
    try {
      return await this.runJobOnce(job, fn);
    } finally {
      job.busy = false;
    }
  }

  private async runJobOnce<T>(
    job: JobStats & { wait?: number },
    fn: () => T,
  ): Promise<Awaited<T> | undefined> {
    const { label } = job;
    let lock: Lock | undefined;
    try {
      lock =
        job.wait === undefined
          ? await this.tryAcquire(job.name)
          : await this.acquire(job.name, { wait: job.wait });
    } catch (error) {
      // Shutting down: the run is skipped, as it would be on an instance that is gone.
      if (error instanceof LocksClosedError) return undefined;
      if (!(error instanceof LockTimeoutError)) {
        job.errors++;
        this.logger.warn(jobLockFailedMessage(label, job.name, error));
        return undefined;
      }
    }
    if (!lock) {
      job.skipped++;
      return undefined;
    }
    job.runs++;
    try {
      return await this.work.track(label, runWithLock(lock, fn));
    } finally {
      await lock.release();
    }
  }

  /** Waits up to `shutdownTimeout` for the work under locks to settle. */
  private async drain(): Promise<void> {
    const late = await this.work.drain(this.shutdownTimeout);
    if (late.length > 0) this.logger.warn(lockDrainTimedOutMessage(this.shutdownTimeout, late));
  }

  private get sessions(): Sessions {
    void this.locks;
    return this.sessionOwner!;
  }

  private get locks(): Locks {
    if (this.lockOwner) return this.lockOwner;
    const { registration, connection } = this.connections.forJobs('LockService');
    this.shutdownTimeout = registration.shutdownTimeout;
    const onError = (error: unknown) => this.onError(error);
    this.sessionOwner = connection.sessions;
    // A shared session serves elections too: its failures are news here only while locks wait.
    connection.sessions.onGrantFailed(error => {
      if (this.lockOwner?.busy) onError(error);
    });
    this.lockOwner = createLocks(this.sessionOwner, {
      onLost: (lock, reason) =>
        this.logger.warn(lockLostMessage(lock.name, lock.key, lock.fencingToken, reason)),
      onError,
    });
    return this.lockOwner;
  }

  /** A lock was had: the next etcd error starts a new streak, and is logged. */
  private acquired<T extends Lock | undefined>(lock: T): T {
    if (lock) this.errorLogged = false;
    return lock;
  }

  private onError(error: unknown): void {
    if (this.errorLogged) return;
    this.errorLogged = true;
    this.logger.warn(lockEtcdErrorMessage(error));
  }
}
