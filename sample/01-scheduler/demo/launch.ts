/**
 * `npm run demo`: a live election to watch, break and heal. Starts etcd (unless `ETCD_HOSTS` is
 * set), three instances of the sample and one `etcdctl elect` candidate, serves the page, and
 * prints its URL. Ctrl-C stops everything it started.
 *
 * Env: `ETCD_HOSTS`, `ELECTION_NAME` (default `scheduler`), `ELECTION_TTL` (default 5),
 * `DEMO_PORT` (default: a free port).
 */
import { spawnSync } from 'node:child_process';
import type { Server } from 'node:http';
import {
  ETCD_BIN,
  ETCDCTL_BIN,
  freePorts,
  startEtcd,
  type EtcdCluster,
} from '../../../test/support/index.js';
import { startDemoServer, urlOf } from './server.js';
import { DemoSupervisor } from './supervisor.js';

const INSTANCES = 3;

function installed(bin: string): boolean {
  return !spawnSync(bin, ['--version'], { stdio: 'ignore' }).error;
}

async function main(): Promise<void> {
  const external = process.env.ETCD_HOSTS;
  if (!external && !installed(ETCD_BIN)) {
    console.error(
      'etcd is not installed: run `apt-get install -y etcd-server etcd-client` (or set ETCD_HOSTS).',
    );
    process.exit(1);
  }
  const ttl = Number(process.env.ELECTION_TTL ?? 5);
  const election = process.env.ELECTION_NAME ?? 'scheduler';

  let etcd: EtcdCluster | undefined;
  let supervisor: DemoSupervisor | undefined;
  let server: Server | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      server?.closeAllConnections();
      server?.close();
      await supervisor?.stopAll();
      await etcd?.close();
    })());
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      if (stopping) process.exit(130); // a second Ctrl-C: the exit hook SIGKILLs the rest
      console.log('\nstopping the demo …');
      void stop().then(() => process.exit(0));
    });
  }

  try {
    etcd = external ? undefined : await startEtcd({ name: 'demo-etcd' });
    const endpoints = etcd?.endpoints ?? external!.split(',').map(h => h.trim());
    const ports = await freePorts(INSTANCES);
    supervisor = new DemoSupervisor({
      endpoints,
      election,
      ttl,
      ports,
      withGo: installed(ETCDCTL_BIN),
    });
    await supervisor.startAll();
    const demoPort = Number(process.env.DEMO_PORT ?? 0);
    server = await startDemoServer(supervisor, demoPort, {
      election,
      ttl,
      endpoints,
      // what the launcher owns besides the candidates, so a test can check it is gone after Ctrl-C
      etcd: etcd?.members.map(m => ({ pid: m.pid, dataDir: m.dataDir })) ?? [],
    });
    console.log(`Election demo: ${urlOf(server)}   (Ctrl-C to stop)`);
  } catch (err) {
    console.error(`demo failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await stop();
    process.exit(1);
  }
}

void main();
