/** Named performance marks on the handover path, for the bench's per-phase breakdown. */
import { performance } from 'node:perf_hooks';

/** Prefix of every mark the library puts on the performance timeline. */
export const MARK_PREFIX = 'nestjs-etcd-election:';

/**
 * The instants of a graceful handover the library marks, in the order one handover passes them:
 * on the old leader `shutdown` (our shutdown hook runs), `resign-sent`, `resign-acked`; on its
 * successor `wait-event` (the predecessor's DELETE arrived), `wait-read` (the post-wait read
 * answered), `elected`, `on-leader` (`@OnLeader` handlers are about to run).
 */
export const HANDOVER_MARKS = [
  'shutdown',
  'resign-sent',
  'resign-acked',
  'wait-event',
  'wait-read',
  'elected',
  'on-leader',
] as const;

/** One of {@link HANDOVER_MARKS}. */
export type HandoverMark = (typeof HANDOVER_MARKS)[number];

/** Environment variable that turns the marks on (`1`) for a whole process. */
export const MARKS_ENV = 'NESTJS_ETCD_ELECTION_MARKS';

let enabled = process.env[MARKS_ENV] === '1';

/**
 * Turns the handover marks on or off. Off by default: then a mark costs one boolean test, and
 * nothing accumulates on the timeline (marks stay there until `performance.clearMarks()`).
 */
export function setMarksEnabled(on: boolean): void {
  enabled = on;
}

/** Whether {@link mark} records. */
export function marksEnabled(): boolean {
  return enabled;
}

/** Puts `nestjs-etcd-election:<name>` on the performance timeline when marks are enabled. */
export function mark(name: HandoverMark): void {
  if (enabled) performance.mark(MARK_PREFIX + name);
}
