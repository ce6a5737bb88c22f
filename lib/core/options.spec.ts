import { describe, expect, it } from 'vitest';
import { systemClock } from './clock.js';
import { resolveCandidateOptions } from './options.js';
import { ElectionOptionsError } from './errors/index.js';

describe('resolveCandidateOptions', () => {
  it('applies the documented defaults', () => {
    expect(resolveCandidateOptions({ election: 'jobs', value: 'v' })).toEqual({
      ttl: 10,
      margin: 2000,
      requestTimeout: 5000,
      backoff: { initial: 100, max: 5000 },
      clock: systemClock,
      observe: true,
      maxRequestBytes: 1_572_864,
    });
    expect(resolveCandidateOptions({ election: 'jobs', value: 'v', ttl: 2 }).margin).toBe(1000);
  });

  it.each([
    [{ election: '' }, 'election'],
    [{ election: 42 }, 'election'],
    [{ value: undefined }, 'value'],
    [{ ttl: 0 }, 'ttl'],
    [{ ttl: 2.5 }, 'ttl'],
    [{ ttl: 3, margin: 2500 }, 'margin'],
    [{ margin: -1 }, 'margin'],
    [{ requestTimeout: 0 }, 'requestTimeout'],
    [{ backoff: { initial: 0 } }, 'backoff.initial'],
    [{ backoff: { initial: 500, max: 100 } }, 'backoff.max'],
    [{ observe: 'yes' }, 'observe'],
    [{ maxRequestBytes: 10 }, 'maxRequestBytes'],
  ])('rejects %o naming %s', (patch, field) => {
    const options = { election: 'jobs', value: 'v', ...patch } as never;
    let error: unknown;
    try {
      resolveCandidateOptions(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ElectionOptionsError);
    expect((error as ElectionOptionsError).field).toBe(field);
    expect((error as Error).message).toContain(`"${field}"`);
  });
});
