/** One lock name's first-come-first-served queue inside this process, in front of etcd's. */

/**
 * @internal One name's queue inside this process: one holder (or acquirer in etcd) at a time,
 * FIFO.
 */
export class LocalQueue {
  private busy = false;
  private readonly waiters: Array<{ go: () => void }> = [];

  get idle(): boolean {
    return !this.busy && this.waiters.length === 0;
  }

  tryEnter(): boolean {
    if (this.busy) return false;
    this.busy = true;
    return true;
  }

  enter(signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    if (this.tryEnter()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter = {
        go: () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  leave(): void {
    const next = this.waiters.shift();
    if (next) next.go();
    else this.busy = false;
  }
}
