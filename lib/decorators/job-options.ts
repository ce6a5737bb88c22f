/** The checks the options of every job decorator share. */
import { ElectionOptionsError } from '../core/index.js';

/**
 * @internal Throws unless the options of `decorator` (`@WithoutOverlapping` …) are an object
 * (`shape` says which) whose `name`, if given, is a non-empty string. `subject` is what the job
 * runs under: a lock (`@WithoutOverlapping`) or an election (`@OnOneInstance`).
 */
export function checkJobOptions(
  decorator: string,
  options: unknown,
  shape: string,
  subject: 'election' | 'lock',
): void {
  if (typeof options !== 'object' || options === null) {
    throw new ElectionOptionsError(`${decorator} options`, options, shape, subject);
  }
  const { name } = options as { name?: unknown };
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new ElectionOptionsError(`${decorator} name`, name, 'a non-empty string', subject);
  }
}
