/** Who leads, as a candidate sees it: the observe loop, its handshake with the wait, handovers. */
import { BehaviorSubject, type Observable, filter } from 'rxjs';
import type { BackoffOptions } from './backoff.js';
import { publishLeaderObserved } from './diagnostics/index.js';
import type { Election, LeaderInfo } from './election.js';

/** One observed change of leader. */
export interface Handover {
  /** The leader that went away. */
  from?: LeaderInfo;
  /** The leader that followed. */
  to: LeaderInfo;
  /** Milliseconds from seeing the old leader's key deleted to seeing the new leader. */
  ms: number;
  /** When the new leader was seen. */
  at: Date;
}

/**
 * @internal Follows who leads for one candidate and times each handover. While this node's wait
 * reads whether it leads after its predecessor went, the observer holds back its news of that
 * deletion, so the two never tell different stories.
 */
export class LeaderObserver {
  private readonly leaderState = new BehaviorSubject<LeaderInfo | undefined | null>(null);
  private leaderGoneAt?: { at: number; leader?: LeaderInfo };
  /** The read a wake-up sends, which decides whether this node leads, while it is in flight. */
  private deciding?: { promise: Promise<void>; resolve: () => void };
  /** The predecessor's key while the waiter watches it. */
  private waitingOn?: string;
  private lastObserved?: LeaderInfo;

  /**
   * @param stats Where the last handover is recorded (the candidate's stats).
   * @param onLeader Called with every leader observed (`undefined`: nobody leads), after `leader$`.
   */
  constructor(
    private readonly election: Election,
    private readonly stats: { lastHandover?: Handover },
    private readonly onLeader: (leader: LeaderInfo | undefined) => void,
  ) {}

  /** Who leads, observed (whatever language it runs); `undefined` while nobody does. */
  get leader$(): Observable<LeaderInfo | undefined> {
    return this.leaderState.pipe(filter((l): l is LeaderInfo | undefined => l !== null));
  }

  /** The leader last observed; `undefined` when nobody led or nothing was observed yet. */
  get last(): LeaderInfo | undefined {
    return this.lastObserved;
  }

  /** Runs etcd's observe loop until `signal` aborts. */
  observe(options: {
    signal: AbortSignal;
    backoff: BackoffOptions;
    onError: (error: unknown) => void;
  }): Promise<void> {
    return this.election.observe((leader, at) => this.onObserved(leader, at), {
      ...options,
      decided: deleted => {
        // The waiter's own event for this deletion may still be on its way: its read decides.
        if (!this.deciding && deleted === this.waitingOn) this.beginDeciding();
        return this.deciding?.promise;
      },
    });
  }

  /** The waiter now watches `predecessor`'s key. */
  waiting(predecessor: string): void {
    this.waitingOn = predecessor;
  }

  /** The waiter's predecessor went: its read, in flight now, decides whether this node leads. */
  woke(): void {
    // The observer may have begun the decision on seeing the same deletion first.
    if (!this.deciding) this.beginDeciding();
  }

  /** The waiter's read has answered, or no wait is running: nothing to hold back for. */
  decided(): void {
    this.waitingOn = undefined;
    this.deciding?.resolve();
    this.deciding = undefined;
  }

  /** Ends `leader$`. */
  complete(): void {
    this.leaderState.complete();
  }

  private beginDeciding(): void {
    this.deciding?.resolve();
    let resolve!: () => void;
    const promise = new Promise<void>(r => (resolve = r));
    this.deciding = { promise, resolve };
  }

  private onObserved(leader: LeaderInfo | undefined, at: number): void {
    const previous = this.lastObserved;
    this.lastObserved = leader;
    if (!leader) {
      this.leaderGoneAt = { at, leader: previous };
    } else if (this.leaderGoneAt && this.leaderGoneAt.leader?.key !== leader.key) {
      this.stats.lastHandover = {
        from: this.leaderGoneAt.leader,
        to: leader,
        ms: Math.round((at - this.leaderGoneAt.at) * 1000) / 1000,
        at: new Date(),
      };
      this.leaderGoneAt = undefined;
    }
    publishLeaderObserved(this.election.name, leader, previous, this.stats.lastHandover);
    this.leaderState.next(leader);
    this.onLeader(leader);
  }
}
