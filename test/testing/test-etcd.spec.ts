import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { ElectionError } from '../../lib/index.js';
import { startTestEtcd } from '../../lib/testing/index.js';

describe('startTestEtcd', () => {
  it('starts a working etcd on a free loopback port and removes everything on stop', async () => {
    const etcd = await startTestEtcd();
    const client = new Etcd3({ hosts: etcd.hosts });
    try {
      expect(etcd.hosts).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(existsSync(etcd.dataDir)).toBe(true);
      await client.put('testing/key').value('value');
      expect(await client.get('testing/key').string()).toBe('value');
    } finally {
      client.close();
      await etcd.stop();
    }
    expect(existsSync(etcd.dataDir)).toBe(false);
    const after = await fetch(`${etcd.hosts}/health`).then(
      () => 'answered',
      () => 'refused',
    );
    expect(after).toBe('refused');
    await etcd.stop(); // idempotent
  });

  it('runs two at once on different ports', async () => {
    const [a, b] = await Promise.all([startTestEtcd(), startTestEtcd()]);
    try {
      expect(a.hosts).not.toBe(b.hosts);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('says what to install when there is no etcd binary', async () => {
    const failure = startTestEtcd({ bin: 'no-such-etcd-binary' });
    await expect(failure).rejects.toBeInstanceOf(ElectionError);
    await expect(failure).rejects.toThrow(/"no-such-etcd-binary" not found.*ETCD_BIN/s);
  });
});
