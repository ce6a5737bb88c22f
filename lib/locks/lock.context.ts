/** The lock of the locked call running now, shared by both builds of the library. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Lock } from '../core/index.js';

interface LockedCall {
  lock: Lock;
  outer?: LockedCall;
}

/**
 * One store per process, shared by every copy of the library (its ESM and CommonJS builds), so
 * that a locked call started by one copy is seen by `currentLock()` of the other.
 */
const calls = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.lock-calls')
] ??= new AsyncLocalStorage<LockedCall>()) as AsyncLocalStorage<LockedCall>;

/** @internal Runs `fn` as a call holding `lock` (`withLock`, `@WithoutOverlapping`). */
export function runWithLock<T>(lock: Lock, fn: () => T): T {
  return calls.run({ lock, outer: calls.getStore() }, fn);
}

/**
 * The lock held by the `@WithoutOverlapping` run or `withLock` callback running now — in its
 * synchronous part and everything it awaits — or undefined outside of one.
 *
 * @param name The lock name; omitted = the innermost lock.
 *
 * @example
 * ```ts
 * @Interval(60_000)
 * @WithoutOverlapping()
 * async sync() {
 *   const lock = currentLock()!;
 *   await this.api.pull({ signal: lock.signal, fencingToken: lock.fencingToken });
 * }
 * ```
 */
export function currentLock(name?: string): Lock | undefined {
  for (let call = calls.getStore(); call; call = call.outer) {
    if (name === undefined || call.lock.name === name) return call.lock;
  }
  return undefined;
}
