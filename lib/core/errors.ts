/** Marks the error classes of this library, in whichever copy (ESM or CommonJS) made them. */
const BRAND = Symbol.for('nestjs-etcd-election.error');

/**
 * Base class of every error this library throws. Catch this to catch them all.
 *
 * `instanceof` works across the ES module and CommonJS builds loaded in one process: an error
 * thrown by one copy is an instance of the same-named class of the other.
 */
export class ElectionError extends Error {
  static {
    Object.defineProperty(this.prototype, BRAND, { value: true });
  }

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  /** True for instances of this class, also when made by another copy of the library. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    if (typeof value !== 'object' || value === null || !(BRAND in value)) return false;
    for (let p: object | null = Object.getPrototypeOf(value); p; p = Object.getPrototypeOf(p)) {
      if (!(BRAND in p)) return false;
      const own = Object.getOwnPropertyDescriptor(p, 'constructor')?.value as unknown;
      if (typeof own === 'function' && own.name === this.name) return true;
    }
    return false;
  }
}

/** An option or argument is invalid; the message names the field, the value and what is allowed. */
export class ElectionOptionsError extends ElectionError {
  constructor(
    readonly field: string,
    readonly value: unknown,
    readonly allowed: string,
  ) {
    super(`Invalid election option "${field}": ${describe(value)}. Expected ${allowed}.`);
  }
}

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

/** The operation needs this node to lead (or to hold a key in the queue), and it does not. */
export class NotLeaderError extends ElectionError {
  constructor(election: string, what: string) {
    super(`Cannot ${what}: this node does not lead election "${election}".`);
  }
}

/** The candidate was stopped; no further operation is possible. */
export class CandidateStoppedError extends ElectionError {
  constructor(election: string) {
    super(`The candidate for election "${election}" is stopped.`);
  }
}

/** `waitForLeadership` gave up after its timeout. */
export class LeadershipTimeoutError extends ElectionError {
  constructor(election: string, timeoutMs: number) {
    super(`This node did not become leader of election "${election}" within ${timeoutMs} ms.`);
  }
}

/** A watch ended without the event we waited for; the caller re-reads and watches again. */
export class WatchInterruptedError extends ElectionError {
  constructor(
    reason: string,
    readonly compactRevision?: string,
  ) {
    super(`etcd watch interrupted: ${reason}`);
  }
}

/** The reason a leadership term ended, carried by the aborted leader `AbortSignal`. */
export class LeadershipLostError extends ElectionError {
  constructor(
    election: string,
    readonly reason: string,
  ) {
    super(`Leadership of election "${election}" ended: ${reason}.`);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
