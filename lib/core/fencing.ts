/** Fencing tokens: the create revision of a leader's or holder's key, compared as int64. */
import { ElectionOptionsError } from './errors/index.js';
import type { FencingToken } from './leadership.js';

/** A fencing token, or its revision as the decimal string or `bigint` a store kept. */
export type FencingTokenLike = FencingToken | string | bigint;

/**
 * The revision of a fencing token as a `bigint`, safe to compare and to store as a number: etcd
 * revisions are int64 and may exceed 2^53, so never pass them through `Number()`.
 */
export function fencingRevision(token: FencingTokenLike, field = 'token'): bigint {
  if (typeof token === 'bigint') {
    if (token < 0n) throw new ElectionOptionsError(field, token, 'a revision of 0 or more');
    return token;
  }
  const revision = typeof token === 'string' ? token : token?.revision;
  if (typeof revision !== 'string' || !/^\d{1,19}$/.test(revision)) {
    throw new ElectionOptionsError(
      field,
      token,
      'a FencingToken, or its revision as a decimal string or a bigint (e.g. "42" or 42n)',
    );
  }
  return BigInt(revision);
}

/**
 * Compares two fencing tokens by revision, numerically (as strings, "10" would sort before "9"):
 * negative when `a` is older than `b`, 0 when they are the same term, positive when `a` is newer.
 * A store that must refuse a stale leader's write keeps the largest token it has seen and
 * rejects any with `compareFencingTokens(token, largest) < 0`.
 */
export function compareFencingTokens(a: FencingTokenLike, b: FencingTokenLike): -1 | 0 | 1 {
  const x = fencingRevision(a, 'a');
  const y = fencingRevision(b, 'b');
  return x < y ? -1 : x > y ? 1 : 0;
}
