/**
 * A fault lab: one etcd cluster, K candidate processes in one election (ours, each behind its
 * own proxy link if asked, and Go's `etcdctl elect`), one {@link Recorder} of every belief, and
 * the checker over it. Used by the scenario specs and by the soak; framework-free.
 */
import { startEtcd, waitFor, type EtcdCluster, type StartEtcdOptions } from '../support/index.js';
import { ensureAppsBuilt } from './apps.js';
import { check, formatReport, type Report } from './checker.js';
import { GoNode, now, OurNode, Recorder, untilBelief, type FaultNode } from './nodes.js';
import { ProxyLink } from './proxy.js';

/** Settings of a {@link Lab}. */
export interface LabOptions {
  /** A label for the election name and logs. */
  label: string;
  /** etcd members (default 1). */
  members?: number;
  /** Lease TTL of our candidates, seconds. */
  ttl: number;
  /** Names of our candidates, in start (= queue) order, e.g. `['n1', 'n2']`. */
  ours: readonly string[];
  /** Names of Go candidates, started after ours (default none). */
  go?: readonly string[];
  /** Put each of our candidates behind its own proxy link (default false). */
  proxied?: boolean;
  /** Period of our apps' leader-only probe, ms (default 25). */
  probeMs?: number;
  /** Echo child output to stderr. */
  echo?: boolean;
  /** More settings of the etcd cluster (peer proxies …). */
  etcd?: Omit<StartEtcdOptions, 'members'>;
}

let labs = 0;

/** See the module comment. Create with {@link Lab.start}; always {@link Lab.close} it. */
export class Lab {
  readonly recorder = new Recorder();
  readonly election: string;
  readonly ours: OurNode[] = [];
  readonly go: GoNode[] = [];
  readonly links = new Map<OurNode, ProxyLink>();
  private closed = false;

  private constructor(
    readonly cluster: EtcdCluster,
    readonly options: LabOptions,
  ) {
    this.election = `faults-${options.label}-${process.pid}-${++labs}`;
  }

  /**
   * Starts etcd, the proxies and every candidate, one after the other, each queued before the
   * next starts (so the queue order is the start order), and waits for a first leader.
   */
  static async start(options: LabOptions): Promise<Lab> {
    await ensureAppsBuilt();
    const cluster = await startEtcd({ ...options.etcd, members: options.members ?? 1 });
    const lab = new Lab(cluster, options);
    try {
      for (const name of options.ours) await lab.addOurs(name);
      for (const name of options.go ?? []) await lab.addGo(name);
      await lab.waitForLeader({ timeout: 20_000 });
      return lab;
    } catch (error) {
      await lab.close();
      throw error;
    }
  }

  /** Every node, ours first. */
  get nodes(): FaultNode[] {
    return [...this.ours, ...this.go];
  }

  /** Starts one of our candidates (behind a proxy link if the lab is proxied) and waits until it is queued. */
  async addOurs(name: string): Promise<OurNode> {
    let link: ProxyLink | undefined;
    if (this.options.proxied) link = await ProxyLink.start(this.cluster.endpoints, name);
    const node = new OurNode(this.recorder, {
      name,
      election: this.election,
      ttl: this.options.ttl,
      hosts: () => link?.urls ?? this.cluster.endpoints,
      probeMs: this.options.probeMs,
      echo: this.options.echo,
    });
    if (link) this.links.set(node, link);
    this.ours.push(node);
    node.start();
    await node.waitQueued(20_000);
    return node;
  }

  /** Starts a Go candidate and waits until its key is in the queue. */
  async addGo(name: string): Promise<GoNode> {
    const node = new GoNode(this.recorder, {
      name,
      election: this.election,
      target: () => this.cluster,
      echo: this.options.echo,
    });
    this.go.push(node);
    node.start();
    await this.waitQueued(node);
    return node;
  }

  /** Restarts a stopped node and waits until it is queued again. */
  async restart(node: FaultNode): Promise<void> {
    node.start();
    await this.waitQueued(node);
  }

  /** Waits until the node's current incarnation holds a key in the queue. */
  async waitQueued(node: FaultNode, timeout = 20_000): Promise<void> {
    if (node instanceof OurNode) {
      await node.waitQueued(timeout);
      return;
    }
    await waitFor(
      async () => {
        const out = await this.cluster.etcdctlOk([
          'get',
          '--prefix',
          `${this.election}/`,
          '--print-value-only',
        ]);
        return out.split('\n').includes(node.name);
      },
      { timeout, interval: 100, message: `${node.proc} queued` },
    );
  }

  /** The proxy link of one of our nodes (the lab must be proxied). */
  link(node: FaultNode): ProxyLink {
    const link = this.links.get(node as OurNode);
    if (!link) throw new Error(`${node.proc} has no proxy link`);
    return link;
  }

  /**
   * Running nodes that currently believe they lead (normally zero or one). A frozen node does
   * not count: its belief is suspended, and void once its lease deadline passes.
   */
  leaders(): FaultNode[] {
    return this.nodes.filter(n => n.running && !n.frozen && n.belief === 'leader');
  }

  /** The one node that believes it leads, if exactly one does. */
  leader(): FaultNode | undefined {
    const leaders = this.leaders();
    return leaders.length === 1 ? leaders[0] : undefined;
  }

  /** Waits for a node to lead, optionally one other than `other`; resolves with it. */
  async waitForLeader(
    options: { timeout: number; other?: FaultNode; message?: string } = { timeout: 10_000 },
  ): Promise<FaultNode> {
    const found = () => {
      const leader = this.leader();
      return leader && leader !== options.other ? leader : undefined;
    };
    await untilBelief(
      this.recorder,
      () => found() !== undefined,
      options.timeout,
      options.message ?? `a leader${options.other ? ` other than ${options.other.proc}` : ''}`,
    );
    return found()!;
  }

  /**
   * Records a fault (at the current instant) for the checker; `external` when it removes the
   * target's key from outside (see `Fault.external`).
   */
  fault(kind: string, target?: string, options: { external?: boolean; anyHolder?: boolean } = {}) {
    return this.recorder.fault(kind, target, options);
  }

  /** The checker's verdict over everything recorded until now. */
  report(end = now()): Report {
    return check(this.recorder.timeline, end);
  }

  /** The checker's table until now. */
  table(title: string, report = this.report()): string {
    return formatReport(report, title);
  }

  /** Kills every node, closes the proxies and the cluster. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled(
      this.nodes.map(n => (n instanceof GoNode ? n.kill({ revoke: false }) : n.kill())),
    );
    await Promise.allSettled([...this.links.values()].map(l => l.close()));
    await this.cluster.close();
  }
}
