/** The module every registration imports once: connections, locks and single-instance jobs. */
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ElectionBalancerModule } from './elections/election-balancer.module.js';
import { ElectionConnections } from './election.connections.js';
import { JobsExplorer } from './jobs/jobs.explorer.js';
import { LockService } from './locks/lock.service.js';
import { OneInstanceService } from './jobs/one-instance.service.js';

/**
 * @internal What every registration of an application shares, once, election or not: the clients
 * and sessions (`ElectionConnections`), the `LockService`, the `@OnOneInstance` jobs and the
 * explorer of `@WithoutOverlapping` and `@OnOneInstance` methods.
 */
@Global()
@Module({
  imports: [DiscoveryModule, ElectionBalancerModule],
  providers: [ElectionConnections, LockService, OneInstanceService, JobsExplorer],
  exports: [LockService, OneInstanceService, ElectionConnections],
})
export class ElectionSharedModule {}
