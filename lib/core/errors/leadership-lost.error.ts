/** The reason an ended term's signal carries. */
import { ElectionError } from './election.error.js';

/** The reason a leadership term ended, carried by the aborted leader `AbortSignal`. */
export class LeadershipLostError extends ElectionError {
  constructor(
    election: string,
    readonly reason: string,
  ) {
    super(`Leadership of election "${election}" ended: ${reason}.`);
  }
}
