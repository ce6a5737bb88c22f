/**
 * Candidate processes of a fault run, each feeding its beliefs into one shared {@link Recorder}:
 *
 * - {@link OurNode}: `test/apps/candidate.ts`, our library in a small Nest app, which prints one
 *   JSON line per change of belief, stamped in-process with `process.hrtime.bigint()`;
 * - {@link GoNode}: `etcdctl elect` (Go's `concurrency.Election`), timed from outside: it leads
 *   from its elected line's arrival until we signal it (resign or kill) or it exits.
 *
 * A node keeps its name across restarts; each process is one incarnation, `name#n`, and the
 * checker tracks incarnations (two incarnations of one node leading at once is an overlap too).
 */
import { EventEmitter } from 'node:events';
import {
  deadline,
  EtcdCluster,
  GoCandidate,
  leaseRevoke,
  runEtcdctl,
  spawnTracked,
  waitFor,
  type ElectionTarget,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';
import { CANDIDATE_APP, REPO_ROOT } from './apps.js';
import { emptyTimeline, type Belief, type Fault, type Timeline } from './checker.js';

/** Monotonic nanoseconds, the clock every record uses. */
export const now = (): bigint => process.hrtime.bigint();

/** Any JSON line of the candidate app. */
export interface AppLine {
  t: string;
  node: string;
  belief?: Belief;
  token?: string | null;
  reason?: string;
  probe?: number;
  hook?: 'onLeader' | 'onFollower';
  state?: {
    role: string;
    reason: string;
    key?: string;
    lease?: string;
    revision?: string;
    leader?: string;
  };
  event?: string;
}

/**
 * The shared record of a run: every belief, process end, freeze, probe and fault, in the
 * checker's {@link Timeline} form. Emits `'belief'` on each belief record.
 */
export class Recorder extends EventEmitter {
  readonly timeline: Timeline;

  constructor(start = now()) {
    super();
    this.timeline = emptyTimeline(start);
  }

  belief(proc: string, t: bigint, belief: Belief, token?: string, reason?: string): void {
    this.timeline.beliefs.push({ proc, t, belief, token, reason });
    this.emit('belief', proc, belief);
  }

  fault(
    kind: string,
    target?: string,
    options: { external?: boolean; anyHolder?: boolean } = {},
  ): Fault {
    const fault: Fault = { t: now(), kind, target, ...options };
    this.timeline.faults.push(fault);
    return fault;
  }
}

/** What every candidate process of a run can be asked to do. */
export interface FaultNode {
  readonly name: string;
  readonly kind: 'ours' | 'go';
  /** The current (or last) incarnation, `name#n`. */
  readonly proc: string;
  readonly running: boolean;
  /** True while SIGSTOPped: its belief is suspended (see the checker on freezes). */
  readonly frozen: boolean;
  /** What the current incarnation last said it believes. */
  readonly belief: Belief | undefined;
  start(): void;
  /** Graceful stop (SIGTERM for ours, SIGINT for Go): resolves once the process has exited. */
  stop(): Promise<void>;
  /** SIGKILL; resolves once the process has exited. */
  kill(): Promise<void>;
  /** SIGSTOP, recorded as a freeze. */
  pause(): Promise<void>;
  /** SIGCONT. */
  resume(): Promise<void>;
}

/** Settings of one of our candidate processes. */
export interface OurNodeOptions {
  name: string;
  election: string;
  /** etcd endpoints (or proxies) as `http://host:port`. */
  hosts: () => readonly string[];
  ttl: number;
  /** Period of the leader-only probe in ms (default 25). */
  probeMs?: number;
  echo?: boolean;
}

/** One of our candidates: `node .build/test/apps/candidate.js` (see the module comment). */
export class OurNode implements FaultNode {
  readonly kind = 'ours';
  readonly name: string;
  /** Every JSON line of every incarnation, with the incarnation it came from. */
  readonly lines: Array<AppLine & { proc: string }> = [];
  process?: TrackedProcess;
  private incarnation = 0;
  private current: Belief | undefined;
  private stateLine?: AppLine['state'];

  constructor(
    private readonly recorder: Recorder,
    readonly options: OurNodeOptions,
  ) {
    this.name = options.name;
  }

  get proc(): string {
    return `${this.name}#${this.incarnation}`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  get frozen(): boolean {
    return this.process?.paused ?? false;
  }

  get belief(): Belief | undefined {
    return this.current;
  }

  /** The latest leadership state the current incarnation printed. */
  get state(): AppLine['state'] {
    return this.stateLine;
  }

  /** Margin the app runs with: the library default, max(1 s, TTL/5). */
  get marginMs(): number {
    return Math.max(1000, (this.options.ttl * 1000) / 5);
  }

  start(): void {
    if (this.running) throw new Error(`${this.proc} is already running`);
    this.incarnation++;
    this.current = undefined;
    this.stateLine = undefined;
    const proc = this.proc;
    const child = spawnTracked(process.execPath, [CANDIDATE_APP], {
      label: proc,
      cwd: REPO_ROOT,
      echo: this.options.echo,
      maxLines: 2000,
      env: {
        ETCD_HOSTS: this.options.hosts().join(','),
        ELECTION_NAME: this.options.election,
        ELECTION_VALUE: this.name,
        ELECTION_TTL: String(this.options.ttl),
        PROBE_MS: String(this.options.probeMs ?? 25),
        NODE_OPTIONS: '--max-old-space-size=96',
      },
    });
    this.process = child;
    child.on('line', (line: OutputLine) => {
      if (line.stream !== 'stdout' || !line.text.startsWith('{')) return;
      let parsed: AppLine;
      try {
        parsed = JSON.parse(line.text) as AppLine;
      } catch {
        return;
      }
      this.onLine(proc, parsed);
    });
    child.on('exit', () => {
      const info = child.exitInfo!;
      this.recorder.timeline.ends.push({
        proc,
        t: info.at,
        how: info.signal ? `exited (${info.signal})` : `exited (${info.code})`,
      });
      if (this.proc === proc) this.current = undefined;
    });
  }

  private onLine(proc: string, line: AppLine): void {
    this.lines.push({ ...line, proc });
    const t = BigInt(line.t);
    if (line.belief) {
      if (this.proc === proc) this.current = line.belief;
      this.recorder.belief(proc, t, line.belief, line.token ?? undefined, line.reason);
    } else if (line.probe !== undefined) {
      this.recorder.timeline.probes.push({ proc, t });
    } else if (line.state && this.proc === proc) {
      this.stateLine = line.state;
    }
  }

  /** Lines of one incarnation (default: the current one). */
  linesOf(proc = this.proc): Array<AppLine & { proc: string }> {
    return this.lines.filter(l => l.proc === proc);
  }

  /** Waits until the current incarnation holds a key in the queue. */
  async waitQueued(timeoutMs = 15_000): Promise<string> {
    return waitFor(() => this.stateLine?.key, {
      timeout: timeoutMs,
      message: `${this.proc} queued`,
    });
  }

  async stop(timeoutMs = 10_000): Promise<void> {
    const child = this.process;
    if (!child?.running) return;
    child.signal('SIGTERM');
    try {
      await deadline(child.exited, timeoutMs, `${this.proc} graceful exit`);
    } catch (error) {
      await this.kill();
      throw error;
    }
  }

  async kill(): Promise<void> {
    const child = this.process;
    if (!child?.running) return;
    this.recorder.timeline.ends.push({ proc: this.proc, t: now(), how: 'killed' });
    this.current = undefined;
    await child.kill();
  }

  /** SIGSTOP; the freeze is recorded from the moment every thread is stopped. */
  async pause(): Promise<void> {
    const child = this.process;
    if (!child?.running) throw new Error(`${this.proc} is not running`);
    await child.pause();
    this.recorder.timeline.freezes.push({
      proc: this.proc,
      from: now(),
      boundNs: BigInt(this.options.ttl * 1000 - this.marginMs) * 1_000_000n,
    });
  }

  /** SIGCONT; resolves once the process runs again. */
  async resume(): Promise<void> {
    const child = this.process;
    if (!child?.running) throw new Error(`${this.proc} is not running`);
    const freeze = this.recorder.timeline.freezes.findLast(f => f.proc === this.proc);
    if (freeze && freeze.to === undefined) freeze.to = now();
    await child.resume();
  }
}

/** Settings of a Go candidate (`etcdctl elect`). */
export interface GoNodeOptions {
  name: string;
  election: string;
  target: () => ElectionTarget;
  echo?: boolean;
}

/**
 * A Go candidate, `etcdctl elect <election> <name>`, timed from outside. Its session has a 60 s
 * TTL that etcdctl does not let us change, so a crash is followed by revoking its lease (what
 * the TTL would do, sooner).
 */
export class GoNode implements FaultNode {
  readonly kind = 'go';
  readonly name: string;
  candidate?: GoCandidate;
  private incarnation = 0;
  private current: Belief | undefined;

  constructor(
    private readonly recorder: Recorder,
    readonly options: GoNodeOptions,
  ) {
    this.name = options.name;
  }

  get proc(): string {
    return `${this.name}#${this.incarnation}`;
  }

  get running(): boolean {
    return this.candidate?.running ?? false;
  }

  get frozen(): boolean {
    return this.candidate?.process.paused ?? false;
  }

  get belief(): Belief | undefined {
    return this.current;
  }

  start(): void {
    if (this.running) throw new Error(`${this.proc} is already running`);
    this.incarnation++;
    const proc = this.proc;
    this.current = 'follower';
    const candidate = GoCandidate.start(this.options.target(), this.options.election, this.name, {
      echo: this.options.echo,
    });
    this.candidate = candidate;
    this.recorder.belief(proc, now(), 'follower', undefined, 'campaigning');
    void candidate.elected.then(
      at => {
        if (this.proc === proc && candidate.running) this.current = 'leader';
        this.recorder.belief(proc, at, 'leader', undefined, 'elected');
      },
      () => undefined,
    );
    void candidate.exited.then(info => {
      this.recorder.timeline.ends.push({
        proc,
        t: info.at,
        how: info.signal ? `exited (${info.signal})` : `exited (${info.code})`,
      });
      if (this.proc === proc) this.current = undefined;
    });
  }

  /**
   * SIGSTOP. Go's lease outlives any pause of ours (60 s TTL, no margin), so the freeze bound is
   * its TTL.
   */
  async pause(): Promise<void> {
    const candidate = this.candidate;
    if (!candidate?.running) throw new Error(`${this.proc} is not running`);
    await candidate.process.pause();
    this.recorder.timeline.freezes.push({ proc: this.proc, from: now(), boundNs: 60_000_000_000n });
  }

  /** SIGCONT. */
  async resume(): Promise<void> {
    const candidate = this.candidate;
    if (!candidate?.running) throw new Error(`${this.proc} is not running`);
    const freeze = this.recorder.timeline.freezes.findLast(f => f.proc === this.proc);
    if (freeze && freeze.to === undefined) freeze.to = now();
    await candidate.process.resume();
  }

  /** SIGINT: Go resigns (deletes its key) and exits. Its belief ends when the signal is sent. */
  async stop(): Promise<void> {
    const candidate = this.candidate;
    if (!candidate?.running) return;
    const proc = this.proc;
    const wasLeader = this.current === 'leader';
    const at = now();
    if (wasLeader) this.recorder.belief(proc, at, 'follower', undefined, 'resigned');
    this.current = undefined;
    await candidate.resign({ signal: 'SIGINT' });
  }

  /**
   * SIGKILL, then revoke its lease so that the next candidate does not wait out Go's 60 s TTL.
   * Its belief ends when the kill is sent.
   */
  async kill(options: { revoke?: boolean } = {}): Promise<void> {
    const candidate = this.candidate;
    if (!candidate?.running) return;
    this.recorder.timeline.ends.push({ proc: this.proc, t: now(), how: 'killed' });
    this.current = undefined;
    await candidate.kill();
    const lease = candidate.leaseId ?? (await this.findLease());
    if (options.revoke !== false && lease) {
      await leaseRevoke(this.options.target(), lease).catch(() => false);
    }
  }

  /** A Go candidate that has not led yet printed nothing: find its key by its value. */
  private async findLease(): Promise<string | undefined> {
    const target = this.options.target();
    const endpoints = target instanceof EtcdCluster ? target.liveEndpoints() : [...target];
    const res = await runEtcdctl(endpoints, ['get', '--prefix', `${this.options.election}/`]).catch(
      () => undefined,
    );
    if (!res || res.code !== 0) return undefined;
    const lines = res.stdout.split('\n');
    for (let i = 0; i + 1 < lines.length; i += 2) {
      if (lines[i + 1] === this.name) return lines[i].slice(this.options.election.length + 1);
    }
    return undefined;
  }
}

/** Waits until `predicate` holds after some belief record (checked at once too). */
export function untilBelief(
  recorder: Recorder,
  predicate: () => boolean,
  timeoutMs: number,
  message: string,
): Promise<void> {
  if (predicate()) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      recorder.off('belief', onBelief);
      reject(new Error(`${message}: not within ${timeoutMs} ms`));
    }, timeoutMs);
    const onBelief = () => {
      if (!predicate()) return;
      clearTimeout(timer);
      recorder.off('belief', onBelief);
      resolve();
    };
    recorder.on('belief', onBelief);
  });
}
