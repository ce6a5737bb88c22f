/** The error a bad option or argument gets. */
import { ElectionError } from './election.error.js';

/** An option or argument is invalid; the message names the field, the value and what is allowed. */
export class ElectionOptionsError extends ElectionError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
    /** What the option belongs to, as the message names it. @default 'election' */
    subject: 'election' | 'lock' = 'election',
  ) {
    super(`Invalid ${subject} option "${field}": ${describeValue(value)}. Expected ${allowed}.`);
  }
}

/** A value as a message shows it: strings quoted, objects as JSON where they can be. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
