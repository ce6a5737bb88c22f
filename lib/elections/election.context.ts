/** The term of the `@LeaderOnly` call running now, shared by both builds of the library. */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { LeaderTerm } from '../core/index.js';

interface GatedCall {
  election: string;
  term: LeaderTerm;
  outer?: GatedCall;
}

/**
 * One store per process, shared by every copy of the library (its ESM and CommonJS builds), so
 * that a gated call started by one copy is seen by `currentLeaderSignal()` of the other.
 */
const calls = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.leader-calls')
] ??= new AsyncLocalStorage<GatedCall>()) as AsyncLocalStorage<GatedCall>;

/** @internal Runs `fn` as a `@LeaderOnly` call of `election` during `term`. */
export function runInTerm<T>(election: string, term: LeaderTerm, fn: () => T): T {
  return calls.run({ election, term, outer: calls.getStore() }, fn);
}

/**
 * The leader term (signal and fencing token) of the `@LeaderOnly` call running now — in its
 * synchronous part and everything it awaits — or undefined outside of one.
 *
 * @param election The election of the gated call; omitted = the innermost gated call.
 */
export function currentLeaderTerm(election?: string): LeaderTerm | undefined {
  for (let call = calls.getStore(); call; call = call.outer) {
    if (election === undefined || call.election === election) return call.term;
  }
  return undefined;
}

/**
 * The `AbortSignal` of the leader term of the `@LeaderOnly` call running now: it aborts the moment
 * this node stops leading. Undefined outside of a gated call.
 *
 * @example
 * ```ts
 * @Interval(10_000)
 * @LeaderOnly()
 * async sweep() {
 *   await fetch(url, { signal: currentLeaderSignal() });
 * }
 * ```
 */
export function currentLeaderSignal(election?: string): AbortSignal | undefined {
  return currentLeaderTerm(election)?.signal;
}
