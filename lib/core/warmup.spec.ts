import { Etcd3 } from 'etcd3';
import { afterEach, describe, expect, it } from 'vitest';
import { warmUpCodecs } from './warmup.js';

describe('warmUpCodecs', () => {
  const clients: Etcd3[] = [];
  const client = () => {
    // Nothing listens on port 1: a warm-up that needed etcd could not complete.
    const c = new Etcd3({ hosts: 'http://127.0.0.1:1' });
    clients.push(c);
    return c;
  };
  afterEach(() => clients.splice(0).forEach(c => c.close()));

  it('runs every exchange of a handover through the gRPC codecs, in process', () => {
    expect(warmUpCodecs(client(), 3)).toBe(5);
  });

  it('warms a namespaced client too: it shares the codecs', () => {
    expect(warmUpCodecs(client().namespace('app/') as unknown as Etcd3, 3)).toBe(5);
  });

  it('does nothing for a client without etcd3 connection pool (a test double)', () => {
    expect(warmUpCodecs({} as Etcd3, 3)).toBe(0);
  });
});
