import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { Etcd3, IOptions } from 'etcd3';
import {
  type ResolvedCandidateOptions,
  Sessions,
  type SessionsOptions,
  createEtcdClient,
  systemClock,
} from './core/index.js';

/** @internal One etcd cluster's client and session, shared by every registration that reaches it. */
export interface SharedConnection {
  /** The client: the caller's (`client`), or the one made for identical `etcd` options. */
  readonly client: Etcd3;
  /** The session owner every election, lock and job with these settings campaigns and locks on. */
  readonly sessions: Sessions;
  /** The session settings. */
  readonly settings: SessionsOptions;
}

/** @internal What a registration brings to {@link ElectionConnections.join}. */
export interface ConnectionTarget {
  etcd?: IOptions;
  client?: Etcd3;
  /** The resolved engine settings, of which the session uses ttl, margin, requestTimeout, backoff. */
  engine: ResolvedCandidateOptions;
}

/**
 * @internal The clients and sessions of one application: registrations that reach the same etcd
 * cluster (the same `client`, or equal `etcd` options) share one client, and those among them
 * with the same session settings (`ttl`, `margin`, `requestTimeout`, `backoff`) share one lease
 * and one keepalive stream. Closes them last, on application shutdown, once every election, lock
 * and job has let go in the phase before: revokes the leases, then closes the clients it made.
 */
@Injectable()
export class ElectionConnections implements OnApplicationShutdown {
  private readonly clients = new Map<unknown, { client: Etcd3; owned: boolean }>();
  private readonly shared = new Map<string, SharedConnection>();
  private readonly clientIds = new Map<Etcd3, number>();
  private closing?: Promise<void>;

  /** The shared connection for `target`, made on first use. */
  join(target: ConnectionTarget): SharedConnection {
    const { client, clientId } = this.clientOf(target);
    const { ttl, margin, requestTimeout, backoff } = target.engine;
    const settings: SessionsOptions = { ttl, margin, requestTimeout, backoff, clock: systemClock };
    const key = `${clientId} ${JSON.stringify([ttl, margin, requestTimeout, backoff])}`;
    let connection = this.shared.get(key);
    if (!connection) {
      connection = { client, sessions: new Sessions(client, settings), settings };
      this.shared.set(key, connection);
    }
    return connection;
  }

  /** Every session owner of the application. */
  sessions(): Sessions[] {
    return [...this.shared.values()].map(connection => connection.sessions);
  }

  /** Nest lifecycle hook: revokes every lease, then closes the clients made here. */
  onApplicationShutdown(): Promise<void> {
    this.closing ??= (async () => {
      await Promise.allSettled(this.sessions().map(sessions => sessions.close()));
      for (const { client, owned } of this.clients.values()) if (owned) client.close();
    })();
    return this.closing;
  }

  private clientOf(target: ConnectionTarget): { client: Etcd3; clientId: number } {
    const key: unknown = target.client ?? clusterKey(target.etcd!);
    let entry = this.clients.get(key);
    if (!entry) {
      entry = target.client
        ? { client: target.client, owned: false }
        : { client: createEtcdClient(target.etcd!), owned: true };
      this.clients.set(key, entry);
    }
    let clientId = this.clientIds.get(entry.client);
    if (clientId === undefined) {
      clientId = this.clientIds.size;
      this.clientIds.set(entry.client, clientId);
    }
    return { client: entry.client, clientId };
  }
}

/**
 * Equal etcd3 options (hosts in any order, keys in any order) give the same key; options that
 * cannot be written out (a circular object) are their own key.
 */
function clusterKey(etcd: IOptions): unknown {
  const hosts = typeof etcd.hosts === 'string' ? [etcd.hosts] : [...(etcd.hosts ?? [])].sort();
  try {
    return `etcd:${stableJson({ ...etcd, hosts })}`;
  } catch {
    return etcd;
  }
}

function stableJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
    const record = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(record)
        .sort()
        .map(k => [k, record[k]]),
    );
  });
}
