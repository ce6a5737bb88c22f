/** The one way our method decorators replace a method with a wrapper that runs it under a gate. */
import type { Logger } from '@nestjs/common';
import { ElectionError } from '../core/index.js';

/** @internal What one decorator adds to the wrapper it installs. */
export interface WrapSpec {
  /** The error message when the decorated member is not a method. */
  notMethod: string;
  /** The key under which the wrapper carries this decorator's metadata. */
  metadataKey: string;
  metadata: unknown;
  /** Where the wrapper's one-time warning goes. */
  logger: Logger;
  /**
   * One call of the wrapper on `self`: runs `run` (the original method with the call's `this`
   * and arguments) under the decorator's gate, or calls `warnOnce` when nothing is bound.
   */
  call(self: unknown, run: () => unknown, warnOnce: (message: () => string) => void): unknown;
}

/**
 * @internal Replaces the method of `descriptor` by a wrapper that goes through `spec.call`.
 * The wrapper carries every metadata of the original, so that `@Cron` / `@Interval` stacked on
 * either side still see it, and the original's `name` and `length`.
 */
export function wrapMethod<T>(
  descriptor: TypedPropertyDescriptor<T>,
  spec: WrapSpec,
): TypedPropertyDescriptor<T> {
  const original: unknown = descriptor.value;
  if (typeof original !== 'function') throw new ElectionError(spec.notMethod);
  let warned = false;
  const warnOnce = (message: () => string): void => {
    if (warned) return;
    warned = true;
    spec.logger.warn(message());
  };
  const wrapper = function (this: unknown, ...args: unknown[]): unknown {
    return spec.call(this, () => original.apply(this, args), warnOnce);
  };
  // Metadata set by decorators applied before this one (@Cron below us …) moves to the wrapper;
  // decorators applied after it (@Cron above us) write to the wrapper directly.
  for (const key of Reflect.getOwnMetadataKeys(original)) {
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, original), wrapper);
  }
  Reflect.defineMetadata(spec.metadataKey, spec.metadata, wrapper);
  Object.defineProperty(wrapper, 'name', { value: original.name });
  Object.defineProperty(wrapper, 'length', { value: original.length });
  descriptor.value = wrapper as T;
  return descriptor;
}
