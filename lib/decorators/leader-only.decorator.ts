import { Logger } from '@nestjs/common';
import { ElectionError } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT, LEADER_ONLY_METADATA } from '../election.constants.js';
import { leaderOnlyNotMethodMessage, leaderOnlyUnresolvedMessage } from '../election.messages.js';
import type { ElectionMethodMetadata } from '../election-metadata.accessor.js';
import { resolveElection } from '../election.registry.js';

const logger = new Logger(ELECTION_LOGGER_CONTEXT);
const warned = new Set<string>();

/**
 * Runs the method only while this node leads the election, checked at call time against the
 * lease deadline; otherwise the call is skipped and returns `undefined`. While it runs, it (and
 * everything it awaits) can reach the term's signal with `currentLeaderSignal()`; shutdown waits
 * for a running call (up to `shutdownTimeout`) before resigning.
 *
 * Works stacked above or below `@Cron`, `@Interval` and `@Timeout` of `@nestjs/schedule`: the
 * wrapper carries every metadata of the original method.
 *
 * @param election The election name; omitted = the default election.
 *
 * @example
 * ```ts
 * @Cron('0 * * * * *')
 * @LeaderOnly()
 * async sweep() {
 *   await this.db.purgeExpired({ signal: currentLeaderSignal() });
 * }
 * ```
 */
export function LeaderOnly(election?: string): MethodDecorator {
  return (target, property, descriptor) => {
    const original: unknown = descriptor.value;
    const label = `${target.constructor.name}.${String(property)}`;
    if (typeof original !== 'function') throw new ElectionError(leaderOnlyNotMethodMessage(label));
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      const { service, candidates } = resolveElection(this, election);
      if (!service) {
        if (!warned.has(label)) {
          warned.add(label);
          logger.warn(leaderOnlyUnresolvedMessage(label, election, candidates));
        }
        return undefined;
      }
      return service.runAsLeader(label, () => original.apply(this, args));
    };
    // Metadata set by decorators applied before this one (@Cron below us …) moves to the wrapper;
    // decorators applied after it (@Cron above us) write to the wrapper directly.
    for (const key of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
    }
    const metadata: ElectionMethodMetadata = { election };
    Reflect.defineMetadata(LEADER_ONLY_METADATA, metadata, wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Object.defineProperty(wrapper, 'length', { value: original.length });
    descriptor.value = wrapper as typeof descriptor.value;
    return descriptor;
  };
}
