/** The error a closed session owner rejects with. */
import { ElectionError } from './election.error.js';

/** The error a `Sessions` rejects with once it is closed. */
export class SessionsClosedError extends ElectionError {
  constructor() {
    super('The etcd session owner is closed; no further session will be granted.');
  }
}
