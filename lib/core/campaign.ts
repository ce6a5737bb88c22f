/** One candidate's rounds on one session: campaign, wait for its turn, hold the lead, resign. */
import type { Etcd3 } from 'etcd3';
import { backoffDelay } from './backoff.js';
import { type EtcdRefusal, isRefusal, refusalOf } from './errors/index.js';
import type { Election, Ticket } from './election.js';
import type { Leadership, LeadershipReason } from './leadership.js';
import type { LeaderObserver } from './leader-observer.js';
import type { LeadershipState } from './leadership-state.js';
import type { ResolvedCandidateOptions } from './options.js';
import { sleep, untilAborted } from './rpc.js';
import type { Session } from './session.js';
import { scheduleWarmUp } from './warmup.js';

/** @internal A pending `resign()`, settled once our key is gone. */
export interface ResignWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** @internal The reason a round is aborted with when `resign()` asks the loop to resign. */
export const RESIGN = Symbol('resign');

/**
 * @internal What the rounds read and write of their candidate: the candidate owns this state, and
 * the term with it (`becomeLeader`, `stepDown`).
 */
export interface CampaignContext {
  readonly client: Etcd3;
  readonly election: Election;
  readonly settings: ResolvedCandidateOptions;
  readonly stats: { waitWatchEvents: number; wakeups: number };
  readonly observer: LeaderObserver;
  readonly state: LeadershipState;
  /** This node's value, as last proclaimed. */
  value: string;
  /** Our place in the queue, while we hold a key whose revision we know. */
  ticket?: Ticket;
  /** The round in progress: `resign()` aborts it with {@link RESIGN}, `stop()` without. */
  round?: AbortController;
  resignWaiters: ResignWaiter[];
  /** What the latest resign() gives as the reason: `rebalanced` when a balancer asked. */
  resignReason: 'resigned' | 'rebalanced';
  /** Set when stop() begins: the loops keep this node's place but never campaign or lead again. */
  leaving: boolean;
  /** Reports an error the candidate recovered from. */
  report(error: unknown): void;
  /** Starts a term on `ticket`, synchronously. */
  becomeLeader(ticket: Ticket): { signal: AbortSignal };
  /** Ends the current term synchronously; false when there was none. */
  stepDown(reason: LeadershipReason, patch?: Partial<Leadership>): boolean;
}

/** Leaves the session (our key deleted first, if it lives on), then recovery starts afresh. */
class AbandonSession extends Error {}

/** etcd refuses this node (auth, permission, TLS): no point retrying soon. */
class Refused extends Error {
  constructor(
    readonly refusal: EtcdRefusal,
    readonly error: unknown,
  ) {
    super(refusal);
  }
}

/** @internal True when `error` ends the rounds to leave the session, nothing to report. */
export function abandonsSession(error: unknown): boolean {
  return error instanceof AbandonSession;
}

/** @internal The refusal that ended the rounds, with etcd's error; undefined for any other. */
export function refusalIn(error: unknown): { refusal: EtcdRefusal; error: unknown } | undefined {
  return error instanceof Refused ? { refusal: error.refusal, error: error.error } : undefined;
}

/**
 * @internal Campaigns on `session` round after round until `signal` aborts, the session must be
 * left, or etcd refuses us: each round takes a place in the queue, waits for its turn and holds
 * the lead.
 */
