/** `@WithoutOverlapping()`: each run of a job holds its Go-compatible lock. */
import { Logger } from '@nestjs/common';
import { ElectionOptionsError } from '../core/index.js';
import { LOCK_LOGGER_CONTEXT, WITHOUT_OVERLAPPING_METADATA } from '../election.constants.js';
import { jobUnboundMessage, notMethodMessage } from '../election.messages.js';
import { boundTo } from './instance-bindings.js';
import { checkJobOptions } from './job-options.js';
import { wrapMethod } from './wrap-method.js';

/** Options of {@link WithoutOverlapping}. */
export interface WithoutOverlappingOptions {
  /**
   * The lock name (an etcd prefix, shared with every process and language locking it).
   * @default `nestjs-etcd-election/jobs/<Class>.<method>`
   */
  name?: string;
  /**
   * Milliseconds a run waits for the lock when another replica (or service) holds it, then is
   * skipped. A run never waits behind this replica's own previous run of the job: that one is
   * skipped at once. Omitted: a run that finds the lock held is skipped at once.
   */
  wait?: number;
}

/** @internal What `@WithoutOverlapping` stores on the wrapper it installs. */
export interface WithoutOverlappingMetadata extends WithoutOverlappingOptions {
  /** `Class.method`. */
  label: string;
}

const logger = new Logger(LOCK_LOGGER_CONTEXT);

/**
 * Each run of the method holds the job's Go-compatible etcd mutex, so that runs never overlap
 * across the replicas (nor inside one). A run that finds the lock held elsewhere is skipped and
 * counted (`LockService.jobs()`), or waits up to `wait` ms. Inside a run, `currentLock()` gives
 * the lock: pass its `signal` on, it aborts if the lock is lost.
 *
 * Works stacked above or below `@Cron`, `@Interval` and `@Timeout` of `@nestjs/schedule`. A
 * skipped run returns undefined.
 *
 * @example
 * ```ts
 * @Cron('0 * * * * *')
 * @WithoutOverlapping()
 * async report() {
 *   await this.reports.build({ signal: currentLock()!.signal });
 * }
 * ```
 */
export function WithoutOverlapping(options: WithoutOverlappingOptions = {}): MethodDecorator {
  checkOptions(options);
  return wrapMethod(label => ({
    notMethod: notMethodMessage('@WithoutOverlapping', label),
    metadata: [
      WITHOUT_OVERLAPPING_METADATA,
      { ...options, label } satisfies WithoutOverlappingMetadata,
    ],
    logger,
    gate(self) {
      const locks = boundTo(self)?.locks;
      return locks && (run => locks.runJob(label, run));
    },
    unbound: () => jobUnboundMessage('@WithoutOverlapping', label, 'lock service'),
    skipped: () => Promise.resolve(undefined),
  }));
}

function checkOptions(options: WithoutOverlappingOptions): void {
  checkJobOptions('@WithoutOverlapping', options, 'an object { name?, wait? }', 'lock');
  const { wait } = options;
  if (wait !== undefined && (typeof wait !== 'number' || !(wait >= 0) || !isFinite(wait))) {
    throw new ElectionOptionsError(
      '@WithoutOverlapping wait',
      wait,
      'a number of milliseconds, 0 or more (omit it to skip a run at once when the lock is held)',
      'lock',
    );
  }
}
