/** The error of a watch that ended before its event. */
import { ElectionError } from './election.error.js';

/** A watch ended without the event we waited for; the caller re-reads and watches again. */
export class WatchInterruptedError extends ElectionError {
  constructor(
    reason: string,
    readonly compactRevision?: string,
  ) {
    super(`etcd watch interrupted: ${reason}`);
  }
}
