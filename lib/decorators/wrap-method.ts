/** The one way our method decorators replace a method with a wrapper that runs it under a gate. */
import type { Logger } from '@nestjs/common';
import { ElectionError } from '../core/index.js';

/** @internal How a call goes through the service bound to its instance. */
export type Gate = (run: () => unknown) => unknown;

/** @internal What one decorator makes of the method `Class.method` it wraps. */
export interface WrapSpec {
  /** The error message when the decorated member is not a method. */
  notMethod: string;
  /** The key and value of this decorator's metadata on the wrapper. */
  metadata: readonly [key: string, value: unknown];
  /** Where the wrapper's one-time warning goes. */
  logger: Logger;
  /** The gate of a call on `self`; undefined when no application bound one. */
  gate(self: unknown): Gate | undefined;
  /** Why a call on `self` has no gate; logged once per method. */
  unbound(self: unknown): string;
  /** What a skipped call returns. */
  skipped(): unknown;
}

/**
 * @internal A method decorator replacing the method by a wrapper that runs it through
 * `spec.gate`. The wrapper carries every metadata of the original, so that `@Cron` / `@Interval`
 * stacked on either side still see it, and the original's `name` and `length`.
 */
export function wrapMethod(spec: (label: string) => WrapSpec): MethodDecorator {
  return (target, property, descriptor) => {
    const label = `${target.constructor.name}.${String(property)}`;
    const { notMethod, metadata, logger, gate, unbound, skipped } = spec(label);
    const original: unknown = descriptor.value;
    if (typeof original !== 'function') throw new ElectionError(notMethod);
    let warned = false;
    const wrapper = function (this: unknown, ...args: unknown[]): unknown {
      const through = gate(this);
      if (through) return through(() => original.apply(this, args));
      if (!warned) {
        warned = true;
        logger.warn(unbound(this));
      }
      return skipped();
    };
    // Metadata set by decorators applied before this one (@Cron below us …) moves to the wrapper;
    // decorators applied after it (@Cron above us) write to the wrapper directly.
    for (const key of Reflect.getOwnMetadataKeys(original)) {
      Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
    }
    Reflect.defineMetadata(metadata[0], metadata[1], wrapper);
    Object.defineProperty(wrapper, 'name', { value: original.name });
    Object.defineProperty(wrapper, 'length', { value: original.length });
    descriptor.value = wrapper as typeof descriptor.value;
    return descriptor;
  };
}
