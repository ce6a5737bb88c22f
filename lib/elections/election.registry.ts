/** Every election of one application, by name, and which one is the default. */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { ElectionError, ElectionOptionsError } from '../core/index.js';
import { boundTo } from '../decorators/instance-bindings.js';
import { ELECTION_REGISTRATION } from '../election.constants.js';
import { unknownElectionMessage } from '../election.messages.js';
import type { ElectionService } from './election.service.js';

/** @internal What one `forRoot` / `forRootAsync` call registers, known before any option is. */
export interface ElectionRegistration {
  /** The name given statically, if any. */
  readonly election?: string;
}

/**
 * Every election of one application, by name, and which one is the default (the one marked
 * `default: true`, else the first Nest registers, in import order). Inject it to look elections
 * up at run time; `ElectionService` and `@InjectElection(name)` are the usual way in.
 */
@Injectable()
export class ElectionRegistry implements OnApplicationShutdown {
  private readonly expected: ElectionRegistration[];
  private readonly byRegistration = new Map<ElectionRegistration, ElectionService>();
  private readonly byName = new Map<string, ElectionService>();
  private explicitDefault?: ElectionService;
  private defaultService?: ElectionService;
  private readonly completed: Promise<void>;
  private complete!: () => void;

  constructor(modules: ModulesContainer) {
    // Registrations in the order Nest scanned their modules, which is import order.
    this.expected = [...modules.values()].flatMap(moduleRef => {
      const registration = moduleRef.providers.get(ELECTION_REGISTRATION)?.instance as
        ElectionRegistration | undefined;
      return registration ? [registration] : [];
    });
    this.completed = new Promise(resolve => (this.complete = resolve));
    if (this.expected.length === 0) this.complete();
  }

  /**
   * The election named `name`, or the default one when `name` is omitted. Throws an
   * `ElectionError` listing the registered names when there is none.
   */
  get(name?: string): ElectionService {
    const service = this.find(name);
    if (!service) {
      throw new ElectionError(
        unknownElectionMessage('ElectionRegistry.get()', 'this application', name, this.names()),
      );
    }
    return service;
  }

  /** Like {@link get}, but undefined when there is no such election. */
  find(name?: string): ElectionService | undefined {
    return name === undefined ? this.defaultService : this.byName.get(name);
  }

  /** Every election of this application, in registration order. */
  getAll(): ElectionService[] {
    return [...this.byName.values()];
  }

  /** The names of every election of this application. */
  names(): string[] {
    return [...this.byName.keys()];
  }

  /** @internal Adds the service of one registration; throws on a duplicate name or default. */
  add(registration: ElectionRegistration, service: ElectionService, isDefault?: boolean): void {
    if (this.byName.has(service.name)) {
      throw new ElectionOptionsError(
        'election',
        service.name,
        'a name not registered yet in this application (each election is registered once)',
      );
    }
    if (isDefault && this.explicitDefault) {
      throw new ElectionOptionsError(
        'default',
        `true (on "${service.name}")`,
        `at most one default election per application; "${this.explicitDefault.name}" already is`,
      );
    }
    if (isDefault) this.explicitDefault = service;
    this.byName.set(service.name, service);
    this.byRegistration.set(registration, service);
    if (this.expected.every(expected => this.byRegistration.has(expected))) {
      this.defaultService ??=
        this.explicitDefault ?? this.byRegistration.get(this.expected[0]) ?? service;
      this.complete();
    }
  }

  /** @internal Resolves with the default election once every registration has its service. */
  async whenComplete(): Promise<ElectionService> {
    await this.completed;
    return this.get();
  }

  /** @internal Makes this application's elections reachable from `@LeaderOnly` by name. */
  activate(): void {
    runningApplications().add(this);
  }

  /** Nest lifecycle hook: this application's elections are no longer reachable by name. */
  onApplicationShutdown(): void {
    runningApplications().delete(this);
  }
}

/** What `@LeaderOnly` needs of a registry, whichever copy of the library (ESM or CJS) made it. */
type ElectionLookup = Pick<ElectionRegistry, 'find'>;

/**
 * The registries of the applications running in this process, for the `@LeaderOnly` calls on
 * objects no application bound. Kept on `globalThis` so both builds of the library share it.
 */
function runningApplications(): Set<ElectionLookup> {
  const global = globalThis as Record<symbol, unknown>;
  return (global[RUNNING] ??= new Set<ElectionLookup>()) as Set<ElectionLookup>;
}

const RUNNING = Symbol.for('nestjs-etcd-election.running-applications');

/**
 * @internal The election a `@LeaderOnly` call on `instance` asks: that of the application owning
 * the instance (bound at discovery), else the only running application that registers it.
 * `candidates` tells how many running applications were found when the answer is ambiguous or
 * empty.
 */
export function resolveElection(
  instance: unknown,
  name: string | undefined,
): { service?: ElectionService; candidates: number } {
  const owner = boundTo(instance)?.registry;
  if (owner) {
    const service = owner.find(name);
    return { service, candidates: service ? 1 : 0 };
  }
  const found = [...runningApplications()].flatMap(registry => registry.find(name) ?? []);
  return found.length === 1 ? { service: found[0], candidates: 1 } : { candidates: found.length };
}
