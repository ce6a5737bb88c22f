/** `@LeaderOnly()`: a method that runs only while this node leads. */
import { Logger } from '@nestjs/common';
import { ELECTION_LOGGER_CONTEXT, LEADER_ONLY_METADATA } from '../election.constants.js';
import { leaderOnlyUnresolvedMessage, notMethodMessage } from '../election.messages.js';
import type { ElectionMethodMetadata } from '../elections/election-metadata.accessor.js';
import { resolveElection } from '../elections/election.registry.js';
import { wrapMethod } from './wrap-method.js';

const logger = new Logger(ELECTION_LOGGER_CONTEXT);

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
  return wrapMethod(label => ({
    notMethod: notMethodMessage('@LeaderOnly', label),
    metadata: [LEADER_ONLY_METADATA, { election } satisfies ElectionMethodMetadata],
    logger,
    gate(self) {
      const { service } = resolveElection(self, election);
      return service && (run => service.runAsLeader(label, run));
    },
    unbound: self =>
      leaderOnlyUnresolvedMessage(label, election, resolveElection(self, election).candidates),
    skipped: () => undefined,
  }));
}
