/** `ElectionTestingModule`: `ElectionModule` over a test double, for unit tests without etcd. */
import { type DynamicModule, type INestApplicationContext, Module } from '@nestjs/common';
import { ElectionError } from '../core/index.js';
import { ENGINE_FACTORY } from '../election-options.js';
import { ElectionModule } from '../election.module.js';
import { ElectionRegistry } from '../elections/election.registry.js';
import type { ElectionEngineFactory } from '../election.engines.js';
import { TestElection } from './test-election.js';

/** Options of {@link ElectionTestingModule.forRoot}. */
export interface ElectionTestingOptions {
  /**
   * The election name, as your code's decorators and `@InjectElection(name)` use it.
   * @default 'test'
   */
  election?: string;
  /**
   * This node's value.
   * @default 'test-node'
   */
  value?: string;
  /** Make this the default election (as in `ElectionModule.forRoot`). */
  default?: boolean;
  /**
   * Start as `ElectionModule` does, on `onApplicationBootstrap`: a follower, nobody leading.
   * @default true
   */
  autoStart?: boolean;
  /**
   * How long shutdown waits for leader work, in ms.
   * @default 5000
   */
  shutdownTimeout?: number;
}

/** Nothing listens here: the double's etcd client is never used unless a test commits a guard. */
const NO_ETCD = 'http://127.0.0.1:9';

/**
 * `ElectionModule` without etcd, for unit tests: registers one election whose `ElectionService`,
 * decorators and guard are the real ones, over a {@link TestElection} that the test drives.
 * Register several for several elections, as with `ElectionModule.forRoot`.
 *
 * @example
 * ```ts
 * const moduleRef = await Test.createTestingModule({
 *   imports: [ElectionTestingModule.forRoot({ election: 'scheduler' })],
 *   providers: [ReportJob],
 * }).compile();
 * await moduleRef.init();
 * getTestElection(moduleRef).elect();
 * ```
 */
@Module({})
export class ElectionTestingModule {
  /** Registers one election driven by a {@link TestElection}. */
  static forRoot(options: ElectionTestingOptions = {}): DynamicModule {
    const election = options.election ?? 'test';
    const token = getTestElectionToken(election);
    const doubles: DynamicModule = {
      module: ElectionTestingModule,
      providers: [{ provide: token, useFactory: () => new TestElection() }],
      exports: [token],
    };
    return {
      global: true,
      module: ElectionTestingModule,
      imports: [
        doubles,
        ElectionModule.forRootAsync({
          election,
          default: options.default,
          imports: [doubles],
          inject: [token],
          useFactory: (double: TestElection) => {
            const createEngine: ElectionEngineFactory = (client, candidate) =>
              double.attach(client, candidate);
            return {
              etcd: { hosts: NO_ETCD },
              value: options.value ?? 'test-node',
              autoStart: options.autoStart,
              shutdownTimeout: options.shutdownTimeout,
              [ENGINE_FACTORY]: createEngine,
            };
          },
        }),
      ],
      exports: [doubles],
    };
  }
}

/** The injection token of the {@link TestElection} of election `name`. */
export function getTestElectionToken(name: string): string {
  return `nestjs-etcd-election:test-election:${name}`;
}

/**
 * The {@link TestElection} of election `name` (omitted: the default election, as
 * `ElectionService` resolves it) in a compiled testing module or application.
 */
export function getTestElection(
  moduleRef: Pick<INestApplicationContext, 'get'>,
  name?: string,
): TestElection {
  const service = moduleRef.get(ElectionRegistry).get(name);
  let double: unknown;
  try {
    double = moduleRef.get(getTestElectionToken(service.name));
  } catch {
    double = undefined;
  }
  if (!(double instanceof TestElection)) {
    throw new ElectionError(
      `Election "${service.name}" is not driven by a TestElection: register it with ` +
        `ElectionTestingModule.forRoot({ election: '${service.name}' }).`,
    );
  }
  return double;
}
