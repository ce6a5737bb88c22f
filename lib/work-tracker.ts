/** Work in flight under a term or a lock, so that shutdown can wait for it, bounded. */

/** @internal Counts promises as running work until they settle; shutdown drains them. */
export class WorkTracker {
  /** Work in flight (settles, never rejects) → its label. */
  private readonly work = new Map<Promise<void>, string>();

  /** How many pieces of work are running now. */
  get size(): number {
    return this.work.size;
  }

  /** Counts `work` as running under `label` until it settles; returns it as a promise. */
  track<T>(label: string, work: T | PromiseLike<T>): Promise<Awaited<T>> {
    const result = Promise.resolve(work) as Promise<Awaited<T>>;
    const settled = result.then(
      () => undefined,
      () => undefined,
    );
    this.work.set(settled, label);
    void settled.then(() => this.work.delete(settled));
    return result;
  }

  /**
   * Waits up to `timeoutMs` for the running work to settle. Resolves with the labels of the work
   * still running then (each once), or `[]` when everything settled in time.
   */
  async drain(timeoutMs: number): Promise<string[]> {
    if (this.work.size === 0) return [];
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>(resolve => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    });
    const late = await Promise.race([Promise.all(this.work.keys()).then(() => false), timedOut]);
    clearTimeout(timer);
    return late ? [...new Set(this.work.values())] : [];
  }
}

/** @internal True for a promise or any thenable. */
export function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
