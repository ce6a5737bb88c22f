/** One candidate's sessions, one after another: join one, campaign on it, leave it, recover. */
import { backoffDelay } from './backoff.js';
import { later, remaining } from './clock.js';
import { LeadershipLostError, SessionsClosedError } from './errors/index.js';
import { isRefusal, refusalOf } from './errors/index.js';
import { type CampaignContext, abandonsSession, campaignLoop, refusalIn } from './campaign.js';
import { candidateKey } from './keys.js';
import type { LeadershipReason } from './leadership.js';
import { retryWhileAlive } from './retry.js';
import { sleep, unary, untilAborted } from './rpc.js';
import type { Session, SessionLossReason } from './session.js';
import type { Sessions } from './sessions.js';

/** The longest pause between attempts to reach an etcd that does not answer. */
const PROBE_INTERVAL = 500;

/** @internal What the session supervision reads and writes of its candidate, besides the rounds'. */
export interface SessionContext extends CampaignContext {
  readonly stats: CampaignContext['stats'] & { sessionLosses: number };
  /** Where this candidate's session comes from: the application's, or {@link ownSessions}. */
  readonly sessions: Sessions;
  /** The session owner the candidate made for itself, when given none. */
  readonly ownSessions?: Sessions;
  /** Aborts once stop() has resigned: the loops unwind. */
  readonly stopSignal: AbortSignal;
  /** The session campaigned on now. */
  session?: Session;
  /** stop() deleted our key already: nothing is left to delete on the shared lease. */
  keyGoneOnStop: boolean;
}

/**
 * @internal Runs the candidate until it stops: joins a session (waiting, and showing each failure,
 * while there is none), campaigns on it, and on leaving it (lost, refused, abandoned) starts
 * afresh.
 */
export async function superviseSessions(ctx: SessionContext): Promise<void> {
  const { settings, state } = ctx;
  const stop = ctx.stopSignal;
  let failures = 0;
  while (!stop.aborted) {
    const lifetime = new AbortController();
    const signal = AbortSignal.any([lifetime.signal, stop]);
    let session: Session | undefined;
    let offSession: (() => void) | undefined;
    let delay = 0;
    try {
      session = await sharedSession(ctx, signal);
      failures = 0;
      ctx.session = session;
      const current = session;
      offSession = current.onLost(reason => onSessionLost(ctx, current, reason, lifetime));
      // After a refusal, stay as refused until the campaign shows etcd lets us in again.
      if (!isRefusal(state.current.reason)) {
        state.update({ role: 'follower', reason: 'campaigning', lease: session.leaseHex });
      }
      await campaignLoop(ctx, session, signal);
    } catch (caught) {
      if (stop.aborted) break;
      if (caught instanceof SessionsClosedError) {
        // The application's session owner closed before this election stopped: shutting down.
        state.update({
          role: 'disconnected',
          reason: 'stopping',
          key: undefined,
          lease: undefined,
        });
        await untilAborted(stop).catch(() => undefined);
        break;
      }
      if (!lifetime.signal.aborted && !abandonsSession(caught)) {
        const refused = refusalIn(caught);
        const refusal = refused ? refused.refusal : refusalOf(caught);
        const error = refused ? refused.error : caught;
        failures++;
        ctx.report(error);
        const gone = { key: undefined, revision: undefined, lease: undefined };
        if (refusal) {
          // etcd answers but refuses us: retry slowly, someone has to fix the set-up.
          delay = Math.max(settings.backoff.max, backoffDelay(failures - 1, settings.backoff));
          state.update({ role: 'disconnected', reason: refusal, ...gone });
        } else if (!session) {
          // etcd does not answer: probe every half second at least, so that a node campaigns
          // within a second of etcd answering again, however long the outage was.
          delay = Math.min(PROBE_INTERVAL, backoffDelay(failures - 1, settings.backoff));
          state.update({ role: 'disconnected', reason: 'etcd-unreachable', ...gone });
        } else {
          delay = backoffDelay(failures - 1, settings.backoff);
        }
      }
    } finally {
      ctx.ticket = undefined;
      if (session) {
        if (ctx.session === session) ctx.session = undefined;
        offSession?.();
        await leaveSession(ctx, session);
      }
    }
    if (stop.aborted) break;
    await sleep(delay, stop).catch(() => undefined);
  }
}

