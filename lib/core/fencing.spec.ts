import { describe, expect, it } from 'vitest';
import { ElectionOptionsError } from './errors/index.js';
import { compareFencingTokens, fencingRevision } from './fencing.js';

const token = (revision: string) => ({ key: 'jobs/694d8b2c1f9a0b13', revision });

describe('compareFencingTokens', () => {
  it('orders revisions 9 and 10 as numbers, where strings would not', () => {
    expect('10' < '9').toBe(true); // the trap
    expect(compareFencingTokens(token('9'), token('10'))).toBe(-1);
    expect(compareFencingTokens(token('10'), token('9'))).toBe(1);
    expect(compareFencingTokens(token('10'), token('10'))).toBe(0);
    expect(compareFencingTokens('9', 10n)).toBe(-1);
    const sorted = [token('10'), token('9'), token('100')].sort(compareFencingTokens);
    expect(sorted.map(t => t.revision)).toEqual(['9', '10', '100']);
  });

  it('keeps revisions past 2^53 exact', () => {
    const big = '9007199254740993'; // 2^53 + 1: Number() would round it to 2^53
    expect(fencingRevision(big)).toBe(9007199254740993n);
    expect(compareFencingTokens(big, '9007199254740992')).toBe(1);
  });

  it('names the argument and the value of a bad token', () => {
    expect(() => compareFencingTokens('ten', '9')).toThrow(ElectionOptionsError);
    expect(() => compareFencingTokens('ten', '9')).toThrow(/"a": "ten"/);
    expect(() => compareFencingTokens('9', -1n)).toThrow(/"b": -1n/);
    expect(() => fencingRevision(9 as unknown as string)).toThrow(/"token": 9/);
  });
});
