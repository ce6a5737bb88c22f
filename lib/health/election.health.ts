/** The terminus health indicator of the elections and their sessions. */
import { Injectable } from '@nestjs/common';
import { HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { ElectionRegistry } from '../elections/election.registry.js';

/** What {@link ElectionHealthIndicator.isHealthy} reports besides its status. */
export type ElectionHealthDetails = {
  /** The election name. */
  election: string;
  /** This node's role. */
  role: 'leader' | 'follower' | 'disconnected';
  /** Why (the event of the latest transition). */
  reason: string;
  /** The current leader's value, when known. */
  leader: string | null;
  /** When the role last changed (ISO 8601). */
  since: string;
};

/**
 * A `@nestjs/terminus` health indicator for an election: up (with the role and the leader) while
 * this node holds a live etcd session, leader or follower alike; down when it has none (etcd
 * unreachable, session lost and not yet renewed, or the election stopped). Add it to the
 * `providers` of a module that imports `TerminusModule`.
 *
 * @example
 * ```ts
 * @Get('health')
 * @HealthCheck()
 * check() {
 *   return this.health.check([() => this.election.isHealthy('election')]);
 * }
 * ```
 */
@Injectable()
export class ElectionHealthIndicator {
  constructor(
    private readonly health: HealthIndicatorService,
    private readonly registry: ElectionRegistry,
  ) {}

  /**
   * Reports the election under `key`.
   *
   * @param options.election The election name; omitted = the default election.
   */
  async isHealthy<const Key extends string>(
    key: Key,
    options: { election?: string } = {},
  ): Promise<HealthIndicatorResult<Key>> {
    const election = this.registry.get(options.election);
    const leadership = election.leadership;
    const details: ElectionHealthDetails = {
      election: election.name,
      role: leadership.role,
      reason: leadership.reason,
      leader: leadership.leader?.value ?? null,
      since: leadership.since.toISOString(),
    };
    const indicator = this.health.check(key);
    return election.hasSession() ? indicator.up(details) : indicator.down(details);
  }
}
