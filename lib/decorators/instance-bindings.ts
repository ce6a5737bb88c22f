/** What the explorers bind each provider instance to, read by the wrappers at call time. */
import type { ElectionRegistry } from '../elections/election.registry.js';
import type { LockService } from '../locks/lock.service.js';
import type { OneInstanceService } from '../jobs/one-instance.service.js';

/**
 * @internal The services of the application owning one instance, as far as its decorators need
 * them; whichever copy of the library (ESM or CommonJS) made them.
 */
export interface Bindings {
  /** For `@LeaderOnly`. */
  registry?: Pick<ElectionRegistry, 'find'>;
  /** For `@WithoutOverlapping`. */
  locks?: Pick<LockService, 'runJob'>;
  /** For `@OnOneInstance`. */
  jobs?: Pick<OneInstanceService, 'run'>;
}

/**
 * One store per process, shared by every copy of the library, so that an instance bound by one
 * copy's explorer is seen by the other copy's decorators. Weak: a closed application's instances
 * go with it.
 */
const bindings = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.bindings')
] ??= new WeakMap<object, Bindings>()) as WeakMap<object, Bindings>;

/** @internal Binds `instance` to services of its application (the explorers do, at bootstrap). */
export function bindInstance(instance: object, services: Bindings): void {
  bindings.set(instance, { ...bindings.get(instance), ...services });
}

/** @internal What `instance` was bound to; undefined for an object no application discovered. */
export function boundTo(instance: unknown): Bindings | undefined {
  return typeof instance === 'object' && instance !== null ? bindings.get(instance) : undefined;
}
