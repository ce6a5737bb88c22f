/** The error of a lock call that could get no session in time. */
import { ElectionError } from './election.error.js';

/** No etcd session could be granted in time (etcd unreachable, or refusing us). */
export class NoSessionError extends ElectionError {
  constructor(
    readonly waitedMs: number,
    cause?: unknown,
  ) {
    super(
      `No etcd session within ${waitedMs} ms` +
        (cause instanceof Error ? `: ${cause.message}` : '') +
        `. Check that etcd is running and reachable at the configured hosts (the "etcd.hosts" option), and its TLS and auth settings.`,
      { cause },
    );
  }
}
