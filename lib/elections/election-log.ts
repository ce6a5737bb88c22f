/** The log lines of one election: one per state change, one per streak of etcd errors. */
import { Logger } from '@nestjs/common';
import { type Leadership, refusalOf } from '../core/index.js';
import { ELECTION_LOGGER_CONTEXT } from '../election.constants.js';
import { type EtcdTarget, etcdErrorMessage, stateChangedMessage } from '../election.messages.js';

/**
 * @internal Writes the state lines of one election and its etcd errors, one line per streak: a
 * state line that names the error stands for it, and the next error after a session is back
 * starts a new streak. Lines can be held back while a resign is on its way.
 */
export class ElectionLog {
  private readonly logger = new Logger(ELECTION_LOGGER_CONTEXT);
  private loggedLeader?: string;
  private lastError?: unknown;
  private errorLogged = false;
  /** State lines held back while the resign is on its way. */
  private held?: Leadership[];

  constructor(
    private readonly name: string,
    private readonly target: EtcdTarget,
  ) {}

  /** Logs the change from `previous` to `next` when it is worth a line. */
  transition(previous: Leadership | undefined, next: Leadership): void {
    if (previous && this.worthLogging(previous, next)) this.state(next);
  }

  /** An etcd error the engine recovered from: logged unless a state line will name it. */
  error(error: unknown): void {
    this.lastError = error;
    // A refusal always becomes a state (disconnected, with its reason), whose line names it.
    if (this.errorLogged || refusalOf(error)) return;
    // The state change this error causes, if any, comes in the same tick and says it all.
    queueMicrotask(() => {
      if (this.errorLogged || this.lastError !== error) return;
      this.errorLogged = true;
      this.logger.warn(etcdErrorMessage(this.name, error, this.target));
    });
  }

  /** Holds state lines back until {@link release} (the successor waits on the resign alone). */
  hold(): void {
    this.held = [];
  }

  /** Writes the held state lines, and stops holding. */
  release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const leadership of held) this.state(leadership);
  }

  /**
   * One line per change of role or reason, and per new leader a follower learns of; not for the
   * instants of a handover in which a follower knows no leader yet, or sees its own key lead
   * just before it is elected.
   */
  private worthLogging(previous: Leadership, next: Leadership): boolean {
    const changed = previous.role !== next.role || previous.reason !== next.reason;
    if (next.role !== 'follower') return changed;
    const other = isOtherLeader(next);
    if (next.reason === 'leader-changed' && !other) return false;
    return changed || (other && next.leader!.key !== this.loggedLeader);
  }

  private state(leadership: Leadership): void {
    if (this.held) {
      this.held.push(leadership);
      return;
    }
    this.loggedLeader = leadership.leader?.key;
    const leaving = leadership.reason === 'stopping' || leadership.reason === 'stopped';
    if (leadership.role === 'disconnected' && !leaving) {
      // This line names the error that caused it: the error itself is not logged again.
      if (this.lastError !== undefined) this.errorLogged = true;
      this.logger.warn(stateChangedMessage(leadership, this.lastError, this.target));
      return;
    }
    // Back in etcd with a session: the next etcd error starts a new streak and is logged.
    if (leadership.lease !== undefined) {
      this.errorLogged = false;
      this.lastError = undefined;
    }
    this.logger.log(stateChangedMessage(leadership));
  }
}

/** @internal True when a leader is known and it is not this node. */
export function isOtherLeader(leadership: Leadership): boolean {
  const { leader } = leadership;
  if (!leader) return false;
  if (leadership.key && leader.key === leadership.key) return false;
  if (leadership.lease && leader.lease === leadership.lease) return false;
  return true;
}