/**
 * The application's live session, waiting for one while there is none; meanwhile each failed
 * grant shows in this candidate's state (`etcd-unreachable`, or the refusal).
 */
async function sharedSession(ctx: SessionContext, signal: AbortSignal): Promise<Session> {
  const sessions = ctx.sessions;
  const onFailure = (error: unknown) => {
    ctx.report(error);
    ctx.state.update({
      role: 'disconnected',
      reason: refusalOf(error) ?? 'etcd-unreachable',
      key: undefined,
      revision: undefined,
      lease: undefined,
    });
  };
  const off = sessions.onGrantFailed(onFailure);
  try {
    if (!sessions.current() && sessions.error !== undefined) onFailure(sessions.error);
    return await sessions.get(signal);
  } finally {
    off();
  }
}

/** A lost session ends the term synchronously, before the loop hears of it and recovers. */
function onSessionLost(
  ctx: SessionContext,
  session: Session,
  reason: SessionLossReason,
  lifetime: AbortController,
): void {
  if (reason === 'closed' || session !== ctx.session) return;
  ctx.stats.sessionLosses++;
  const why: LeadershipReason = reason === 'revoked' ? 'lease-revoked' : 'session-expired';
  const gone = { key: undefined, revision: undefined, lease: undefined };
  if (!ctx.stepDown(why, gone)) ctx.state.update({ role: 'follower', reason: why, ...gone });
  lifetime.abort(new LeadershipLostError(ctx.election.name, why));
}

/**
 * Lets go of the session without ending it (the application's other elections and locks may
 * live on it): a live one keeps no key of ours; a lost one is revoked by its owner. On shutdown
 * our own session owner is closed here, revoking the lease.
 */
async function leaveSession(ctx: SessionContext, session: Session): Promise<void> {
  const { settings } = ctx;
  const waiters = ctx.resignWaiters.splice(0);
  const settle = () => waiters.forEach(waiter => waiter.resolve());
  if (!session.isAlive()) {
    // A pending resign completes once the lease (with our key) is revoked, or has certainly
    // expired in etcd (etcd may extend a lease by up to a TTL when a new raft leader starts).
    const expired = later(
      session.deadline,
      settings.margin + session.ttl * 1000 + settings.requestTimeout,
    );
    void Promise.race([
      ctx.sessions.revocation(session),
      sleep(remaining(expired, settings.clock), ctx.stopSignal).catch(() => undefined),
    ]).then(settle);
    return;
  }
  if (ctx.stopSignal.aborted) {
    if (ctx.ownSessions) {
      // On shutdown stop() resigned already; revoking our own lease takes any key left on it
      // too, so no delete goes out before the revoke.
      await ctx.ownSessions.close();
    } else if (!ctx.keyGoneOnStop) {
      // stop() resigned already, but a campaign abandoned in flight may have written our key
      // without telling us its revision: one delete of it, by our lease.
      await ctx.election.resignLease(session.leaseId).catch(() => false);
    }
    settle();
    return;
  }
  // Key overwritten, resign failed, or refused: our key (or a foreign value at it) must go
  // before we campaign again, or the next campaign would take it for our place.
  await deleteOwnKey(ctx, session);
  settle();
}

/**
 * Deletes `<prefix>/<our lease hex>` whatever it holds, retrying until done, the session is
 * lost (the key goes with its lease), we stop, or etcd refuses us (the key is ours, and the
 * next campaign takes it up again).
 */
function deleteOwnKey(ctx: SessionContext, session: Session): Promise<void> {
  const key = Buffer.from(candidateKey(ctx.election.name, session.leaseId));
  const { requestTimeout, backoff } = ctx.settings;
  return retryWhileAlive(
    session,
    signal => unary(ctx.client, 'KV', 'deleteRange', { key }, { timeout: requestTimeout, signal }),
    {
      backoff,
      // A refusal ends the retries unreported: the next campaign meets it, and reports it, again
      // (one error per slow retry, as when etcd refuses the campaign itself).
      onError: error => {
        if (!refusalOf(error)) ctx.report(error);
      },
      signal: ctx.stopSignal,
      giveUp: error => refusalOf(error) !== undefined,
    },
  );
}
