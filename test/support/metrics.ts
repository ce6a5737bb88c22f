/**
 * Reading etcd's own counters: Prometheus text from a member's metrics listener, and the
 * leases etcd holds, for tests that check nothing was left behind.
 */
import type { EtcdCluster, EtcdMember } from './etcd.js';

/**
 * The sum of every sample of metric `name` in Prometheus text whose labels include `labels`
 * (e.g. `{ grpc_method: 'LeaseKeepAlive' }`); 0 when there is none.
 */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}) {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = match[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) {
      sum += Number(match[3]);
    }
  }
  return sum;
}

/** Metric `name` (summed over `labels`) as `member` reports it now. */
export async function memberMetric(
  member: EtcdMember,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  return metricValue(await member.metrics(), name, labels);
}

/** The ids (hex) of every lease the cluster holds, from `etcdctl lease list`. */
export async function leaseIds(cluster: EtcdCluster): Promise<string[]> {
  const out = await cluster.etcdctlOk(['lease', 'list']);
  return out
    .split('\n')
    .slice(1)
    .map(line => line.trim())
    .filter(Boolean);
}
