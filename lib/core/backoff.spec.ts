import { describe, expect, it } from 'vitest';
import { backoffDelay } from './backoff.js';

describe('backoffDelay', () => {
  const options = { initial: 100, max: 5000 };

  it('doubles from the initial delay, with jitter in [base/2, base]', () => {
    expect(backoffDelay(0, options, () => 0)).toBe(50);
    expect(backoffDelay(0, options, () => 1)).toBe(100);
    expect(backoffDelay(3, options, () => 0)).toBe(400);
    expect(backoffDelay(3, options, () => 1)).toBe(800);
  });

  it('never exceeds the cap, even after many attempts', () => {
    for (const attempt of [6, 10, 100, 10_000]) {
      expect(backoffDelay(attempt, options, () => 1)).toBe(5000);
      expect(backoffDelay(attempt, options, () => 0)).toBe(2500);
    }
  });
});
