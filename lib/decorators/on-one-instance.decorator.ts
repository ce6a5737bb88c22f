/** `@OnOneInstance()`: a job that runs on one replica at a time, on its own election. */
import { Logger } from '@nestjs/common';
import { ElectionOptionsError } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT, ON_ONE_INSTANCE_METADATA } from '../election.constants.js';
import { jobUnboundMessage, notMethodMessage } from '../election.messages.js';
import { boundTo } from './instance-bindings.js';
import { checkJobOptions } from './job-options.js';
import { wrapMethod } from './wrap-method.js';

/** Options of {@link OnOneInstance}. */
export interface OnOneInstanceOptions {
  /**
   * The job's election name (an etcd prefix, shared with every process and language campaigning
   * on it).
   * @default `nestjs-etcd-election/one-instance/<Class>.<method>`
   */
  name?: string;
  /**
   * Spread the leadership of balanced jobs across the replicas (each leads about its fair share),
   * instead of letting the first replica up lead them all.
   * @default true
   */
  balance?: boolean;
}

/** @internal What `@OnOneInstance` stores on the wrapper it installs. */
export interface OnOneInstanceMetadata {
  /** `Class.method`. */
  label: string;
  name?: string;
  balance: boolean;
}

const logger = new Logger(ELECTION_LOGGER_CONTEXT);

/**
 * The job runs on one instance of the application at a time: it gets its own election (on the
 * application's shared etcd session, no registration needed), and a run happens only where this
 * instance leads it, checked against the lease deadline at call time; elsewhere the run is
 * skipped and returns undefined. Inside a run, `currentLeaderSignal()` gives the term's signal,
 * which aborts the moment the job moves to another instance.
 *
 * Works stacked above or below `@Cron`, `@Interval` and `@Timeout` of `@nestjs/schedule`.
 *
 * @example
 * ```ts
 * @Cron('0 * * * * *')
 * @OnOneInstance()
 * async sweep() {
 *   await this.db.purgeExpired({ signal: currentLeaderSignal() });
 * }
 * ```
 */
export function OnOneInstance(options: OnOneInstanceOptions = {}): MethodDecorator {
  checkOptions(options);
  return wrapMethod(label => {
    const metadata: OnOneInstanceMetadata = {
      label,
      name: options.name,
      balance: options.balance ?? true,
    };
    return {
      notMethod: notMethodMessage('@OnOneInstance', label),
      metadata: [ON_ONE_INSTANCE_METADATA, metadata],
      logger,
      gate(self) {
        const jobs = boundTo(self)?.jobs;
        return jobs && (run => jobs.run(label, run));
      },
      unbound: () => jobUnboundMessage('@OnOneInstance', label, 'election'),
      skipped: () => undefined,
    };
  });
}

function checkOptions(options: OnOneInstanceOptions): void {
  checkJobOptions('@OnOneInstance', options, 'an object { name?, balance? }', 'election');
  const { balance } = options;
  if (balance !== undefined && typeof balance !== 'boolean') {
    throw new ElectionOptionsError('@OnOneInstance balance', balance, 'true or false');
  }
}
