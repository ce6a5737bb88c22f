/**
 * Go's `concurrency.Election` as a test peer, via `etcdctl elect` (etcd 3.4.23, ETCDCTL_API=3).
 *
 * Observed behaviour (verified by experiment against etcd/etcdctl 3.4.23):
 *
 * Campaign — `etcdctl elect <name> <value>`:
 * - Creates a session (lease, default TTL 60 s, kept alive every ~20 s) and campaigns on prefix
 *   `<name>/`; its key is `<name>/<lease id in lowercase hex>` (e.g. `myelection/32bfa2012b043e0b`).
 * - Prints nothing while waiting. Once elected it prints exactly two stdout lines (a `Get` of its
 *   own key in the "simple" format), then blocks:
 *       myelection/32bfa2012b043e0b
 *       valueA
 * - SIGINT or SIGTERM while leader: resigns (deletes its key, so the next candidate is elected
 *   immediately), prints nothing more, exits with code 0. The lease is NOT revoked (it expires
 *   after its TTL), but that no longer matters as the key is gone. If its key was already deleted
 *   by someone else, it still exits 0.
 * - SIGINT or SIGTERM while still waiting: the campaign is cancelled, its key is deleted, stderr
 *   gets `Error: context canceled`, exit code 1.
 * - Its own key being deleted externally is NOT noticed (Go's Election doesn't watch its own key;
 *   it keeps believing it leads). Revoking its lease is noticed only at the next keep-alive (up
 *   to ~20 s later): stderr `Error: elect: session expired`, exit code 1.
 * - SIGKILL: no cleanup — the key stays until the lease expires (up to 60 s) unless the test
 *   calls {@link leaseRevoke} / {@link deleteKey}.
 *
 * Observe — `etcdctl elect -l <name>`:
 * - Prints the current leader immediately if there is one (key line, value line), then one
 *   key/value line pair per change: new leader, or a new value put on the leader key (Proclaim).
 *   Prints nothing while there is no leader. SIGINT/SIGTERM: exits 0 without further output.
 *
 * Values are assumed to be single-line (etcdctl prints raw bytes followed by a newline).
 */
import { EventEmitter } from 'node:events';
import {
  EtcdCluster,
  parseEtcdJson,
  runEtcdctl,
  spawnEtcdctl,
  type EtcdctlResult,
} from './etcd.js';
import { describeExit, type ExitInfo, type OutputLine, type TrackedProcess } from './processes.js';
import { deadline, TimeoutError } from './wait.js';

/** Where a Go peer connects: a harness cluster (its live members) or explicit endpoints. */
export type ElectionTarget = EtcdCluster | readonly string[];

/** Options for Go peers. */
export interface GoPeerOptions {
  /** Echo etcdctl output to stderr. */
  echo?: boolean;
}

function endpointsOf(target: ElectionTarget): string[] {
  return target instanceof EtcdCluster ? target.liveEndpoints() : [...target];
}

