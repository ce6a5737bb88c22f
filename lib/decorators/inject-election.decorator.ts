/** `@InjectElection(name)`: injects the `ElectionService` of one election. */
import { Inject } from '@nestjs/common';
import { getElectionToken } from '../election.constants.js';
import { ElectionService } from '../elections/election.service.js';

/**
 * Injects the `ElectionService` of election `name`; without a name, the default election (the
 * same as injecting `ElectionService` by type).
 *
 * @example
 * ```ts
 * constructor(@InjectElection('orders') private readonly orders: ElectionService) {}
 * ```
 */
export function InjectElection(name?: string): PropertyDecorator & ParameterDecorator {
  return Inject(name === undefined ? ElectionService : getElectionToken(name));
}
