/** The options `ElectionModule.forRoot()` and `forRootAsync()` take. */
import type {
  InjectionToken,
  ModuleMetadata,
  OptionalFactoryDependency,
  Type,
} from '@nestjs/common';
import type { Etcd3, IOptions } from 'etcd3';
import type { CandidateOptions } from '../core/index.js';

/**
 * A number, or the string `ConfigService` or `process.env` holds for it (`'10'`): validated the
 * same way once parsed.
 */
export type Numeric = number | string;

/** The engine settings of {@link CandidateOptions}, with numbers that may come as strings. */
type EngineOptions = Omit<
  CandidateOptions,
  | 'election'
  | 'value'
  | 'clock'
  | 'ttl'
  | 'margin'
  | 'requestTimeout'
  | 'maxRequestBytes'
  | 'backoff'
> & {
  /** See {@link CandidateOptions.ttl}. @default 10 */
  ttl?: Numeric;
  /** See {@link CandidateOptions.margin}. */
  margin?: Numeric;
  /** See {@link CandidateOptions.requestTimeout}. */
  requestTimeout?: Numeric;
  /** See {@link CandidateOptions.maxRequestBytes}. @default 1572864 */
  maxRequestBytes?: Numeric;
  /** Retry delays after failures, ms. @default { initial: 100, max: 5000 } */
  backoff?: { initial?: Numeric; max?: Numeric };
};

/**
 * Options of one election, given to `ElectionModule.forRoot()` (or returned by the factory of
 * `forRootAsync()`). Give exactly one of `etcd` and `client`. The engine settings (`ttl`,
 * `margin`, `requestTimeout`, `backoff`, `observe`, `maxRequestBytes`) are documented on
 * {@link CandidateOptions}; their numbers may also be given as numeric strings.
 */
export interface ElectionModuleOptions extends EngineOptions {
  /**
   * How to reach etcd (etcd3's options: `hosts`, `auth`, `credentials`, …). The module then creates
   * its own client (no circuit breaker, gRPC keepalive pings) and closes it on shutdown.
   */
  etcd?: IOptions;
  /** An existing etcd3 client to use instead of `etcd`; the module never closes it. */
  client?: Etcd3;
  /** The election name, shared with every other implementation (Go, etcdctl …) campaigning on it. */
  election: string;
  /**
   * This node's proposal, proclaimed while it leads; any UTF-8 string.
   * @default `${os.hostname()}-${process.pid}`
   */
  value?: string;
  /**
   * Campaign on `onApplicationBootstrap`. When false, call `ElectionService.start()` yourself.
   * @default true
   */
  autoStart?: boolean;
  /**
   * Milliseconds that shutdown waits, after aborting the leader's signal, for running
   * `@OnLeader` handlers and `@LeaderOnly` calls to settle before it resigns.
   * @default 5000
   */
  shutdownTimeout?: Numeric;
  /**
   * Make this the default election: the one the `ElectionService` class token, the guard and the
   * decorators without a name use. At most one per application.
   * @default true for the first election Nest registers (in import order), false for the others
   */
  default?: boolean;
  /**
   * Spread leadership across replicas: with the application's other balanced elections, this
   * replica leads at most ceil(E / R) of them (E balanced elections, R replicas seen in their
   * queues, counted by value), resigning the excess one at a time. Balanced elections of one
   * application must share one `value`. See the README, "Balancing".
   * @default false
   */
  balance?: boolean;
}

/**
 * Options of `ElectionModule.forRoot()` without an election: the etcd connection alone, for
 * `LockService`, `@WithoutOverlapping` and `@OnOneInstance`. `ttl`, `margin`, `requestTimeout`
 * and `backoff` set the session every lock and job shares.
 */
export type ElectionConnectionOptions = Pick<
  ElectionModuleOptions,
  'etcd' | 'client' | 'ttl' | 'margin' | 'requestTimeout' | 'backoff' | 'shutdownTimeout'
> & {
  election?: undefined;
  /**
   * This replica's identity in the elections of its `@OnOneInstance` jobs (and so in their
   * balancing, which counts replicas by value). The value of the application's default election,
   * if there is one, wins over it.
   * @default the default election's `value` if there is one, else `${os.hostname()}-${process.pid}`
   */
  value?: string;
};

/**
 * What a `forRootAsync()` factory returns: {@link ElectionModuleOptions}, where `election` may be
 * left out when it was given to `forRootAsync()` itself.
 */
export type ElectionModuleFactoryOptions = Omit<ElectionModuleOptions, 'election'> & {
  election?: string;
};

/** A class that creates election options, for `forRootAsync({ useClass | useExisting })`. */
export interface ElectionOptionsFactory {
  /** Returns the options of the election. */
  createElectionOptions(): ElectionModuleFactoryOptions | Promise<ElectionModuleFactoryOptions>;
}

/** Options of `ElectionModule.forRootAsync()`: give one of `useFactory`, `useClass`, `useExisting`. */
export interface ElectionModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /**
   * Register the etcd connection alone (for `LockService`, `@WithoutOverlapping` and
   * `@OnOneInstance` jobs), as `forRoot({ etcd })` without `election` does: the factory returns
   * {@link ElectionConnectionOptions}. `election` and `default` are then not allowed.
   * @default false
   */
  connectionOnly?: boolean;
  /**
   * The election name, known up front: registers the `@InjectElection(name)` token. Without it the
   * election is reachable only as the default (`ElectionService`) and by decorators naming it.
   */
  election?: string;
  /** Make this the default election; see {@link ElectionModuleOptions.default}. */
  default?: boolean;
  /** Returns the options; its arguments are the providers listed in `inject`. */
  useFactory?: (
    ...args: any[] // eslint-disable-line @typescript-eslint/no-explicit-any
  ) => ElectionModuleFactoryOptions | Promise<ElectionModuleFactoryOptions>;
  /** Providers passed to `useFactory`. */
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** A class the module instantiates to create the options. */
  useClass?: Type<ElectionOptionsFactory>;
  /** An existing provider (from `imports` or a global module) that creates the options. */
  useExisting?: InjectionToken<ElectionOptionsFactory>;
}
