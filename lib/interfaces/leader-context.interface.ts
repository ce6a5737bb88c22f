/** What an `@OnLeader` handler is given. */
import type { FencingToken, Leadership } from '../core/index.js';

/** What an `@OnLeader` handler receives when this node becomes leader. */
export interface LeaderContext {
  /**
   * Aborts, with a `LeadershipLostError` as its reason, the moment this term ends (lost,
   * resigned, or shutting down). Pass it to everything the handler starts.
   */
  signal: AbortSignal;
  /** The fencing token of this term; guard writes with it (`ElectionService.guard()`). */
  token: FencingToken;
  /** The snapshot at the moment this node became leader. */
  leadership: Leadership;
}
