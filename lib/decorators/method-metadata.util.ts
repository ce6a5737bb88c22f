/** Stackable method metadata for the handler decorators. */
import type { ElectionMethodMetadata } from '../elections/election-metadata.accessor.js';

/** @internal Adds `entry` to the list stored under `key` on the decorated method (stackable decorators). */
export function appendMethodMetadata(key: string, entry: ElectionMethodMetadata): MethodDecorator {
  return (_target, _property, descriptor) => {
    const method = descriptor.value as object;
    const entries: ElectionMethodMetadata[] = Reflect.getMetadata(key, method) ?? [];
    Reflect.defineMetadata(key, [...entries, entry], method);
    return descriptor;
  };
}
