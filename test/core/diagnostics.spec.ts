import diagnostics from 'node:diagnostics_channel';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DIAGNOSTICS_CHANNELS,
  type ElectedEvent,
  type LeaderObservedEvent,
  type SessionLostEvent,
  type StateEvent,
  type TermEndedEvent,
} from '../../lib/core/index.js';
import { waitFor } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { queued, uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { client, start } = useCandidates(etcd);

interface Heard {
  channel: keyof typeof DIAGNOSTICS_CHANNELS;
  message: unknown;
}

/** Subscribes to every channel; records what it hears, in order, until the test ends. */
function listen(): Heard[] {
  const heard: Heard[] = [];
  for (const [channel, name] of Object.entries(DIAGNOSTICS_CHANNELS)) {
    const onMessage = (message: unknown) =>
      heard.push({ channel: channel as Heard['channel'], message });
    diagnostics.subscribe(name, onMessage);
    unsubscribers.push(() => diagnostics.unsubscribe(name, onMessage));
  }
  return heard;
}
const unsubscribers: Array<() => void> = [];
afterEach(() => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
});

/** A one-line description of each event of election `name`, in the order heard. */
function trace(heard: Heard[], name: string): string[] {
  return heard.flatMap(({ channel, message }) => {
    switch (channel) {
      case 'elected': {
        const e = message as ElectedEvent;
        return e.election === name ? [`elected ${e.value}`] : [];
      }
      case 'resigned':
      case 'lost': {
        const e = message as TermEndedEvent;
        return e.election === name ? [`${channel} ${e.reason}`] : [];
      }
      case 'state': {
        const { leadership: l, previous } = message as StateEvent;
        if (l.election !== name || l.role === previous.role) return [];
        return [`state ${l.value} ${previous.role}→${l.role}`];
      }
      default:
        return [];
    }
  });
}

describe('diagnostics channels', () => {
  it('fire in order for one handover between two candidates', async () => {
    const name = uniqueName('diag-handover');
    const a = start({ election: name, value: 'a' });
    await waitFor(() => a.candidate.isLeader(), { timeout: 10_000, message: 'a leads' });
    const b = start({ election: name, value: 'b' });
    await queued(b);
    // b observes a as leader before the handover, so the handover it sees is measured
    await waitFor(() => b.candidate.leadership.leader?.value === 'a', {
      timeout: 10_000,
      message: 'b sees a lead',
    });
    const tokenA = a.candidate.currentTerm()!.token;

    const heard = listen();
    await a.candidate.resign();
    await waitFor(() => b.candidate.isLeader(), { timeout: 10_000, message: 'b leads' });
    await waitFor(
      () =>
        heard.some(
          h =>
            h.channel === 'leaderObserved' &&
            (h.message as LeaderObservedEvent).election === name &&
            (h.message as LeaderObservedEvent).leader?.value === 'b' &&
            (h.message as LeaderObservedEvent).handoverMs !== undefined,
        ),
      { timeout: 10_000, message: 'the handover to b observed' },
    );

    // a steps down (event, then its role flips) before b is elected, and b's role follows
    expect(trace(heard, name)).toEqual([
      'resigned resigned',
      'state a leader→follower',
      'elected b',
      'state b follower→leader',
    ]);

    const resigned = heard.find(h => h.channel === 'resigned')!.message as TermEndedEvent;
    expect(resigned.token).toEqual(tokenA);
    expect(resigned.heldMs).toBeGreaterThanOrEqual(0);
    expect(resigned.afterDeadlineMs).toBeUndefined();
    const elected = heard.find(h => h.channel === 'elected')!.message as ElectedEvent;
    expect(elected.token).toEqual(b.candidate.currentTerm()!.token);
    expect(BigInt(elected.token.revision)).toBeGreaterThan(BigInt(tokenA.revision));
    expect(elected.lease).toBe(b.candidate.leadership.lease);
    expect(elected.at).toBeGreaterThan(resigned.at);

    // every observer saw a's key go (no leader), then b
    const observed = heard
      .filter(h => h.channel === 'leaderObserved')
      .map(h => h.message as LeaderObservedEvent)
      .filter(e => e.election === name);
    const toB = observed.filter(e => e.leader?.value === 'b');
    expect(toB.length).toBeGreaterThanOrEqual(1);
    for (const event of toB) {
      const gone = observed.findIndex(e => e.leader === undefined && e.previous?.value === 'a');
      expect(gone).toBeGreaterThanOrEqual(0);
      expect(observed.indexOf(event)).toBeGreaterThan(gone);
    }
    // each observer's view carries the handover time it measured, from a's key to b
    const measured = toB.filter(e => e.handoverMs !== undefined);
    expect(measured.length).toBeGreaterThanOrEqual(1);
    const own = [a, b].map(n => n.candidate.stats.lastHandover?.ms);
    for (const event of measured) {
      expect(event.from?.value).toBe('a');
      expect(own).toContain(event.handoverMs);
    }
  });

  it('report a revoked lease as a session loss, and the term as lost', async () => {
    const name = uniqueName('diag-revoke');
    const a = start({ election: name, value: 'a' });
    await waitFor(() => a.candidate.isLeader(), { timeout: 10_000, message: 'a leads' });
    const { lease, revision } = a.candidate.leadership;

    const heard = listen();
    await client().leaseClient.leaseRevoke({ ID: BigInt(`0x${lease}`).toString() });
    const sessionLost = await waitFor(
      () =>
        heard.find(
          h => h.channel === 'sessionLost' && (h.message as SessionLostEvent).lease === lease,
        ),
      { timeout: 10_000, message: 'the session-lost event' },
    );
    expect(sessionLost.message).toMatchObject({ lease, reason: 'revoked', ttl: 2 });

    // the revoke deletes the key too: whichever a notices first ends the term, exactly once
    const lost = heard
      .filter(h => h.channel === 'lost')
      .map(h => h.message as TermEndedEvent)
      .filter(e => e.election === name);
    expect(lost).toHaveLength(1);
    expect(['lease-revoked', 'key-deleted']).toContain(lost[0].reason);
    expect(lost[0].token.revision).toBe(revision);
    expect(trace(heard, name).slice(0, 2)).toEqual([
      `lost ${lost[0].reason}`,
      'state a leader→follower',
    ]);
  });
});
