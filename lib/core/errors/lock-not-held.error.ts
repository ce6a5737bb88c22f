/** The error of an operation that needs a held lock. */
import { ElectionError } from './election.error.js';

/** The operation needs the lock to be held, and it is not. */
export class LockNotHeldError extends ElectionError {
  constructor(lock: string, what: string) {
    super(`Cannot ${what}: lock "${lock}" is not held (released or lost).`);
  }
}