function etcdctlFor(
  target: ElectionTarget,
  args: readonly string[],
  timeout = 10_000,
): Promise<EtcdctlResult> {
  return target instanceof EtcdCluster
    ? target.etcdctl(args, { timeout })
    : runEtcdctl(target, args, { timeout });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Regexp matching a Go election key `<name>/<hex lease id>`. */
function keyPattern(name: string): RegExp {
  return new RegExp(`^${escapeRegExp(name)}/[0-9a-f]+$`);
}

/**
 * A Go election candidate: `etcdctl elect <name> <value>` running in the background.
 * Create with {@link GoCandidate.start}.
 */
export class GoCandidate {
  /** Election name (key prefix without the trailing `/`). */
  readonly name: string;
  /** Proposed value. */
  readonly value: string;
  /** The etcdctl process (output lines with timestamps). */
  readonly process: TrackedProcess;
  /**
   * Resolves with the `process.hrtime.bigint()` at which the elected output (the key line)
   * arrived. Rejects if etcdctl exits before being elected. Unobserved rejections are ignored.
   */
  readonly elected: Promise<bigint>;

  #key: string | undefined;
  #electedValue: string | undefined;
  #resignedAt: bigint | undefined;

  private constructor(proc: TrackedProcess, name: string, value: string) {
    this.process = proc;
    this.name = name;
    this.value = value;
    const pattern = keyPattern(name);
    this.elected = new Promise<bigint>((resolve, reject) => {
      let keyLine: OutputLine | undefined;
      const onLine = (line: OutputLine): void => {
        if (line.stream !== 'stdout') return;
        if (!keyLine) {
          if (pattern.test(line.text)) keyLine = line;
          return;
        }
        this.#key = keyLine.text;
        this.#electedValue = line.text;
        proc.off('line', onLine);
        resolve(keyLine.at);
      };
      proc.on('line', onLine);
      void proc.exited.then(info => {
        proc.off('line', onLine);
        if (this.#key === undefined) {
          reject(
            new Error(
              `GoCandidate ${name}=${value} exited before being elected (${describeExit(info)})\n` +
                proc.tail(),
            ),
          );
        }
      });
    });
    this.elected.catch(() => undefined);
  }

  /** Spawns `etcdctl elect <name> <value>` against the target's endpoints. */
  static start(
    target: ElectionTarget,
    name: string,
    value: string,
    options: GoPeerOptions = {},
  ): GoCandidate {
    const proc = spawnEtcdctl(endpointsOf(target), ['elect', name, value], {
      label: `go-candidate ${name}=${value}`,
      echo: options.echo,
    });
    return new GoCandidate(proc, name, value);
  }

  /** True once the elected output has been seen. */
  get isElected(): boolean {
    return this.#key !== undefined;
  }

  /** The leader key it printed (`<name>/<lease hex>`), once elected. */
  get key(): string | undefined {
    return this.#key;
  }

  /** The value it printed when elected (normally equals {@link value}). */
  get electedValue(): string | undefined {
    return this.#electedValue;
  }

  /** Lease id (hex, as etcdctl uses it) taken from its key, once elected. */
  get leaseId(): string | undefined {
    return this.#key?.slice(this.name.length + 1);
  }

  /** True while etcdctl is running. */
  get running(): boolean {
    return this.process.running;
  }

  /** hrtime at which {@link resign} sent its signal. */
  get resignedAt(): bigint | undefined {
    return this.#resignedAt;
  }

  /** Resolves when etcdctl has exited. */
  get exited(): Promise<ExitInfo> {
    return this.process.exited;
  }

  /** {@link elected} bounded by a deadline. */
  waitElected(timeoutMs: number): Promise<bigint> {
    return deadline(this.elected, timeoutMs, `GoCandidate ${this.name}=${this.value} elected`);
  }

  /**
   * Sends SIGINT (default) or SIGTERM — etcdctl then resigns (deletes its key) if leader, or
   * abandons its campaign — and waits for exit. Resolves with the hrtime at which the signal was
   * sent. SIGKILLs and rejects if it does not exit within `timeoutMs`. Throws if not running.
   */
  async resign(
    options: { signal?: 'SIGINT' | 'SIGTERM'; timeoutMs?: number } = {},
  ): Promise<bigint> {
    const { signal = 'SIGINT', timeoutMs = 10_000 } = options;
    if (!this.process.running)
      throw new Error(`GoCandidate ${this.name}=${this.value} not running`);
    const at = process.hrtime.bigint();
    this.#resignedAt = at;
    this.process.signal(signal);
    try {
      await deadline(this.process.exited, timeoutMs, `GoCandidate ${this.name} exit on ${signal}`);
    } catch (err) {
      await this.process.kill();
      throw err;
    }
    return at;
  }

  /** SIGKILL without resigning (the key stays until its lease expires) and wait for exit. */
  kill(): Promise<ExitInfo> {
    return this.process.kill();
  }
}

/** One leader observed by {@link GoObserver}. */
export interface LeaderObservation {
  key: string;
  value: string;
  /** hrtime at which the key line arrived. */
  at: bigint;
}

/**
 * A Go election observer: `etcdctl elect -l <name>`. Emits `'leader'` with a
 * {@link LeaderObservation} for each leader (or leader value) change it prints.
 */
export class GoObserver extends EventEmitter {
  /** Election name. */
  readonly name: string;
  /** The etcdctl process. */
  readonly process: TrackedProcess;
  /** Every leader printed so far, in order. */
  readonly leaders: LeaderObservation[] = [];

  private constructor(proc: TrackedProcess, name: string) {
    super();
    this.process = proc;
    this.name = name;
    const pattern = keyPattern(name);
    let pendingKey: OutputLine | undefined;
    proc.on('line', (line: OutputLine) => {
      if (line.stream !== 'stdout') return;
      if (pendingKey) {
        const obs: LeaderObservation = {
          key: pendingKey.text,
          value: line.text,
          at: pendingKey.at,
        };
        pendingKey = undefined;
        this.leaders.push(obs);
        this.emit('leader', obs);
      } else if (pattern.test(line.text)) {
        pendingKey = line;
      }
    });
  }

  /** Spawns `etcdctl elect -l <name>` against the target's endpoints. */
  static start(target: ElectionTarget, name: string, options: GoPeerOptions = {}): GoObserver {
    const proc = spawnEtcdctl(endpointsOf(target), ['elect', '-l', name], {
      label: `go-observer ${name}`,
      echo: options.echo,
    });
    return new GoObserver(proc, name);
  }

  /** The most recently observed leader. */
  get latest(): LeaderObservation | undefined {
    return this.leaders.at(-1);
  }

  /**
   * Resolves with the first observation (at index `from` or later, default 0) whose value is
   * `value`. Rejects on timeout or if the observer exits first.
   */
  waitForValue(value: string, timeoutMs: number, from = 0): Promise<LeaderObservation> {
    return this.waitForLeader(o => o.value === value, timeoutMs, from, `value ${value}`);
  }

  /** Like {@link waitForValue} with an arbitrary predicate. */
  waitForLeader(
    predicate: (o: LeaderObservation) => boolean,
    timeoutMs: number,
    from = 0,
    what = 'matching leader',
  ): Promise<LeaderObservation> {
    const found = this.leaders.slice(from).find(predicate);
    if (found) return Promise.resolve(found);
    const label = `GoObserver ${this.name}: ${what}`;
    if (!this.process.running) {
      return Promise.reject(new Error(`${label}: observer exited\n${this.process.tail()}`));
    }
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('leader', onLeader);
        this.process.off('exit', onExit);
      };
      const onLeader = (o: LeaderObservation): void => {
        if (!predicate(o)) return;
        cleanup();
        resolve(o);
      };
      const onExit = (): void => {
        cleanup();
        reject(new Error(`${label}: observer exited\n${this.process.tail()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        const seen = this.leaders.map(o => `${o.key}=${o.value}`).join(', ') || 'none';
        reject(new TimeoutError(`${label} (seen: ${seen})`, timeoutMs));
      }, timeoutMs);
      this.on('leader', onLeader);
      this.process.on('exit', onExit);
    });
  }

  /** SIGINT and wait for exit (SIGKILL after 5 s). Idempotent. */
  async close(): Promise<void> {
    if (this.process.running) {
      this.process.signal('SIGINT');
      try {
        await deadline(this.process.exited, 5000, `GoObserver ${this.name} exit`);
      } catch {
        await this.process.kill();
      }
    }
  }
}

/** Current leader of an election as Go's `Election.Leader()` sees it. */
export interface GoLeader {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  /** Lease id in hex (etcdctl's notation). */
  lease: string;
}

interface GetJson {
  kvs?: Array<{
    key: string;
    value?: string;
    create_revision: number;
    mod_revision: number;
    lease?: string | number;
  }>;
}

/**
 * One-shot read of the current leader of election `name`, exactly like Go's `Election.Leader()`:
 * the key under `<name>/` with the lowest create revision. `undefined` if there is no leader.
 */
export async function goLeader(
  target: ElectionTarget,
  name: string,
): Promise<GoLeader | undefined> {
  const res = await etcdctlFor(target, [
    'get',
    '--prefix',
    `${name}/`,
    '--sort-by=CREATE',
    '--order=ASCEND',
    '--limit=1',
    '-w',
    'json',
  ]);
  if (res.code !== 0) throw new Error(`goLeader(${name}): etcdctl failed: ${res.stderr.trim()}`);
  const kv = parseEtcdJson<GetJson>(res.stdout).kvs?.[0];
  if (!kv) return undefined;
  return {
    key: Buffer.from(kv.key, 'base64').toString('utf8'),
    value: Buffer.from(kv.value ?? '', 'base64').toString('utf8'),
    createRevision: kv.create_revision,
    modRevision: kv.mod_revision,
    lease: BigInt(kv.lease ?? 0).toString(16),
  };
}

/**
 * `etcdctl lease revoke <hex>`: true if revoked, false if the lease did not exist (any more).
 * A string is a hex lease id (etcdctl's notation, as in election keys); a bigint is converted.
 * Throws on other errors.
 */
export async function leaseRevoke(
  target: ElectionTarget,
  leaseIdHex: string | bigint,
): Promise<boolean> {
  const hex = typeof leaseIdHex === 'bigint' ? leaseIdHex.toString(16) : leaseIdHex;
  const res = await etcdctlFor(target, ['lease', 'revoke', hex]);
  if (res.code === 0) return true;
  if (/lease not found/i.test(res.stderr)) return false;
  throw new Error(`lease revoke ${hex} failed: ${res.stderr.trim()}`);
}

/** `etcdctl del <key>`: resolves with the number of keys deleted (0 or 1). */
export async function deleteKey(target: ElectionTarget, key: string): Promise<number> {
  const res = await etcdctlFor(target, ['del', key]);
  if (res.code !== 0) throw new Error(`del ${key} failed: ${res.stderr.trim()}`);
  return Number.parseInt(res.stdout.trim(), 10);
}
