/**
 * The start-up warm-up runs a handover's request paths for real, against etcd, without writing:
 * etcd's revision does not move, and nothing is left open.
 */
import { describe, expect, it } from 'vitest';
import { warmUpCalls } from '../../lib/core/warmup.js';
import { useEtcd } from '../support/use-etcd.js';
import { uniqueName, useCandidates } from './fixtures.js';

const etcd = useEtcd();
const { client } = useCandidates(etcd);

describe('warmUpCalls', () => {
  it('reads and watches without writing anything to etcd', async () => {
    const c = client();
    const prefix = `${uniqueName('warmup')}/`;
    const before = (await c.kv.range({ key: Buffer.from(prefix) })).header.revision;
    await warmUpCalls(c, prefix, 20, 5);
    const after = (await c.kv.range({ key: Buffer.from(prefix) })).header.revision;
    expect(after).toBe(before);
  });
});
