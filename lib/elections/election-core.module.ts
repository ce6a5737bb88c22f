/** The module every election registration imports once: registry, explorer, default token. */
import { Global, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ElectionBalancerModule } from './election-balancer.module.js';
import { ElectionExplorer } from './election.explorer.js';
import { ElectionMetadataAccessor } from './election-metadata.accessor.js';
import { ElectionRegistry } from './election.registry.js';
import { ElectionService } from './election.service.js';
import { ElectionShutdown } from './election.shutdown.js';

/**
 * @internal What every election of an application shares, once: the registry, the explorer and
 * the `ElectionService` class token, which resolves to the default election. Imported by each
 * `ElectionModule.forRoot*()` registration.
 */
@Global()
@Module({
  imports: [DiscoveryModule, ElectionBalancerModule],
  providers: [
    ElectionRegistry,
    ElectionMetadataAccessor,
    ElectionExplorer,
    ElectionShutdown,
    {
      provide: ElectionService,
      useFactory: (registry: ElectionRegistry) => registry.whenComplete(),
      inject: [ElectionRegistry],
    },
  ],
  exports: [ElectionRegistry, ElectionService],
})
export class ElectionCoreModule {}
