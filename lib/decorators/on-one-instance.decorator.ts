import { Logger } from '@nestjs/common';
import { ElectionError, ElectionOptionsError } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT, ON_ONE_INSTANCE_METADATA } from '../election.constants.js';
import { oneInstanceNotMethodMessage, oneInstanceUnboundMessage } from '../election.messages.js';
import type { OneInstanceService } from '../one-instance.service.js';

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

const BOUND = Symbol('nestjs-etcd-election:one-instance-service');

/** @internal Ties a provider instance to its application's job elections (the explorer does). */
export function bindOneInstanceService(instance: object, service: OneInstanceService): void {
  Object.defineProperty(instance, BOUND, { value: service, configurable: true });
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
  return (target, property, descriptor) => {
    const original: unknown = descriptor.value;
    const label = `${target.constructor.name}.${String(property)}`;
    if (typeof original !== 'function') {
      throw new ElectionError(oneInstanceNotMethodMessage(label));
    }
    let warned = false;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      const service =
        typeof this === 'object' && this !== null
          ? ((this as Record<symbol, unknown>)[BOUND] as OneInstanceService | undefined)
          : undefined;
      if (!service) {
        if (!warned) {
          warned = true;
          logger.warn(oneInstanceUnboundMessage(label));
        }
        return undefined;
      }
      return service.run(label, () => original.apply(this, args));
    };
    // Metadata of decorators applied before this one (@Cron below us) moves to the wrapper;
    // decorators applied after it (@Cron above us) write to the wrapper directly.
    for (const key of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
    }
    const metadata: OnOneInstanceMetadata = {
      label,
      name: options.name,
      balance: options.balance ?? true,
    };
    Reflect.defineMetadata(ON_ONE_INSTANCE_METADATA, metadata, wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Object.defineProperty(wrapper, 'length', { value: original.length });
    descriptor.value = wrapper as typeof descriptor.value;
    return descriptor;
  };
}

function checkOptions(options: OnOneInstanceOptions): void {
  if (typeof options !== 'object' || options === null) {
    throw new ElectionOptionsError(
      '@OnOneInstance options',
      options,
      'an object { name?, balance? }',
    );
  }
  const { name, balance } = options;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new ElectionOptionsError('@OnOneInstance name', name, 'a non-empty string');
  }
  if (balance !== undefined && typeof balance !== 'boolean') {
    throw new ElectionOptionsError('@OnOneInstance balance', balance, 'true or false');
  }
}