export async function campaignLoop(
  ctx: CampaignContext,
  session: Session,
  signal: AbortSignal,
): Promise<void> {
  const { election, observer, stats, state } = ctx;
  let failures = 0;
  const resetBackoff = () => (failures = 0);
  for (;;) {
    signal.throwIfAborted();
    // Draining for stop(): hold our place in the queue, neither campaign nor lead again.
    if (ctx.leaving) await untilAborted(signal);
    const round = new AbortController();
    ctx.round = round;
    const roundSignal = AbortSignal.any([signal, round.signal]);
    let delay = 0;
    try {
      if (ctx.resignWaiters.length) {
        await completeResign(ctx, session, signal);
        continue;
      }
      const ticket = await election.campaign(session.leaseId, ctx.value, roundSignal);
      ctx.ticket = ticket;
      scheduleWarmUp(ctx.client, election.prefix);
      // A proclaim() made while the campaign was in flight: write it before going further, so
      // that what we report is what etcd holds.
      while (ticket.value !== ctx.value) {
        if (!(await election.proclaim(ticket, ctx.value, roundSignal))) {
          throw new AbandonSession('key-overwritten');
        }
      }
      state.update({
        ...(isRefusal(state.current.reason) && { role: 'follower', reason: 'campaigning' }),
        lease: session.leaseHex,
        key: ticket.key,
        revision: ticket.revision,
        value: ctx.value,
      });
      const own = await election.waitForTurn(ticket, roundSignal, {
        onWatchEvents: count => (stats.waitWatchEvents += count),
        onWait: predecessor => observer.waiting(predecessor),
        onWake: () => {
          stats.wakeups++;
          observer.woke();
        },
        onRead: () => {
          resetBackoff();
          observer.decided();
        },
      });
      if (!own.owned) {
        if (own.exists) throw new AbandonSession('key-overwritten');
        ctx.ticket = undefined;
        state.update({ reason: 'key-deleted', key: undefined, revision: undefined });
        continue;
      }
      if (!session.isAlive()) signal.throwIfAborted();
      roundSignal.throwIfAborted();
      const term = ctx.becomeLeader(ticket);
      failures = 0;
      await holdLeadership(ctx, ticket, term, own.revision, roundSignal, resetBackoff);
    } catch (error) {
      signal.throwIfAborted();
      if (ctx.leaving || round.signal.reason === RESIGN) continue;
      if (error instanceof AbandonSession) throw error;
      const refusal = refusalOf(error);
      if (refusal) throw new Refused(refusal, error);
      ctx.report(error);
      delay = backoffDelay(failures++, ctx.settings.backoff);
    } finally {
      if (ctx.round === round && delay === 0) ctx.round = undefined;
      // No wait is running now: nothing for the observer to hold back for.
      observer.decided();
    }
    // The pause after an error still listens to resign() (and the loop's end) through the round.
    await sleep(delay, roundSignal).catch(() => signal.throwIfAborted());
    if (ctx.round === round) ctx.round = undefined;
  }
}

/** Deletes our key for the pending resigns and settles them, or leaves the session if it can't. */
async function completeResign(
  ctx: CampaignContext,
  session: Session,
  signal: AbortSignal,
): Promise<void> {
  const ticket = ctx.ticket;
  ctx.ticket = undefined;
  ctx.state.update({ reason: ctx.resignReason, key: undefined, revision: undefined });
  const waiters = ctx.resignWaiters.splice(0);
  let deleted: boolean;
  try {
    // A campaign abandoned in flight may have written our key without telling us its revision.
    if (ticket) await ctx.election.resign(ticket, signal);
    else await ctx.election.resignLease(session.leaseId, signal);
    deleted = true;
  } catch {
    deleted = false;
  }
  if (deleted) {
    for (const waiter of waiters) waiter.resolve();
    return;
  }
  // A key we could not delete (or the session ended meanwhile) would keep our old place: give
  // up the lease instead; the waiters settle once it is revoked or has expired.
  ctx.resignWaiters.push(...waiters);
  signal.throwIfAborted();
  throw new AbandonSession('resign-failed');
}

/** Watches our key while we lead, stepping down the moment it is deleted or overwritten. */
async function holdLeadership(
  ctx: CampaignContext,
  ticket: Ticket,
  term: { signal: AbortSignal },
  verifiedAt: string,
  roundSignal: AbortSignal,
  onRead: () => void,
): Promise<void> {
  const signal = AbortSignal.any([roundSignal, term.signal]);
  let from: string | undefined = verifiedAt;
  let failures = 0;
  for (;;) {
    try {
      if (from === undefined) {
        const own = await ctx.election.verify(ticket, signal);
        failures = 0;
        onRead();
        if (!own.owned) {
          const loss = own.exists ? 'key-overwritten' : 'key-deleted';
          ctx.stepDown(loss, { key: undefined, revision: undefined });
          if (own.exists) throw new AbandonSession(loss);
          return;
        }
        from = own.revision;
      }
      const loss = await ctx.election.watchOwnership(ticket, from, signal);
      ctx.stepDown(loss, { key: undefined, revision: undefined });
      if (loss === 'key-overwritten') throw new AbandonSession(loss);
      ctx.ticket = undefined;
      return;
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      if (error instanceof AbandonSession) throw error;
      const refusal = refusalOf(error);
      if (refusal) {
        ctx.stepDown(refusal);
        throw new Refused(refusal, error);
      }
      ctx.report(error);
      from = undefined;
      await sleep(backoffDelay(failures++, ctx.settings.backoff), signal);
    }
  }
}
