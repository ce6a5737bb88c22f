/** The error of an acquire that ran out of `wait`. */
import { ElectionError } from './election.error.js';

/** `acquire(name, { wait })` gave up: the lock was not ours within `wait` milliseconds. */
export class LockTimeoutError extends ElectionError {
  constructor(
    readonly lock: string,
    readonly waitMs: number,
  ) {
    super(
      `Lock "${lock}" was not acquired within ${waitMs} ms (the "wait" option); ` +
        `nothing of this attempt is left in etcd. Raise "wait", or leave it out to wait as long as it takes.`,
    );
  }
}
