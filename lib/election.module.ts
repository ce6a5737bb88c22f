import { type DynamicModule, Global, Module, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ElectionOptionsError, createEtcdClient } from './core/index.js';
import {
  ELECTION_CONNECTION,
  ELECTION_INSTANCE,
  ELECTION_MODULE_OPTIONS,
  ELECTION_REGISTRATION,
  getElectionToken,
} from './election.constants.js';
import { ElectionCoreModule } from './election-core.module.js';
import { resolveConnectionOptions, resolveElectionOptions } from './election-options.js';
import { ElectionBalancer, ElectionBalancerModule } from './election.balancer.js';
import { LockExplorer } from './election.explorer.js';
import { type ElectionRegistration, ElectionRegistry } from './election.registry.js';
import { ElectionService } from './election.service.js';
import { LockConnection, LockService } from './lock.service.js';
import type {
  ElectionConnectionOptions,
  ElectionModuleAsyncOptions,
  ElectionModuleFactoryOptions,
  ElectionModuleOptions,
  ElectionOptionsFactory,
} from './interfaces/index.js';

/**
 * Leader election on etcd, interoperable with Go's `concurrency.Election` and `etcdctl elect`.
 * Each `forRoot` / `forRootAsync` registers one election (global); register several for several
 * named elections; `forRoot({ etcd })` without `election` registers the connection alone, for
 * `LockService`. Options are validated at bootstrap: a bad one fails it with an
 * `ElectionOptionsError` naming the field, the value and what is allowed.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     ScheduleModule.forRoot(),
 *     ElectionModule.forRoot({ etcd: { hosts: 'http://127.0.0.1:2379' }, election: 'scheduler' }),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class ElectionModule {
  /**
   * Registers one election with options known up front. Without `election`, registers the etcd
   * connection alone, for `LockService` and `@WithoutOverlapping` (`ElectionService` is then
   * absent unless another registration brings an election).
   */
  static forRoot(options: ElectionModuleOptions | ElectionConnectionOptions): DynamicModule {
    if (typeof options === 'object' && options !== null && options.election === undefined) {
      return this.registerConnection(options);
    }
    const election = typeof options?.election === 'string' ? options.election : undefined;
    return this.register({ election }, [{ provide: ELECTION_MODULE_OPTIONS, useValue: options }]);
  }

  private static registerConnection(options: ElectionConnectionOptions): DynamicModule {
    return {
      global: true,
      module: ElectionModule,
      imports: [LockCoreModule],
      providers: [
        {
          provide: ELECTION_CONNECTION,
          useFactory: () => {
            const resolved = resolveConnectionOptions(options);
            const { ttl, margin, requestTimeout, backoff } = resolved.engine;
            const client = resolved.client ?? createEtcdClient(resolved.etcd!);
            return new LockConnection(
              client,
              { ttl, margin, requestTimeout, backoff },
              resolved.shutdownTimeout,
              !resolved.client,
            );
          },
        },
      ],
    };
  }

  /**
   * Registers one election whose options come from a factory (`useFactory` with `inject`,
   * `useClass` or `useExisting`), e.g. from `ConfigService`. Give `election` here too to get its
   * `@InjectElection(name)` token. The factory must not depend on `ElectionService`, which
   * resolves only once every election of the application has its options.
   */
  static forRootAsync(options: ElectionModuleAsyncOptions): DynamicModule {
    const fixed = { election: options.election, default: options.default };
    return this.register(fixed, this.createAsyncProviders(options), options.imports, fixed);
  }

  private static register(
    registration: ElectionRegistration,
    optionsProviders: Provider[],
    imports: DynamicModule['imports'] = [],
    fixed: { election?: string; default?: boolean } = {},
  ): DynamicModule {
    const providers: Provider[] = [
      ...optionsProviders,
      { provide: ELECTION_REGISTRATION, useValue: registration },
      {
        provide: ELECTION_INSTANCE,
        useFactory: async (
          options: ElectionModuleFactoryOptions,
          registry: ElectionRegistry,
          balancer: ElectionBalancer,
        ) => {
          const resolved = resolveElectionOptions(options, fixed);
          const service = new ElectionService(resolved);
          try {
            registry.add(registration, service, resolved.default);
            if (resolved.balance) balancer.add(service);
          } catch (error) {
            await service.onApplicationShutdown();
            throw error;
          }
          return service;
        },
        inject: [ELECTION_MODULE_OPTIONS, ElectionRegistry, ElectionBalancer],
      },
      {
        provide: ELECTION_CONNECTION,
        useFactory: (options: ElectionModuleFactoryOptions, service: ElectionService) => {
          const resolved = resolveElectionOptions(options, fixed);
          const { ttl, margin, requestTimeout, backoff } = resolved.engine;
          // The election's client: the election closes it, after locks have let go.
          return new LockConnection(
            service.client,
            { ttl, margin, requestTimeout, backoff },
            resolved.shutdownTimeout,
            false,
            service.name,
          );
        },
        inject: [ELECTION_MODULE_OPTIONS, ELECTION_INSTANCE],
      },
    ];
    const exports: string[] = [];
    if (registration.election !== undefined) {
      const token = getElectionToken(registration.election);
      providers.push({ provide: token, useExisting: ELECTION_INSTANCE });
      exports.push(token);
    }
    return {
      global: true,
      module: ElectionModule,
      imports: [ElectionCoreModule, LockCoreModule, ...imports],
      providers,
      exports,
    };
  }

  private static createAsyncProviders(options: ElectionModuleAsyncOptions): Provider[] {
    if (options.useFactory) {
      return [
        {
          provide: ELECTION_MODULE_OPTIONS,
          useFactory: options.useFactory,
          inject: options.inject ?? [],
        },
      ];
    }
    const factory = options.useClass ?? options.useExisting;
    if (!factory) {
      return [
        {
          provide: ELECTION_MODULE_OPTIONS,
          useFactory: () => {
            throw new ElectionOptionsError(
              'forRootAsync',
              Object.keys(options),
              'one of "useFactory", "useClass" or "useExisting"',
            );
          },
        },
      ];
    }
    const providers: Provider[] = [
      {
        provide: ELECTION_MODULE_OPTIONS,
        useFactory: (optionsFactory: ElectionOptionsFactory) =>
          optionsFactory.createElectionOptions(),
        inject: [factory],
      },
    ];
    if (options.useClass) providers.push({ provide: options.useClass, useClass: options.useClass });
    return providers;
  }
}

/**
 * @internal What locks share in an application, once, whichever registrations bring them: the
 * `LockService` and the explorer of `@WithoutOverlapping` jobs.
 */
@Global()
@Module({
  imports: [DiscoveryModule, ElectionBalancerModule],
  providers: [LockService, LockExplorer],
  exports: [LockService],
})
class LockCoreModule {}
