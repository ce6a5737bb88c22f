import type { ElectionModuleOptions } from 'nestjs-etcd-election';

/** The election, from the environment the test harness sets for each replica. */
export function electionOptions(): ElectionModuleOptions {
  return {
    etcd: { hosts: (process.env.ETCD_HOSTS ?? 'http://127.0.0.1:2379').split(',') },
    election: process.env.ELECTION_NAME ?? 'consumers',
    value: process.env.REPLICA,
    ttl: Number(process.env.ELECTION_TTL ?? 10),
  };
}
