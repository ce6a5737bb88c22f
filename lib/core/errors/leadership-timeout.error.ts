/** The error of a `waitForLeadership` that ran out of time. */
import { ElectionError } from './election.error.js';

/** `waitForLeadership` gave up after its timeout. */
export class LeadershipTimeoutError extends ElectionError {
  constructor(election: string, timeoutMs: number) {
    super(`This node did not become leader of election "${election}" within ${timeoutMs} ms.`);
  }
}
