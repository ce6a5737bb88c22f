/** Every controller and provider instance of the application, for the explorers. */
import type { DiscoveryService } from '@nestjs/core';

/** One controller or provider instance of the application, as the explorers visit them. */
export interface DiscoveredInstance {
  instance: Record<string, unknown>;
  prototype: object;
  /** A singleton: its methods can be bound at discovery (request-scoped or transient cannot). */
  isStatic: boolean;
}

/** @internal Every controller and provider instance of the application, once each. */
export function* discoveredInstances(discovery: DiscoveryService): Generator<DiscoveredInstance> {
  const seen = new Set<object>();
  for (const wrapper of [...discovery.getControllers(), ...discovery.getProviders()]) {
    const instance: unknown = wrapper.instance;
    if (wrapper.isAlias || typeof instance !== 'object' || instance === null) continue;
    const prototype: object | null = Object.getPrototypeOf(instance);
    if (!prototype || seen.has(instance)) continue;
    seen.add(instance);
    yield {
      instance: instance as Record<string, unknown>,
      prototype,
      isStatic: wrapper.isDependencyTreeStatic(),
    };
  }
}
