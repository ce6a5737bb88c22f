/** The checks the options of every job decorator share. */
import { ElectionOptionsError } from '../core/index.js';

/**
 * @internal Throws unless the options of `decorator` (`@WithoutOverlapping` …) are an object
 * (`shape` says which) whose `name`, if given, is a non-empty string.
 */
export function checkJobOptions(decorator: string, options: unknown, shape: string): void {
  if (typeof options !== 'object' || options === null) {
    throw new ElectionOptionsError(`${decorator} options`, options, shape);
  }
  const { name } = options as { name?: unknown };
  if (name !== undefined && (typeof name !== 'string' || name.length === 0)) {
    throw new ElectionOptionsError(`${decorator} name`, name, 'a non-empty string');
  }
}
