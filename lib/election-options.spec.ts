/** Unit tests of option resolution: numbers given as strings. */
import { describe, expect, it } from 'vitest';
import { ElectionOptionsError } from './core/index.js';
import { resolveElectionOptions } from './election-options.js';

const etcd = { hosts: 'http://127.0.0.1:9' };

function rejection(options: Record<string, unknown>): ElectionOptionsError {
  try {
    resolveElectionOptions({ etcd, election: 'strings', ...options } as never);
  } catch (error) {
    if (error instanceof ElectionOptionsError) return error;
    throw error;
  }
  throw new Error('the options were accepted');
}

describe('numeric options given as strings (as a ConfigService returns them)', () => {
  it('accepts decimal strings for every numeric option, as numbers', () => {
    const resolved = resolveElectionOptions({
      etcd,
      election: 'strings',
      ttl: '10',
      margin: ' 1500 ',
      requestTimeout: '2500.5',
      backoff: { initial: '50', max: '800' },
      maxRequestBytes: '2048',
      shutdownTimeout: '0',
    } as never);
    expect(resolved.settings).toMatchObject({
      ttl: 10,
      margin: 1500,
      requestTimeout: 2500.5,
      backoff: { initial: 50, max: 800 },
      maxRequestBytes: 2048,
    });
    expect(resolved.shutdownTimeout).toBe(0);
  });

  it.each([
    ['ttl', '1.5', 'a whole number of seconds'],
    ['ttl', '0', 'a whole number of seconds'],
    ['ttl', '10s', 'a whole number of seconds'],
    ['ttl', '', 'a whole number of seconds'],
    ['margin', '-1', 'milliseconds from 0'],
    ['requestTimeout', 'soon', 'a positive number'],
    ['maxRequestBytes', '0x800', 'a whole number of bytes'],
    ['shutdownTimeout', 'later', 'a number of milliseconds'],
    ['shutdownTimeout', '-5', 'a number of milliseconds'],
  ])('validates %s = %o as a number and names the string given', (field, value, allowed) => {
    const error = rejection({ [field]: value });
    expect(error.field).toBe(field);
    expect(error.value).toBe(value);
    expect(error.message).toContain(`"${field}": ${JSON.stringify(value)}`);
    expect(error.allowed).toContain(allowed);
  });

  it('validates backoff strings the same way', () => {
    const error = rejection({ backoff: { initial: '100', max: '50' } });
    expect(error.field).toBe('backoff.max');
    expect(error.value).toBe('50');
  });
});
