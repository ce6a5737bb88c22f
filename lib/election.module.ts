/** `ElectionModule`: registers one election, or the etcd connection alone, per `forRoot*()`. */
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { ElectionOptionsError } from './core/index.js';
import {
  ELECTION_INSTANCE,
  ELECTION_MODULE_OPTIONS,
  ELECTION_REGISTRATION,
  ELECTION_RESOLVED,
  getElectionToken,
} from './election.constants.js';
import { ElectionCoreModule } from './elections/election-core.module.js';
import {
  type ResolvedRegistration,
  resolveConnectionOptions,
  resolveElectionOptions,
} from './election-options.js';
import { ElectionSharedModule } from './election-shared.module.js';
import { ElectionBalancer } from './elections/election.balancer.js';
import { ElectionConnections } from './election.connections.js';
import { type ElectionRegistration, ElectionRegistry } from './elections/election.registry.js';
import { ElectionService } from './elections/election.service.js';
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
 * named elections; `forRoot({ etcd })` without `election` (or `forRootAsync({ connectionOnly:
 * true })`) registers the connection alone, for `LockService` and jobs. Every election, lock and
 * job reaching one etcd cluster (the same `client`, or equal `etcd` options) shares one client,
 * and those with the same session settings (`ttl`, `margin`, `requestTimeout`, `backoff`) share
 * one lease and one keepalive stream. Options are validated at bootstrap: a bad one fails it with
 * an `ElectionOptionsError` naming the field, the value and what is allowed.
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
      return this.registerConnection([{ provide: ELECTION_MODULE_OPTIONS, useValue: options }]);
    }
    const election = typeof options?.election === 'string' ? options.election : undefined;
    return this.register({ election }, [{ provide: ELECTION_MODULE_OPTIONS, useValue: options }]);
  }

  private static registerConnection(
    optionsProviders: Provider[],
    imports: DynamicModule['imports'] = [],
  ): DynamicModule {
    return {
      global: true,
      module: ElectionModule,
      imports: [ElectionSharedModule, ...imports],
      providers: [
        ...optionsProviders,
        resolvedProvider(options => resolveConnectionOptions(options)),
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
    if (options.connectionOnly === true) {
      if (options.election !== undefined || options.default !== undefined) {
        const field = options.election !== undefined ? 'election' : 'default';
        throw new ElectionOptionsError(
          field,
          options[field],
          'nothing with connectionOnly: true (it registers the etcd connection alone); drop one of them',
        );
      }
      return this.registerConnection(this.createAsyncProviders(options), options.imports);
    }
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
      resolvedProvider(options => resolveElectionOptions(options, fixed)),
      {
        provide: ELECTION_INSTANCE,
        useFactory: async (
          resolved: ResolvedRegistration & { election: string },
          registry: ElectionRegistry,
          balancer: ElectionBalancer,
          connections: ElectionConnections,
        ) => {
          const service = new ElectionService(resolved, connections.connectionOf(resolved));
          try {
            registry.add(registration, service, resolved.default);
            if (resolved.balance) balancer.add(service);
          } catch (error) {
            await service.onApplicationShutdown();
            throw error;
          }
          return service;
        },
        inject: [ELECTION_RESOLVED, ElectionRegistry, ElectionBalancer, ElectionConnections],
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
      imports: [ElectionCoreModule, ElectionSharedModule, ...imports],
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
 * The registration's options, resolved once and joined to the application's connections: every
 * other provider of the registration injects this.
 */
function resolvedProvider(
  resolve: (options: ElectionModuleFactoryOptions) => ResolvedRegistration,
): Provider {
  return {
    provide: ELECTION_RESOLVED,
    useFactory: (options: ElectionModuleFactoryOptions, connections: ElectionConnections) => {
      const resolved = resolve(options);
      connections.join(resolved);
      return resolved;
    },
    inject: [ELECTION_MODULE_OPTIONS, ElectionConnections],
  };
}
