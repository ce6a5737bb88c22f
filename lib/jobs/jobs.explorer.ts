/** Wires the `@WithoutOverlapping` and `@OnOneInstance` jobs of an application at bootstrap. */
import { Injectable, Logger, type OnModuleInit, Optional } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ElectionOptionsError } from '../core/index.js';
import { bindInstance } from '../decorators/instance-bindings.js';
import type { OnOneInstanceMetadata } from '../decorators/on-one-instance.decorator.js';
import type { WithoutOverlappingMetadata } from '../decorators/without-overlapping.decorator.js';
import {
  ELECTION_LOGGER_CONTEXT,
  LOCK_LOGGER_CONTEXT,
  ON_ONE_INSTANCE_METADATA,
  ON_ONE_INSTANCE_PREFIX,
  WITHOUT_OVERLAPPING_METADATA,
  WITHOUT_OVERLAPPING_PREFIX,
} from '../election.constants.js';
import { discoveredInstances } from '../election-discovery.js';
import { nonStaticJobMessage } from '../election.messages.js';
import { ElectionRegistry } from '../elections/election.registry.js';
import { LockService } from '../locks/lock.service.js';
import { OneInstanceService } from './one-instance.service.js';

/**
 * @internal Finds `@WithoutOverlapping` and `@OnOneInstance` methods on every controller and
 * provider at `onModuleInit`, registers each job with the application's `LockService` or
 * `OneInstanceService` (named by its options, else `Class.method` under the decorator's prefix)
 * and binds the instance to it, so a run needs no lookup.
 */
@Injectable()
export class JobsExplorer implements OnModuleInit {
  private readonly lockLogger = new Logger(LOCK_LOGGER_CONTEXT);
  private readonly electionLogger = new Logger(ELECTION_LOGGER_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly locks: LockService,
    private readonly jobs: OneInstanceService,
    @Optional() private readonly registry?: ElectionRegistry,
  ) {}

  onModuleInit(): void {
    for (const { instance, prototype, isStatic } of discoveredInstances(this.discovery)) {
      for (const key of this.scanner.getAllMethodNames(prototype)) {
        const method: unknown = instance[key];
        if (typeof method !== 'function') continue;
        const locked = this.reflector.get<WithoutOverlappingMetadata | undefined>(
          WITHOUT_OVERLAPPING_METADATA,
          method,
        );
        if (locked) this.addLockedJob(instance, locked, isStatic);
        const single = this.reflector.get<OnOneInstanceMetadata | undefined>(
          ON_ONE_INSTANCE_METADATA,
          method,
        );
        if (single) this.addOneInstanceJob(instance, single, isStatic);
      }
    }
  }

  private addLockedJob(instance: object, job: WithoutOverlappingMetadata, isStatic: boolean): void {
    if (!isStatic) {
      this.lockLogger.warn(nonStaticJobMessage('@WithoutOverlapping', job.label));
      return;
    }
    this.locks.addJob({
      label: job.label,
      name: job.name ?? `${WITHOUT_OVERLAPPING_PREFIX}${job.label}`,
      wait: job.wait,
    });
    bindInstance(instance, { locks: this.locks });
  }

  private addOneInstanceJob(instance: object, job: OnOneInstanceMetadata, isStatic: boolean): void {
    if (!isStatic) {
      this.electionLogger.warn(nonStaticJobMessage('@OnOneInstance', job.label));
      return;
    }
    const name = job.name ?? `${ON_ONE_INSTANCE_PREFIX}${job.label}`;
    // On the shared lease, a second candidate on the name of a registered election would write
    // the very same key and believe it leads alongside it.
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
