/** `ElectionMetricsModule`: registers the library's Prometheus metrics. */
import {
  type DynamicModule,
  type FactoryProvider,
  type ModuleMetadata,
  Module,
  type Provider,
} from '@nestjs/common';
import type { ElectionMetricsOptions } from './election-metrics.interface.js';
import { ElectionMetrics } from './election.metrics.js';
import { ELECTION_METRICS_OPTIONS } from './metrics.constants.js';

/** Options of {@link ElectionMetricsModule.forRootAsync}. */
export interface ElectionMetricsAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Returns the options, e.g. a registry from another provider. */
  useFactory: (...args: never[]) => ElectionMetricsOptions | Promise<ElectionMetricsOptions>;
  /** What `useFactory` gets. */
  inject?: FactoryProvider['inject'];
}

/**
 * Registers the library's Prometheus metrics (global) into a prom-client registry: the default
 * one, which `@willsoto/nestjs-prometheus` serves on `/metrics`, unless `registry` names another.
 * Inject {@link ElectionMetrics} to reach the registry. The metrics leave the registry when the
 * application closes.
 *
 * @example
 * ```ts
 * @Module({
 *   imports: [
 *     PrometheusModule.register(),
 *     ElectionModule.forRoot({ etcd: { hosts: 'http://127.0.0.1:2379' }, election: 'scheduler' }),
 *     ElectionMetricsModule.forRoot(),
 *   ],
 * })
 * export class AppModule {}
 * ```
 */
@Module({})
export class ElectionMetricsModule {
  /** Registers the metrics with options known up front. */
  static forRoot(options: ElectionMetricsOptions = {}): DynamicModule {
    return this.register([], { provide: ELECTION_METRICS_OPTIONS, useValue: options });
  }

  /** Registers the metrics with options from a factory. */
  static forRootAsync(options: ElectionMetricsAsyncOptions): DynamicModule {
    return this.register(options.imports ?? [], {
      provide: ELECTION_METRICS_OPTIONS,
      useFactory: options.useFactory as (...args: unknown[]) => ElectionMetricsOptions,
      inject: options.inject ?? [],
    });
  }

  private static register(
    imports: NonNullable<ModuleMetadata['imports']>,
    optionsProvider: Provider,
  ): DynamicModule {
    return {
      module: ElectionMetricsModule,
      global: true,
      imports,
      providers: [
        optionsProvider,
        {
          provide: ElectionMetrics,
          useFactory: (options: ElectionMetricsOptions) => ElectionMetrics.shared(options),
          inject: [ELECTION_METRICS_OPTIONS],
        },
      ],
      exports: [ElectionMetrics],
    };
  }
}
