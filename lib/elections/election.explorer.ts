/** Wires `@OnLeader`, `@OnFollower` and `@LeaderOnly` methods to their election at bootstrap. */
import { Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { discoveredInstances } from '../election-discovery.js';
import { ElectionError } from '../core/index.js';
import { bindInstance } from '../decorators/instance-bindings.js';
import { ELECTION_LOGGER_CONTEXT } from '../election.constants.js';
import {
  type ElectionDecoratorName,
  nonStaticHandlerMessage,
  unknownElectionMessage,
} from '../election.messages.js';
import { ElectionMetadataAccessor } from './election-metadata.accessor.js';
import { ElectionRegistry } from './election.registry.js';
import type { ElectionService } from './election.service.js';

/**
 * @internal Finds `@OnLeader`, `@OnFollower` and `@LeaderOnly` methods on every controller and provider at
 * `onModuleInit` and wires them to their election, the way `@nestjs/schedule` finds its jobs.
 * A decorator (`@LeaderRoute` included) naming an election nobody registered fails the bootstrap.
 */
@Injectable()
export class ElectionExplorer implements OnModuleInit {
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: ElectionMetadataAccessor,
    private readonly registry: ElectionRegistry,
  ) {}

  onModuleInit(): void {
    this.registry.activate();
    this.explore();
  }

  /** Scans every controller and provider instance once. */
  explore(): void {
    for (const { instance, prototype, isStatic } of discoveredInstances(this.discovery)) {
      const route = this.accessor.getLeaderRoute(instance.constructor);
      if (route) this.election('@LeaderRoute', instance.constructor.name, route.election);
      for (const key of this.scanner.getAllMethodNames(prototype)) {
        this.exploreMethod(instance, key, isStatic);
      }
    }
  }

  private exploreMethod(instance: Record<string, unknown>, key: string, isStatic: boolean): void {
    const method = instance[key];
    const label = `${instance.constructor.name}.${key}`;
    const route = this.accessor.getLeaderRoute(method);
    if (route) this.election('@LeaderRoute', label, route.election);
    const leaderOnly = this.accessor.getLeaderOnly(method);
    if (leaderOnly) {
      this.election('@LeaderOnly', label, leaderOnly.election);
      if (isStatic) bindInstance(instance, { registry: this.registry });
    }
    const handlers: Array<readonly [ElectionDecoratorName, string | undefined]> = [
      ...this.accessor.getOnLeader(method).map(m => ['@OnLeader', m.election] as const),
      ...this.accessor.getOnFollower(method).map(m => ['@OnFollower', m.election] as const),
    ];
    for (const [decorator, name] of handlers) {
      if (!isStatic) {
        this.logger.warn(nonStaticHandlerMessage(decorator, label));
        continue;
      }
      const election = this.election(decorator, label, name);
      const call = (arg: unknown) => (method as (arg: unknown) => unknown).call(instance, arg);
      if (decorator === '@OnLeader') election.addLeaderHandler({ label, call });
      else election.addFollowerHandler({ label, call });
    }
  }

  private election(decorator: string, label: string, name: string | undefined): ElectionService {
    const election = this.registry.find(name);
    if (!election) {
      throw new ElectionError(
        unknownElectionMessage(decorator, label, name, this.registry.names()),
      );
    }
    return election;
  }
}
