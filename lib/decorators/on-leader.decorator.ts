/** `@OnLeader()`: called each time this node becomes leader. */
import { ON_LEADER_METADATA } from '../election.constants.js';
import { appendMethodMetadata } from './method-metadata.util.js';

/**
 * Calls the method each time this node becomes leader of the election, with a `LeaderContext`:
 * `{ signal, token, leadership }`. `signal` aborts the moment leadership ends; pass it on. A
 * returned promise counts as leader work that shutdown waits for (up to `shutdownTimeout`).
 * Errors, thrown or rejected, are logged with `Class.method` and never stop the election.
 *
 * @param election The election name; omitted = the default election.
 *
 * @example
 * ```ts
 * @OnLeader()
 * async consume({ signal, token }: LeaderContext) {
 *   for await (const job of queue.listen({ signal })) await handle(job, token);
 * }
 * ```
 */
export function OnLeader(election?: string): MethodDecorator {
  return appendMethodMetadata(ON_LEADER_METADATA, { election });
}
