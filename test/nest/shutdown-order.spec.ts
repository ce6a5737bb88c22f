/**
 * On a shutdown signal the election steps down and resigns first, before the hooks of other
 * modules run (Nest runs `onModuleDestroy` module by module, the global ElectionModule last), and
 * the process still ends on the signal as Nest intends.
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
      keyGone: boolean;
    };
    // Stepped down before any other module's hook ran …
    expect(seen.isLeader).toBe(false);
    expect(seen.reason).toBe('stopping');
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
});
