/** `@LeaderRoute()`: a route that answers only on the leader. */
import { SetMetadata, UseGuards, applyDecorators } from '@nestjs/common';
import { LEADER_ROUTE_METADATA } from '../election.constants.js';
import { LeaderGuard } from '../guards/leader.guard.js';

/**
 * Makes a route (or every route of a controller) answer only on the leader of the election:
 * `@UseGuards(LeaderGuard)` plus the election's name. Followers answer 503 and name the leader.
 *
 * @param election The election name; omitted = the default election.
 *
 * @example
 * ```ts
 * @Post('rebalance')
 * @LeaderRoute('orders')
 * rebalance() { … }
 * ```
 */
export function LeaderRoute(election?: string): MethodDecorator & ClassDecorator {
  return applyDecorators(SetMetadata(LEADER_ROUTE_METADATA, { election }), UseGuards(LeaderGuard));
}
