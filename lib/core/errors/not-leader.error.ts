/** The error of an operation that needs this node to lead. */
import { ElectionError } from './election.error.js';

/** The operation needs this node to lead (or to hold a key in the queue), and it does not. */
export class NotLeaderError extends ElectionError {
  constructor(election: string, what: string) {
    super(`Cannot ${what}: this node does not lead election "${election}".`);
  }
}
