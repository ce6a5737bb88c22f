import { describe, expect, it } from 'vitest';
import {
  candidateKey,
  electionPrefix,
  leaseHexOfKey,
  leaseIdHex,
  nextRevision,
  prefixRangeEnd,
  previousRevision,
} from './keys.js';

describe('keys', () => {
  it("formats lease ids like Go's %x: lowercase hex, no padding", () => {
    expect(leaseIdHex('7587858777504064526')).toBe('694d7d5b1ef5a40e');
    expect(leaseIdHex('255')).toBe('ff');
    expect(leaseIdHex(16n)).toBe('10');
    expect(leaseIdHex('-1')).toBe('-1');
  });

  it('builds candidate keys under <name>/', () => {
    expect(electionPrefix('jobs')).toBe('jobs/');
    expect(candidateKey('jobs', '7587858777504064526')).toBe('jobs/694d7d5b1ef5a40e');
    expect(candidateKey('a/b', '10')).toBe('a/b/a');
  });

  it('reads the lease hex back from direct children only', () => {
    expect(leaseHexOfKey('jobs/', 'jobs/694d7d5b1ef5a40e')).toBe('694d7d5b1ef5a40e');
    expect(leaseHexOfKey('jobs/', 'jobs/sub/1')).toBeUndefined();
    expect(leaseHexOfKey('jobs/', 'other/1')).toBeUndefined();
  });

  it("computes etcd's prefix range end", () => {
    expect(prefixRangeEnd(Buffer.from('jobs/')).toString()).toBe('jobs0');
    expect([...prefixRangeEnd(Buffer.from([0x61, 0xff]))]).toEqual([0x62]);
    expect([...prefixRangeEnd(Buffer.from([0xff, 0xff]))]).toEqual([0]);
  });

  it('steps int64 revisions without losing precision', () => {
    expect(previousRevision('9007199254740993')).toBe('9007199254740992');
    expect(nextRevision('9007199254740993')).toBe('9007199254740994');
  });
});
