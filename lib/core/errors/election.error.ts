/** The base class of every error the library throws. */

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
