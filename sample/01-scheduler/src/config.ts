import type { ElectionModuleOptions } from '../../../lib/index.js';

/**
 * The election options from the environment: `ETCD_HOSTS` (comma-separated), `ELECTION_NAME`,
 * `ELECTION_VALUE` (default `<hostname>-<pid>`), `ELECTION_TTL` (seconds). A bad value fails the
 * bootstrap with an error naming the option.
 */
export function electionOptions(env: NodeJS.ProcessEnv = process.env): ElectionModuleOptions {
  return {
    etcd: { hosts: (env.ETCD_HOSTS ?? 'http://127.0.0.1:2379').split(',').map(h => h.trim()) },
    election: env.ELECTION_NAME ?? 'scheduler',
    value: env.ELECTION_VALUE || undefined,
    ttl: env.ELECTION_TTL ? Number(env.ELECTION_TTL) : undefined,
  };
}

/** The HTTP port: `PORT`, default 3000. */
export function port(env: NodeJS.ProcessEnv = process.env): number {
  return Number(env.PORT ?? 3000);
}
