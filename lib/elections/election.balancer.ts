/** The one balancer of an application: spreads leadership of balanced elections over replicas. */
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import { type BalancedElection, Balancer, type RebalanceStep } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT } from '../election.constants.js';
import { balancerErrorMessage, rebalancedMessage } from '../election.messages.js';

/**
 * The one balancer of an application: spreads the leadership of its balanced elections
 * (`balance: true`, and `@OnOneInstance` jobs) across the replicas that campaign in them, so
 * that none leads more than ceil(E / R) of them. See the README, "Balancing".
 */
@Injectable()
export class ElectionBalancer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);
  private readonly balancer = new Balancer({
    onStep: step => this.onStep(step),
    onError: error => this.onError(error),
  });

  /**
   * Balances `election` (an `ElectionService`, or the election of a job) with the others of
   * this application, from bootstrap until shutdown. All of them must campaign with the same
   * value; throws `ElectionOptionsError` otherwise.
   */
  add(election: BalancedElection): void {
    this.balancer.add(election);
  }

  /** Stops balancing `election` (it keeps campaigning). */
  remove(election: BalancedElection): void {
    this.balancer.remove(election);
  }

  /**
   * True while the spread is settled as far as this replica can tell: the balancer waits for a
   * queue to change, reading nothing meanwhile.
   */
  get idle(): boolean {
    return this.balancer.idle;
  }

  /** Nest lifecycle hook: starts balancing. */
  onApplicationBootstrap(): void {
    this.balancer.start();
  }

  /** Nest lifecycle hook: stops balancing before the elections step down for shutdown. */
  async onModuleDestroy(): Promise<void> {
    await this.balancer.stop();
  }

  private onStep(step: RebalanceStep): void {
    const line = rebalancedMessage(step);
    if (step.kind === 'resign') this.logger.log(line);
    else this.logger.debug(line);
  }

  /** One line per streak of failures: the elections log etcd's state themselves. */
  private onError(error: unknown): void {
    this.logger.warn(balancerErrorMessage(error));
  }
}
