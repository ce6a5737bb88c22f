/**
 * On a shutdown signal the election steps down and resigns first, before the hooks of other
 * modules run (Nest runs `onModuleDestroy` module by module, the global ElectionModule last):
 * those hooks wait until etcd has answered the resign, so that none of their work runs on the
 * thread between the resign's request and its write, and the process still ends on the signal
 * as Nest intends.
 */
import { fileURLToPath } from 'node:url';
import { Etcd3 } from 'etcd3';
import { describe, expect, it } from 'vitest';
import { deadline, spawnTracked } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';

const APP = fileURLToPath(new URL('../../.build/test/apps/shutdown-order.js', import.meta.url));
const etcd = useEtcd();

describe('shutdown order', () => {
  it('resigns before the root module’s onModuleDestroy runs, then exits on the signal', async () => {
    const name = `shutdown-order-${process.pid}`;
    const app = spawnTracked(process.execPath, [APP], {
      label: 'shutdown-order app',
      env: { ETCD_HOSTS: etcd().endpoints.join(','), ELECTION_NAME: name, WAIT_MS: '5000' },
    });
    await app.waitForLine(/^LEADER$/, 20_000);

    app.signal('SIGTERM');
    const line = await app.waitForLine(/^DESTROY /, 10_000);
    const seen = JSON.parse(line.text.slice('DESTROY '.length)) as {
      isLeader: boolean;
      reason: string;
      resignAnswered: boolean;
      keyGone: boolean;
    };
    // Stepped down before any other module's hook ran, and etcd had answered the resign …
    expect(seen.isLeader).toBe(false);
    expect(seen.reason).toBe('stopping');
    expect(seen.resignAnswered).toBe(true);
    // … and the key went while that hook was still running: the resign did not wait for it.
    expect(seen.keyGone).toBe(true);

    const exit = await deadline(app.exited, 10_000, 'shutdown-order app exit');
    expect(exit.signal).toBe('SIGTERM');
    const client = new Etcd3({ hosts: etcd().endpoints });
    try {
      expect(await client.getAll().prefix(`${name}/`).keys()).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('lets the other hooks run after a bounded wait when etcd does not answer the resign', async () => {
    const name = `shutdown-order-frozen-${process.pid}`;
    const app = spawnTracked(process.execPath, [APP], {
      label: 'shutdown-order app (etcd frozen)',
      env: { ETCD_HOSTS: etcd().endpoints.join(','), ELECTION_NAME: name, WAIT_MS: '5000' },
    });
    await app.waitForLine(/^LEADER$/, 20_000);
    await etcd().members[0].pause();
    try {
      app.signal('SIGTERM');
      // Well before the resign's own deadline (TTL/2 = 5 s at the default TTL).
      const line = await app.waitForLine(/^HOOK /, 2_500);
      const seen = JSON.parse(line.text.slice('HOOK '.length)) as {
        isLeader: boolean;
        resignAnswered: boolean;
      };
      expect(seen.isLeader).toBe(false);
      expect(seen.resignAnswered).toBe(false);
    } finally {
      await etcd().members[0].resume();
    }
    // etcd back: the resign goes through, the key goes, the process ends on the signal.
    const exit = await deadline(app.exited, 15_000, 'shutdown-order app exit');
    expect(exit.signal).toBe('SIGTERM');
    const client = new Etcd3({ hosts: etcd().endpoints });
    try {
      expect(await client.getAll().prefix(`${name}/`).keys()).toEqual([]);
    } finally {
      client.close();
    }
  });
});
