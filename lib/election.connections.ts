/** The one place the application's etcd clients and shared sessions are made, kept and closed. */
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import type { Etcd3, IOptions } from 'etcd3';
import {
  ElectionError,
  type ResolvedCandidateOptions,
  type Sessions,
  Transport,
  createEtcdClient,
} from './core/index.js';
import { ELECTION_RESOLVED } from './election.constants.js';
import { createSessions } from './election.engines.js';
import type { ResolvedRegistration } from './election-options.js';

/** @internal One etcd cluster's client and session, shared by every registration that reaches it. */
export interface SharedConnection {
  /** The client: the caller's (`client`), or the one made for identical `etcd` options. */
  readonly client: Etcd3;
  /** The session owner every election, lock and job with these settings campaigns and locks on. */
  readonly sessions: Sessions;
  /** The resolved settings of the registration that made this session (equal for all sharing it). */
  readonly settings: ResolvedCandidateOptions;
  /** The hosts the client tries, as configured (for messages). */
  readonly hosts: string[];
}

/** @internal A registration as the connections know it, with the connection it joined. */
export interface JoinedRegistration {
  readonly registration: ResolvedRegistration;
  readonly connection: SharedConnection;
}

/**
 * @internal The clients and sessions of one application: registrations that reach the same etcd
 * cluster (the same `client`, or equal `etcd` options) share one client, and those among them
 * with the same session settings (`ttl`, `margin`, `requestTimeout`, `backoff`) share one lease
 * and one keepalive stream. Knows every registration, and which one locks and jobs use. Closes
 * them last, on application shutdown, once every election, lock and job has let go in the phase
 * before: revokes the leases, then closes the clients it made.
 */
@Injectable()
export class ElectionConnections implements OnApplicationShutdown {
  private readonly clients = new Map<unknown, { client: Etcd3; owned: boolean; hosts: string[] }>();
  private readonly shared = new Map<string, SharedConnection>();
  private readonly clientIds = new Map<Etcd3, number>();
  private readonly joined: JoinedRegistration[] = [];
  private closing?: Promise<void>;

  /** @internal Created by `ElectionModule`. */
  constructor(private readonly modules: ModulesContainer) {}

  /** Records `registration` and gives it its shared connection, made on first use. */
  join(registration: ResolvedRegistration): SharedConnection {
    const { client, clientId, hosts } = this.clientOf(registration);
    const { ttl, margin, requestTimeout, backoff } = registration.settings;
    const key = `${clientId} ${JSON.stringify([ttl, margin, requestTimeout, backoff])}`;
    let connection = this.shared.get(key);
    if (!connection) {
      const sessions = createSessions(client, registration.settings);
      connection = { client, sessions, settings: registration.settings, hosts };
      this.shared.set(key, connection);
    }
    this.joined.push({ registration, connection });
    return connection;
  }

  /** The connection `registration` joined; throws if it never did. */
  connectionOf(registration: ResolvedRegistration): SharedConnection {
    const joined = this.joined.find(entry => entry.registration === registration);
    if (!joined) throw new ElectionError('This registration has not joined a connection.');
    return joined.connection;
  }

  /**
   * The registration `LockService` and the `@OnOneInstance` jobs use: the connection-only one
   * (`forRoot({ etcd })` without an election), else the first election's in import order.
   * Throws an `ElectionError` naming `user` when the application has none.
   */
  forJobs(user: string): JoinedRegistration {
    const chosen =
      this.joined.find(joined => joined.registration.election === undefined) ??
      this.inImportOrder()[0];
    if (!chosen) {
      throw new ElectionError(
        `${user} has no etcd connection: import ElectionModule.forRoot({ etcd }) ` +
          '(with or without an election) in the application.',
      );
    }
    return chosen;
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

  /** The registrations joined, in the order Nest scanned their modules (import order). */
  private inImportOrder(): JoinedRegistration[] {
    const order = [...this.modules.values()].flatMap(moduleRef => {
      const resolved: unknown = moduleRef.providers.get(ELECTION_RESOLVED)?.instance;
      return resolved ? [resolved] : [];
    });
    const rank = (joined: JoinedRegistration) => {
      const index = order.indexOf(joined.registration);
      return index < 0 ? order.length : index;
    };
    return [...this.joined].sort((a, b) => rank(a) - rank(b));
  }

  private clientOf(target: Pick<ResolvedRegistration, 'etcd' | 'client'>): {
    client: Etcd3;
    clientId: number;
    hosts: string[];
  } {
    const key: unknown = target.client ?? clusterKey(target.etcd!);
    let entry = this.clients.get(key);
    if (!entry) {
      entry = target.client
        ? { client: target.client, owned: false, hosts: clientHosts(target.client) }
        : { client: createEtcdClient(target.etcd!), owned: true, hosts: hostList(target.etcd!) };
      this.clients.set(key, entry);
    }
    let clientId = this.clientIds.get(entry.client);
    if (clientId === undefined) {
      clientId = this.clientIds.size;
      this.clientIds.set(entry.client, clientId);
    }
    return { client: entry.client, clientId, hosts: entry.hosts };
  }
}

/** The hosts etcd3 was given, as a list. */
function hostList(etcd: IOptions): string[] {
  const { hosts } = etcd;
  if (hosts === undefined) return ['(unknown hosts)'];
  return typeof hosts === 'string' ? [hosts] : [...hosts];
}

/** The hosts of a client the caller made, as its transport knows them (read once). */
function clientHosts(client: Etcd3): string[] {
  const hosts = Transport.of(client)?.hosts;
  return hosts?.length ? hosts : ['(unknown hosts)'];
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
