/**
 * etcd's auth for tests: a root user, and an application user whose role may read and write one
 * key prefix (or nothing), then auth switched on. The cluster is the test's own: closing it is
 * the clean-up.
 */
import type { EtcdCluster } from './etcd.js';

/** The users {@link enableAuth} creates. */
export const AUTH_USERS = {
  root: { username: 'root', password: 'root-pw' },
  app: { username: 'app', password: 'app-pw' },
} as const;

/** `--user root:…`, for etcdctl calls once auth is on. */
export const ROOT_ARGS = ['--user', `${AUTH_USERS.root.username}:${AUTH_USERS.root.password}`];

/**
 * Creates `root` and `app` (see {@link AUTH_USERS}); `app` may read and write `prefix` when
 * given, else nothing. Then turns auth on.
 */
export async function enableAuth(cluster: EtcdCluster, prefix?: string): Promise<void> {
  const { root, app } = AUTH_USERS;
  await cluster.etcdctlOk(['user', 'add', `${root.username}:${root.password}`]);
  await cluster.etcdctlOk(['user', 'add', `${app.username}:${app.password}`]);
  if (prefix !== undefined) {
    await cluster.etcdctlOk(['role', 'add', 'app-role']);
    await cluster.etcdctlOk([
      'role',
      'grant-permission',
      'app-role',
      '--prefix=true',
      'readwrite',
      prefix,
    ]);
    await cluster.etcdctlOk(['user', 'grant-role', app.username, 'app-role']);
  }
  await cluster.etcdctlOk(['auth', 'enable']);
}
