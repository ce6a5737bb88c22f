import { describe, expect, it } from 'vitest';
import { ElectionOptionsError } from '../core/index.js';
import { OnOneInstance } from './on-one-instance.decorator.js';
import { WithoutOverlapping } from './without-overlapping.decorator.js';

describe('job decorator options', () => {
  it('reports a bad @WithoutOverlapping option as a lock option, naming field, value and fix', () => {
    expect(() => WithoutOverlapping({ wait: -1 })).toThrow(ElectionOptionsError);
    expect(() => WithoutOverlapping({ wait: -1 })).toThrow(
      /^Invalid lock option "@WithoutOverlapping wait": -1\. Expected a number of milliseconds/,
    );
    expect(() => WithoutOverlapping({ name: '' })).toThrow(
      /^Invalid lock option "@WithoutOverlapping name": ""\. Expected a non-empty string/,
    );
  });

  it('reports a bad @OnOneInstance option as an election option', () => {
    expect(() => OnOneInstance({ name: '' })).toThrow(
      /^Invalid election option "@OnOneInstance name": ""/,
    );
    expect(() => OnOneInstance({ balance: 'yes' as never })).toThrow(
      /^Invalid election option "@OnOneInstance balance": "yes"/,
    );
  });
});
