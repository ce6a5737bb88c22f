/**
 * Go's `concurrency.Mutex` as a test peer, via `etcdctl lock` (etcd 3.4.23), and etcd's own lock
 * service through its HTTP gateway (`/v3/lock/*`, which runs the same Go recipe server-side).
 *
 * Observed behaviour of `etcdctl lock [--ttl N] <name> [command args...]` (3.4.23):
 * - Creates a session (lease, `--ttl`, default 10 s) and locks prefix `<name>/` with key
 *   `<name>/<lease id in lowercase hex>` and an empty value.
 * - Without a command: once held it prints the key and an empty line, then holds until SIGINT or
 *   SIGTERM, on which it unlocks (deletes its key) and exits 0.
 * - With a command (put `--` before it when it takes flags): once held it runs the command with
 *   `ETCD_LOCK_KEY` and `ETCD_LOCK_REV` in its environment, and unlocks when it exits.
 * - Prints nothing while it waits.
 *
 * The gateway speaks JSON with keys as base64 and int64 values (leases, revisions) as strings.
 */
import { EtcdCluster, spawnEtcdctl } from './etcd.js';
import { describeExit, type ExitInfo, type OutputLine, type TrackedProcess } from './processes.js';
import { deadline } from './wait.js';

/** Where a Go peer connects: a harness cluster (its live members) or explicit endpoints. */
export type LockTarget = EtcdCluster | readonly string[];

function endpointsOf(target: LockTarget): string[] {
  return target instanceof EtcdCluster ? target.liveEndpoints() : [...target];
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Options of {@link GoLocker.start}. */
export interface GoLockerOptions {
  /** `--ttl` of etcdctl's session, in seconds (default: etcdctl's 10). */
  ttl?: number;
  /** Run this command while holding (etcdctl's exec mode) instead of holding until signalled. */
  command?: readonly string[];
  /** Echo etcdctl output to stderr. */
  echo?: boolean;
}

/** `etcdctl lock <name>` running in the background. Create with {@link GoLocker.start}. */
export class GoLocker {
  readonly name: string;
  readonly process: TrackedProcess;
  /**
   * Resolves with the `process.hrtime.bigint()` at which the lock was seen held: the key line
   * (hold mode) or the first line the command printed (exec mode). Rejects if etcdctl exits first.
   */
  readonly acquired: Promise<bigint>;
  #key: string | undefined;
  #firstLine: OutputLine | undefined;

  private constructor(proc: TrackedProcess, name: string, exec: boolean) {
    this.process = proc;
    this.name = name;
    const pattern = new RegExp(`^${escapeRegExp(name)}/[0-9a-f]+$`);
    this.acquired = new Promise<bigint>((resolve, reject) => {
      const onLine = (line: OutputLine): void => {
        if (line.stream !== 'stdout') return;
        if (exec) {
          this.#firstLine = line;
        } else {
          if (!pattern.test(line.text)) return;
          this.#key = line.text;
        }
        proc.off('line', onLine);
        resolve(line.at);
      };
      proc.on('line', onLine);
      void proc.exited.then(info => {
        proc.off('line', onLine);
        reject(new Error(`etcdctl lock ${name} exited (${describeExit(info)})\n${proc.tail()}`));
      });
    });
    this.acquired.catch(() => undefined);
  }

  /** Spawns `etcdctl lock [--ttl N] <name> [-- command...]`. */
  static start(target: LockTarget, name: string, options: GoLockerOptions = {}): GoLocker {
    const args = ['lock'];
    if (options.ttl !== undefined) args.push(`--ttl=${options.ttl}`);
    args.push(name);
    if (options.command) args.push('--', ...options.command);
    const proc = spawnEtcdctl(endpointsOf(target), args, {
      label: `go-lock ${name}`,
      echo: options.echo,
    });
    return new GoLocker(proc, name, options.command !== undefined);
  }

  /** The key it printed, `<name>/<lease hex>` (hold mode), once held. */
  get key(): string | undefined {
    return this.#key;
  }

  /** The first line the command printed (exec mode), once held. */
  get firstLine(): string | undefined {
    return this.#firstLine?.text;
  }

  /** True while etcdctl runs. */
  get running(): boolean {
    return this.process.running;
  }

  /** {@link acquired} bounded by a deadline. */
  waitAcquired(timeoutMs: number): Promise<bigint> {
    return deadline(this.acquired, timeoutMs, `etcdctl lock ${this.name} held`);
  }

  /** Resolves when etcdctl has exited. */
  get exited(): Promise<ExitInfo> {
    return this.process.exited;
  }

  /**
   * SIGINT: etcdctl unlocks (deletes its key) and exits. Resolves with the hrtime at which the
   * signal was sent, once it exited; SIGKILLs and rejects if it does not within `timeoutMs`.
   */
  async release(timeoutMs = 10_000): Promise<bigint> {
    const at = process.hrtime.bigint();
    this.process.signal('SIGINT');
    try {
      await deadline(this.process.exited, timeoutMs, `etcdctl lock ${this.name} exit on SIGINT`);
    } catch (error) {
      await this.process.kill();
      throw error;
    }
    return at;
  }
}

/** POSTs `body` as JSON to etcd's gateway at `endpoint` (`http://host:port`) and parses the answer. */
async function gateway<T>(endpoint: string, path: string, body: unknown, signal?: AbortSignal) {
  const res = await fetch(`${endpoint}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal,
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`POST ${path}: HTTP ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** `POST /v3/lease/grant`: a new lease's id (decimal int64 string). */
export async function gatewayLeaseGrant(endpoint: string, ttl: number): Promise<string> {
  const res = await gateway<{ ID: string }>(endpoint, '/v3/lease/grant', { TTL: String(ttl) });
  return res.ID;
}

/** `POST /v3/lease/revoke`. */
export async function gatewayLeaseRevoke(endpoint: string, leaseId: string): Promise<void> {
  await gateway(endpoint, '/v3/lease/revoke', { ID: leaseId });
}

/**
 * `POST /v3/lock/lock`: waits (the HTTP request stays open) until etcd's lock service holds lock
 * `name` for `leaseId`, then resolves with the key it holds and the header revision.
 */
export async function gatewayLock(
  endpoint: string,
  name: string,
  leaseId: string,
  signal?: AbortSignal,
): Promise<{ key: string; revision: string }> {
  const res = await gateway<{ key: string; header: { revision: string } }>(
    endpoint,
    '/v3/lock/lock',
    { name: Buffer.from(name).toString('base64'), lease: leaseId },
    signal,
  );
  return { key: Buffer.from(res.key, 'base64').toString(), revision: res.header.revision };
}

/** `POST /v3/lock/unlock`: deletes `key`. */
export async function gatewayUnlock(endpoint: string, key: string): Promise<void> {
  await gateway(endpoint, '/v3/lock/unlock', { key: Buffer.from(key).toString('base64') });
}
