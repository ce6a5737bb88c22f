/** `@CurrentLeadership()`: the election's snapshot as a route handler parameter. */
import { Injectable, type PipeTransform, createParamDecorator } from '@nestjs/common';
import type { Leadership } from '../core/index.js';
import { ElectionRegistry } from '../elections/election.registry.js';

/** Resolves the election named by the decorator's data into its current snapshot. */
@Injectable()
export class LeadershipPipe implements PipeTransform<string | undefined, Leadership> {
  constructor(private readonly registry: ElectionRegistry) {}

  transform(election: string | undefined): Leadership {
    return this.registry.get(election).leadership;
  }
}

const ElectionName = createParamDecorator((election: string | undefined) => election);

/**
 * Injects the `Leadership` snapshot of the election (at the time of the request) into a
 * controller method parameter.
 *
 * @param election The election name; omitted = the default election.
 *
 * @example
 * ```ts
 * @Get('leadership')
 * show(@CurrentLeadership() leadership: Leadership) {
 *   return leadership;
 * }
 * ```
 */
export function CurrentLeadership(election?: string): ParameterDecorator {
  return ElectionName(election, LeadershipPipe);
}
