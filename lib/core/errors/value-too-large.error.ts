/** The error a value over etcd's request limit gets. */
import { ElectionError } from './election.error.js';

/** A value (or key) is larger than etcd accepts in one request; nothing was written. */
export class ValueTooLargeError extends ElectionError {
  constructor(
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(
      `The election value and key take ${Number.isNaN(bytes) ? 'more bytes than etcd accepts' : `${bytes} bytes`}, over the ${limit}-byte request limit ` +
        `(etcd's --max-request-bytes, default 1.5 MiB; set "maxRequestBytes" if your etcd allows more). ` +
        `Nothing was written.`,
    );
  }
}
