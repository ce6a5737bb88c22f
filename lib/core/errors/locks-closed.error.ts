/** The error pending acquires get on shutdown. */
import { ElectionError } from './election.error.js';

/** The lock owner shut down: pending acquires reject with this, and no new one starts. */
export class LocksClosedError extends ElectionError {
  constructor() {
    super('The locks of this application are shut down; no lock can be acquired any more.');
  }
}
