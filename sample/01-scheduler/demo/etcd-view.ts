import { EventEmitter } from 'node:events';
import type { Etcd3 } from 'etcd3';
import {
  createEtcdClient,
  Election,
  prefixRangeEnd,
  type LeaderInfo,
  type Participant,
} from '../../../lib/core/index.js';
import { ON_ONE_INSTANCE_PREFIX } from '../../../lib/election.constants.js';

/** One `@OnOneInstance` job's election, as etcd holds it. */
export interface JobView {
  /** The job's name: its election name without {@link ON_ONE_INSTANCE_PREFIX}. */
  name: string;
  /** The value of the candidate that leads it (the oldest key), e.g. `node-2`. */
  leader: string;
  /** How many candidates are in its queue, the leader included. */
  candidates: number;
}

/** What the demo server reads from etcd itself, independently of every candidate. */
export interface EtcdSnapshot {
  /** `ok` once etcd answered the last read; `unreachable` while it does not; `connecting` at first. */
  status: 'connecting' | 'ok' | 'unreachable';
  /** Why etcd is unreachable, and what to do about it. */
  message?: string;
  /** The leader, as etcd's election recipe defines it (the oldest key); undefined if none. */
  leader?: LeaderInfo;
  /** The queue, leader first. */
  participants: Participant[];
  /** Every `@OnOneInstance` job election with a candidate, by name. */
  jobs: JobView[];
}

/** How often the queue is re-read: a killed follower's key leaves without any leader change. */
const POLL_MS = 500;
/** Deadline of one read: a dead address must be reported within seconds. */
const REQUEST_TIMEOUT_MS = 2000;

/**
 * Observes the election directly in etcd, as `etcdctl elect -l` does: the leader through the
 * recipe's observe loop, the queue by reading the prefix. Emits `'change'` with a new
 * {@link EtcdSnapshot} whenever anything a page could show changes.
 */
export class EtcdView extends EventEmitter {
  readonly endpoints: string[];
  #client: Etcd3;
  #election: Election;
  #stop = new AbortController();
  #snapshot: EtcdSnapshot = { status: 'connecting', participants: [], jobs: [] };
  #pollTimer?: NodeJS.Timeout;
  #observing?: Promise<void>;
  #reading = false;

  constructor(endpoints: string[], election: string) {
    super();
    this.endpoints = endpoints;
    this.#client = createEtcdClient({ hosts: endpoints });
    this.#election = new Election(this.#client, election, {
      requestTimeout: REQUEST_TIMEOUT_MS,
      maxRequestBytes: 1_572_864,
    });
  }

  /** The latest snapshot. */
  get snapshot(): EtcdSnapshot {
    return this.#snapshot;
  }

  /** Starts observing. */
  start(): void {
    this.#observing = this.#election.observe(
      leader => {
        this.#update({ leader });
        void this.#read();
      },
      {
        signal: this.#stop.signal,
        backoff: { initial: 100, max: 1000 },
        onError: error => this.#unreachable(error),
      },
    );
    void this.#read();
    this.#pollTimer = setInterval(() => void this.#read(), POLL_MS);
  }

  /** Resolves once etcd answered a read, or with false after `timeoutMs` (or a failed read). */
  reachable(timeoutMs: number): Promise<boolean> {
    return new Promise(resolve => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.off('change', onChange);
        resolve(ok);
      };
      const onChange = (s: EtcdSnapshot) => {
        if (s.status !== 'connecting') done(s.status === 'ok');
      };
      const timer = setTimeout(() => done(this.#snapshot.status === 'ok'), timeoutMs);
      if (this.#snapshot.status !== 'connecting') return done(this.#snapshot.status === 'ok');
      this.on('change', onChange);
    });
  }

  /** Resolves once etcd answers. */
  async untilReachable(): Promise<void> {
    while (!(await this.reachable(REQUEST_TIMEOUT_MS))) {
      await new Promise<void>(resolve => {
        const onChange = (s: EtcdSnapshot) => {
          if (s.status === 'ok') {
            this.off('change', onChange);
            resolve();
          }
        };
        this.on('change', onChange);
      });
    }
  }

  /** Stops observing and closes the client. */
  async close(): Promise<void> {
    clearInterval(this.#pollTimer);
    this.#stop.abort();
    await this.#observing;
    this.#client.close();
  }

  async #read(): Promise<void> {
    if (this.#reading || this.#stop.signal.aborted) return;
    this.#reading = true;
    try {
      const participants = await this.#election.participants(this.#stop.signal);
      const jobs = await this.#jobs();
      this.#update({ status: 'ok', message: undefined, participants, jobs });
    } catch (error) {
      if (!this.#stop.signal.aborted) this.#unreachable(error);
    } finally {
      this.#reading = false;
    }
  }

  /**
   * The `@OnOneInstance` elections, in one range read of their prefix: each key is
   * `<prefix><job>/<lease hex>`, and the oldest key (lowest create revision) of a job leads it.
   */
  async #jobs(): Promise<JobView[]> {
    const prefix = Buffer.from(ON_ONE_INSTANCE_PREFIX);
    const res = await this.#client.kv.range(
      { key: prefix, range_end: prefixRangeEnd(prefix) },
      { deadline: Date.now() + REQUEST_TIMEOUT_MS },
    );
    const heads = new Map<string, { revision: bigint; leader: string; candidates: number }>();
    for (const kv of res.kvs) {
      const key = kv.key.toString().slice(ON_ONE_INSTANCE_PREFIX.length);
      const name = key.slice(0, key.lastIndexOf('/'));
      const revision = BigInt(kv.create_revision);
      const head = heads.get(name);
      if (!head) heads.set(name, { revision, leader: kv.value.toString(), candidates: 1 });
      else {
        head.candidates++;
        if (revision < head.revision)
          Object.assign(head, { revision, leader: kv.value.toString() });
      }
    }
    return [...heads]
      .map(([name, { leader, candidates }]) => ({ name, leader, candidates }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  #unreachable(error: unknown): void {
    this.#update({ status: 'unreachable', message: etcdDownMessage(this.endpoints, error) });
  }

  #update(patch: Partial<EtcdSnapshot>): void {
    const next = { ...this.#snapshot, ...patch };
    if (JSON.stringify(next) === JSON.stringify(this.#snapshot)) return;
    this.#snapshot = next;
    this.emit('change', next);
  }
}

/** What to tell someone whose etcd does not answer: where, why, and how to fix it. */
export function etcdDownMessage(endpoints: string[], error: unknown): string {
  const raw = error instanceof Error ? error.message : String(error);
  const why = raw
    .split('\n')[0]
    .replace(/\.?\s*Resolution note:.*$/, '')
    .replace(/^\d+ [A-Z_]+: /, '');
  const where = endpoints.join(', ');
  return (
    `etcd at ${where} does not answer (${why}). ` +
    `Start etcd there, point ETCD_HOSTS at a running etcd (e.g. ETCD_HOSTS=http://127.0.0.1:2379), ` +
    `or unset ETCD_HOSTS and the demo starts its own.`
  );
}
