/** One election's leadership snapshot and the ordered stream of its changes. */
import { BehaviorSubject, type Observable } from 'rxjs';
import { CandidateStoppedError, LeadershipTimeoutError } from './errors/index.js';
import { type Leadership, transition } from './leadership.js';

/**
 * @internal The owner of one node's {@link Leadership} in one election: applies each change and
 * emits it in order. A change made while subscribers are being told of another (a handler that
 * resigns from `@OnLeader`) is queued and emitted after it, so every subscriber sees every change
 * in the order it happened.
 */
export class LeadershipState {
  /** The latest snapshot; the stream may lag behind it while emissions are queued. */
  private latest: Leadership;
  private readonly state: BehaviorSubject<Leadership>;
  private readonly emissions: Leadership[] = [];
  private emitting = false;

  /**
   * @param onUpdate Called with the snapshot before and after every update made before
   *   {@link complete}, changed or not (for diagnostics).
   */
  constructor(
    initial: Leadership,
    private readonly onUpdate?: (from: Leadership, to: Leadership) => void,
  ) {
    this.latest = initial;
    this.state = new BehaviorSubject(initial);
  }

  /** The latest snapshot, including changes still queued for emission. */
  get current(): Leadership {
    return this.latest;
  }

  /** Every change, in order; replays the latest emitted to new subscribers. */
  get leadership$(): Observable<Leadership> {
    return this.state.asObservable();
  }

  /** Moves to the snapshot `patch` makes of the latest and emits it, unless nothing changed. */
  update(patch: Partial<Leadership>): void {
    if (this.state.isStopped) return;
    const next = transition(this.latest, patch);
    this.onUpdate?.(this.latest, next);
    if (next === this.latest) return;
    this.latest = next;
    this.emissions.push(next);
    if (this.emitting) return;
    this.emitting = true;
    try {
      for (let item = this.emissions.shift(); item; item = this.emissions.shift()) {
        this.state.next(item);
      }
    } finally {
      this.emitting = false;
    }
  }

  /** Completes the stream once the changes still queued are emitted. */
  complete(): void {
    if (!this.emitting) {
      this.state.complete();
    } else {
      // Completing from inside an emission would cut the queued ones off.
      queueMicrotask(() => this.state.complete());
    }
  }

  /**
   * Resolves with what `accept` makes of the first emitted snapshot it accepts; rejects on
   * timeout (`LeadershipTimeoutError`), abort (the signal's reason) or completion
   * (`CandidateStoppedError`). `election` names the election in those errors.
   */
  waitFor(
    election: string,
    accept: (leadership: Leadership) => Leadership | undefined,
    options: { signal?: AbortSignal; timeout?: number } = {},
  ): Promise<Leadership> {
    const { signal, timeout } = options;
    return new Promise<Leadership>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const cleanup = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        // The replay on subscribing may settle it before `subscription` is assigned.
        queueMicrotask(() => subscription.unsubscribe());
      };
      const onAbort = () => {
        cleanup();
        reject(signal!.reason);
      };
      const subscription = this.state.subscribe({
        next: leadership => {
          const accepted = accept(leadership);
          if (!accepted) return;
          cleanup();
          resolve(accepted);
        },
        complete: () => {
          cleanup();
          reject(new CandidateStoppedError(election));
        },
      });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (timeout !== undefined) {
        timer = setTimeout(() => {
          cleanup();
          reject(new LeadershipTimeoutError(election, timeout));
        }, timeout);
      }
    });
  }
}
