import { Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { discoveredInstances } from './election-discovery.js';
import { ElectionOptionsError } from './core/index.js';
import { bindInstance } from './decorators/instance-bindings.js';
import type { OnOneInstanceMetadata } from './decorators/on-one-instance.decorator.js';
import {
  ELECTION_LOGGER_CONTEXT,
  ON_ONE_INSTANCE_METADATA,
  ON_ONE_INSTANCE_PREFIX,
} from './election.constants.js';
import { nonStaticOneInstanceMessage } from './election.messages.js';
import { ElectionRegistry } from './election.registry.js';
import { OneInstanceService } from './one-instance.service.js';

/**
 * @internal Finds `@OnOneInstance` methods on every controller and provider at `onModuleInit`,
 * gives each job its election (named by its options, else `Class.method` under
 * `nestjs-etcd-election/one-instance/`) and binds the instance to it, so a run needs no lookup.
 */
@Injectable()
export class OneInstanceExplorer implements OnModuleInit {
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly jobs: OneInstanceService,
    @Optional() private readonly registry?: ElectionRegistry,
  ) {}

  onModuleInit(): void {
    for (const { instance, prototype, isStatic } of discoveredInstances(this.discovery)) {
      for (const key of this.scanner.getAllMethodNames(prototype)) {
        const method: unknown = instance[key];
        if (typeof method !== 'function') continue;
        const job = this.reflector.get<OnOneInstanceMetadata | undefined>(
          ON_ONE_INSTANCE_METADATA,
          method,
        );
        if (!job) continue;
        if (!isStatic) {
          this.logger.warn(nonStaticOneInstanceMessage(job.label));
          continue;
        }
        const name = job.name ?? `${ON_ONE_INSTANCE_PREFIX}${job.label}`;
        // On the shared lease, a second candidate on the name of a registered election would
        // write the very same key and believe it leads alongside it.
        if (this.registry?.find(name)) {
          throw new ElectionOptionsError(
            '@OnOneInstance name',
            name,
            `a name no ElectionModule registration uses (${job.label} would share its key)`,
          );
        }
        this.jobs.add({ label: job.label, name, balance: job.balance });
        bindInstance(instance, { jobs: this.jobs });
      }
    }
  }
}
