/**
 * Key layout of etcd's election recipe, identical to Go's `concurrency.Election`:
 * a candidate's key is `<name>/<lease id in lowercase hex>` (Go: `fmt.Sprintf("%s/%x", pfx, lease)`).
 */

/** The key prefix every candidate of election `name` writes under. */
export function electionPrefix(name: string): string {
  return `${name}/`;
}

/** A lease id (etcd's int64, as etcd3 hands it: a decimal string) in Go's `%x` form. */
export function leaseIdHex(leaseId: string | bigint): string {
  return BigInt(leaseId).toString(16);
}

/** The key a candidate holding `leaseId` writes in election `name`. */
export function candidateKey(name: string, leaseId: string | bigint): string {
  return electionPrefix(name) + leaseIdHex(leaseId);
}

/**
 * The lease hex at the end of a candidate key, or undefined when the key is not one of
 * this election's direct children.
 */
export function leaseHexOfKey(prefix: string, key: string): string | undefined {
  if (!key.startsWith(prefix)) return undefined;
  const rest = key.slice(prefix.length);
  return /^-?[0-9a-f]+$/.test(rest) ? rest : undefined;
}

/**
 * The exclusive end of the range holding every key that starts with `prefix`
 * (etcd's `GetPrefixRangeEnd`): the prefix with its last byte below 0xff incremented and
 * the rest dropped, or `\0` (to the end of the keyspace) when every byte is 0xff.
 */
export function prefixRangeEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The int64 revision that comes before `revision`, as etcd3 wants it: a decimal string. */
export function previousRevision(revision: string): string {
  return (BigInt(revision) - 1n).toString();
}

/** The int64 revision that comes after `revision`, as a decimal string. */
export function nextRevision(revision: string): string {
  return (BigInt(revision) + 1n).toString();
}
