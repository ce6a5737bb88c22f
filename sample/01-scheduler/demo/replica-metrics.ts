import { EventEmitter } from 'node:events';
import { metric, parseMetrics, sum, type Sample } from './prometheus-text.js';
import type { DemoSupervisor } from './supervisor.js';

/** What the page shows of one replica's `GET /metrics`. */
export interface ReplicaMetricsView {
  /** `etcd_election_is_leader`. */
  isLeader: number;
  /** `etcd_election_has_session`. */
  hasSession: number;
  /** `etcd_election_session_losses_total`, all reasons. */
  sessionLosses: number;
  /** `etcd_election_terms_won_total`. */
  termsWon: number;
  /** `etcd_election_terms_lost_total`, all reasons. */
  termsLost: number;
  /** `etcd_election_leader_changes_total`. */
  leaderChanges: number;
  /** `etcd_election_handover_seconds`: cumulative bucket counts, count and sum. */
  handover: { buckets: Array<{ le: string; count: number }>; count: number; sum: number };
  /** False when the last scrape failed (a paused or dying process): these are older values. */
  fresh: boolean;
}

const SCRAPE_MS = 1000;
const SCRAPE_TIMEOUT_MS = 800;

/**
 * Scrapes every running Nest replica's `/metrics` each second, as Prometheus would, and emits
 * `'change'` when any value the page shows changes.
 */
export class ReplicaMetrics extends EventEmitter {
  #views = new Map<string, ReplicaMetricsView>();
  #timer?: NodeJS.Timeout;
  #scraping = false;

  constructor(
    private readonly supervisor: DemoSupervisor,
    private readonly election: string,
  ) {
    super();
  }

  /** The latest view of each replica scraped at least once, by instance id. */
  views(): Record<string, ReplicaMetricsView> {
    return Object.fromEntries(this.#views);
  }

  start(): void {
    this.#timer = setInterval(() => void this.#scrapeAll(), SCRAPE_MS);
  }

  close(): void {
    clearInterval(this.#timer);
  }

  async #scrapeAll(): Promise<void> {
    if (this.#scraping) return;
    this.#scraping = true;
    try {
      const before = JSON.stringify(this.views());
      const nodes = this.supervisor.nodes().filter(n => n.lang === 'nest' && n.port);
      await Promise.all(
        nodes.map(async node => {
          if (node.state === 'stopped') return void this.#views.delete(node.id);
          const previous = this.#views.get(node.id);
          try {
            const res = await fetch(`http://127.0.0.1:${node.port}/metrics`, {
              signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS),
            });
            if (!res.ok) throw new Error(`status ${res.status}`);
            this.#views.set(node.id, this.#view(parseMetrics(await res.text())));
          } catch {
            if (previous) this.#views.set(node.id, { ...previous, fresh: false });
          }
        }),
      );
      if (JSON.stringify(this.views()) !== before) this.emit('change', this.views());
    } finally {
      this.#scraping = false;
    }
  }

  #view(samples: Sample[]): ReplicaMetricsView {
    const election = { election: this.election };
    const buckets = samples
      .filter(
        s =>
          s.name === 'etcd_election_handover_seconds_bucket' && s.labels.election === this.election,
      )
      .map(s => ({ le: s.labels.le, count: s.value }));
    return {
      isLeader: metric(samples, 'etcd_election_is_leader', election),
      hasSession: metric(samples, 'etcd_election_has_session', election),
      sessionLosses: sum(samples, 'etcd_election_session_losses_total'),
      termsWon: metric(samples, 'etcd_election_terms_won_total', election),
      termsLost: sum(samples, 'etcd_election_terms_lost_total', election),
      leaderChanges: metric(samples, 'etcd_election_leader_changes_total', election),
      handover: {
        buckets,
        count: metric(samples, 'etcd_election_handover_seconds_count', election),
        sum: metric(samples, 'etcd_election_handover_seconds_sum', election),
      },
      fresh: true,
    };
  }
}
