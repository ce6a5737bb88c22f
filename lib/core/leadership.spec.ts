import { describe, expect, it } from 'vitest';
import { initialLeadership, sameLeader, transition } from './leadership.js';

describe('transition', () => {
  const start = initialLeadership('jobs', 'node-1');

  it('returns the same snapshot when nothing visible changes', () => {
    expect(transition(start, {})).toBe(start);
    expect(transition(start, { role: 'disconnected', reason: 'starting' })).toBe(start);
  });

  it('moves `since` only when the role changes', async () => {
    const follower = transition(start, { role: 'follower', reason: 'campaigning' });
    expect(follower).not.toBe(start);
    expect(follower.since).not.toBe(start.since);
    const queued = transition(follower, { key: 'jobs/1', revision: '5' });
    expect(queued.since).toBe(follower.since);
    expect(queued.key).toBe('jobs/1');
  });

  it('treats a new leader term with the same value as a change', () => {
    const a = { key: 'jobs/1', value: 'x', revision: '5', lease: '1' };
    const b = { key: 'jobs/2', value: 'x', revision: '9', lease: '2' };
    expect(sameLeader(a, { ...a })).toBe(true);
    expect(sameLeader(a, b)).toBe(false);
    expect(sameLeader(undefined, undefined)).toBe(true);
    expect(sameLeader(a, undefined)).toBe(false);
    const led = transition(start, { leader: a });
    expect(transition(led, { leader: b })).not.toBe(led);
  });
});
