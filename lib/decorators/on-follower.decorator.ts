/** `@OnFollower()`: called when this node settles as follower. */
import { ON_FOLLOWER_METADATA } from '../election.constants.js';
import { appendMethodMetadata } from './method-metadata.util.js';

/**
 * Calls the method with the `Leadership` snapshot when this node settles as follower: once at
 * start-up, as soon as the first leader is known and it is not this node (this needs `observe`,
 * the default), and after each loss of leadership (resigned, session lost, key deleted …), but
 * not on shutdown. Errors are logged with `Class.method` and never stop the election.
 *
 * @param election The election name; omitted = the default election.
 */
export function OnFollower(election?: string): MethodDecorator {
  return appendMethodMetadata(ON_FOLLOWER_METADATA, { election });
}
