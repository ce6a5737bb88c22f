/** The error of an operation on a stopped candidate. */
import { ElectionError } from './election.error.js';

/** The candidate was stopped; no further operation is possible. */
export class CandidateStoppedError extends ElectionError {
  constructor(election: string) {
    super(`The candidate for election "${election}" is stopped.`);
  }
}
