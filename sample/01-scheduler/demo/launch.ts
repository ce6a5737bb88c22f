/**
 * `npm run demo`: a live election to watch, break and heal. Starts etcd (unless `ETCD_HOSTS` is
 * set), serves the page and prints its URL, says at once if etcd does not answer, then starts
 * three instances of the sample and one `etcdctl elect` candidate. Ctrl-C stops everything it
 * started.
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
import { EtcdView } from './etcd-view.js';
import { ReplicaMetrics } from './replica-metrics.js';
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
  const withGo = installed(ETCDCTL_BIN);

  let etcd: EtcdCluster | undefined;
  let supervisor: DemoSupervisor | undefined;
  let view: EtcdView | undefined;
  let metrics: ReplicaMetrics | undefined;
  let server: Server | undefined;
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      server?.closeAllConnections();
      server?.close();
      metrics?.close();
      await supervisor?.stopAll();
      await view?.close();
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
    supervisor = new DemoSupervisor({ endpoints, election, ttl, ports, withGo });
    view = new EtcdView(endpoints, election);
    metrics = new ReplicaMetrics(supervisor, election);
    const demoPort = Number(process.env.DEMO_PORT ?? 0);
    server = await startDemoServer({ supervisor, view, metrics }, demoPort, {
      election,
      ttl,
      endpoints,
      go: withGo ? { available: true } : { available: false, message: goMissingMessage() },
      // what the launcher owns besides the candidates, so a test can check it is gone after Ctrl-C
      etcd: etcd?.members.map(m => ({ pid: m.pid, dataDir: m.dataDir })) ?? [],
    });
    view.start();
    console.log(`Election demo: ${urlOf(server)}   (Ctrl-C to stop)`);
    if (!withGo) console.warn(goMissingMessage());
    if (!(await view.reachable(3000))) {
      console.error(view.snapshot.message ?? `etcd at ${endpoints.join(', ')} does not answer.`);
      console.error('Waiting for it; the candidates start as soon as it answers.');
      await view.untilReachable();
      console.log(`etcd at ${endpoints.join(', ')} answers now: starting the candidates.`);
    }
    await supervisor.startAll();
    metrics.start();
  } catch (err) {
    console.error(`demo failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await stop();
    process.exit(1);
  }
}

/** What to tell someone who has no `etcdctl`: what is missing, and how to get it. */
function goMissingMessage(): string {
  return (
    `No Go peer: \`${ETCDCTL_BIN}\` was not found on PATH. ` +
    'Install it with `apt-get install -y etcd-client` (or set ETCDCTL_BIN), then restart the demo ' +
    'to see a Go candidate (go-1) in the same queue.'
  );
}

void main();
