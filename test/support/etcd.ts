/**
 * Real etcd clusters (1 or 3 members, or any size) on loopback for tests, benchmarks and demos.
 *
 * Each member gets free client, peer and metrics ports on 127.0.0.1 and its own temporary data
 * directory. Members can be stopped, killed, paused (SIGSTOP) and restarted on the same ports
 * with the same data. Everything is killed and removed by {@link EtcdCluster.close}; processes
 * are also killed by the exit hook of `processes.ts` and data dirs removed by an exit hook here.
 *
 * Environment: `ETCD_BIN` / `ETCDCTL_BIN` override the binaries (default `etcd` / `etcdctl` on
 * PATH); `ETCD_HARNESS_ECHO=1` echoes all etcd output to stderr.
 */
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts, LOOPBACK } from './ports.js';
import {
  describeExit,
  registerSyncCleanup,
  spawnTracked,
  type ExitInfo,
  type SpawnTrackedOptions,
  type TrackedProcess,
} from './processes.js';
import { deadline, errorMessage, TimeoutError, waitFor } from './wait.js';

/** etcd binary (env `ETCD_BIN`, default `etcd`). */
export const ETCD_BIN = process.env.ETCD_BIN ?? 'etcd';
/** etcdctl binary (env `ETCDCTL_BIN`, default `etcdctl`). */
export const ETCDCTL_BIN = process.env.ETCDCTL_BIN ?? 'etcdctl';

const ECHO = process.env.ETCD_HARNESS_ECHO === '1';

// ---------------------------------------------------------------------------------------------
// data-dir registry: removed synchronously at exit / fatal signal if close() never ran
// ---------------------------------------------------------------------------------------------

const dataDirs: Set<string> = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.test.etcd-data-dirs')
] ??= installDataDirRegistry()) as Set<string>;

function installDataDirRegistry(): Set<string> {
  const dirs = new Set<string>();
  registerSyncCleanup(() => {
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
      } catch {
        // best effort; keep going with the others
      }
    }
    dirs.clear();
  });
  return dirs;
}

// ---------------------------------------------------------------------------------------------
// etcdctl
// ---------------------------------------------------------------------------------------------

/** Result of a finished etcdctl invocation. */
export interface EtcdctlResult {
  stdout: string;
  stderr: string;
  /** Exit code (`null` if killed by a signal). */
  code: number | null;
}

/** Options for {@link runEtcdctl} / {@link EtcdCluster.etcdctl}. */
export interface EtcdctlOptions {
  /** Kill etcdctl and reject after this many ms (default 10 000). */
  timeout?: number;
  /** Written to etcdctl's stdin (e.g. for `put` without a value argument, or `txn`). */
  input?: string;
  /** Endpoints to use instead of the default ones. */
  endpoints?: readonly string[];
}

/** Arguments and environment for an etcdctl v3 invocation against `endpoints`. */
export function etcdctlCommand(
  endpoints: readonly string[],
  args: readonly string[],
): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  if (endpoints.length === 0) throw new Error('etcdctl: no endpoints');
  return {
    cmd: ETCDCTL_BIN,
    args: [`--endpoints=${endpoints.join(',')}`, ...args],
    env: { ETCDCTL_API: '3' },
  };
}

/**
 * Spawns a long-running etcdctl (e.g. `watch`, `elect`) as a tracked process with
 * `ETCDCTL_API=3` and `--endpoints` set.
 */
export function spawnEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: Omit<SpawnTrackedOptions, 'env'> = {},
): TrackedProcess {
  const c = etcdctlCommand(endpoints, args);
  return spawnTracked(c.cmd, c.args, { label: `etcdctl ${args[0] ?? ''}`, ...options, env: c.env });
}

/**
 * Runs etcdctl to completion and returns its output and exit code (a non-zero code does not
 * throw). Rejects with a {@link TimeoutError} (after SIGKILLing it) if it exceeds `timeout`.
 */
export async function runEtcdctl(
  endpoints: readonly string[],
  args: readonly string[],
  options: EtcdctlOptions = {},
): Promise<EtcdctlResult> {
  const timeout = options.timeout ?? 10_000;
  const proc = spawnEtcdctl(options.endpoints ?? endpoints, args, {
    input: options.input,
    maxLines: Number.POSITIVE_INFINITY,
  });
  let info: ExitInfo;
  try {
    info = await deadline(proc.exited, timeout, `etcdctl ${args.join(' ')}`);
  } catch (err) {
    await proc.kill();
    if (err instanceof TimeoutError) {
      throw new TimeoutError(`etcdctl ${args.join(' ')}\n${proc.tail()}\n`, timeout);
    }
    throw err;
  }
  return { stdout: proc.output('stdout'), stderr: proc.output('stderr'), code: info.code };
}

/** Like {@link runEtcdctl} but throws (with stderr) unless the exit code is 0; returns stdout. */
export async function runEtcdctlOk(
  endpoints: readonly string[],
  args: readonly string[],
  options: EtcdctlOptions = {},
): Promise<string> {
  const res = await runEtcdctl(endpoints, args, options);
  if (res.code !== 0) {
    throw new Error(`etcdctl ${args.join(' ')} failed (code ${res.code}): ${res.stderr.trim()}`);
  }
  return res.stdout;
}

/**
 * Parses etcdctl `-w json` output. etcd ids, leases and revisions are uint64/int64 and may exceed
 * `Number.MAX_SAFE_INTEGER`, so every integer with 16+ digits is turned into a decimal string
 * before parsing (smaller numbers stay numbers).
 */
export function parseEtcdJson<T = unknown>(text: string): T {
  return JSON.parse(text.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"')) as T;
}

// ---------------------------------------------------------------------------------------------
// members
// ---------------------------------------------------------------------------------------------

/** Options for {@link startEtcd}. */
export interface StartEtcdOptions {
  /** Number of members (default 1; 3 for quorum scenarios). */
  members?: 1 | 3 | number;
  /** Cluster name; members are named `<name>-1`, `<name>-2`, ... (default `etcd`). */
  name?: string;
  /** Extra etcd flags appended to every member's command line. */
  extraArgs?: readonly string[];
  /** `--heartbeat-interval` in ms (default 50). */
  heartbeatIntervalMs?: number;
  /** `--election-timeout` in ms (default 500). */
  electionTimeoutMs?: number;
  /** zap `--log-level` (default `error`). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'panic' | 'fatal';
  /** Deadline for every member to become healthy (default 20 000 ms). */
  readyTimeoutMs?: number;
  /** Echo etcd output to stderr (default: env `ETCD_HARNESS_ECHO=1`). */
  echo?: boolean;
  /**
   * The peer URL each member advertises, given the URL it listens on (default: the same). A test
   * puts a proxy in between to cut a member off from its peers while its clients still reach it.
   */
  advertisePeerUrl?: (member: { name: string; peerUrl: string }) => Promise<string> | string;
}

/** Options for {@link EtcdMember.start}. */
export interface MemberStartOptions {
  /** Wait until `/health` reports healthy (default true). Needs quorum in multi-member clusters. */
  waitHealthy?: boolean;
  /** Deadline for health (default: the cluster's `readyTimeoutMs`). */
  timeout?: number;
}

interface MemberConfig {
  name: string;
  clientPort: number;
  peerPort: number;
  metricsPort: number;
  dataDir: string;
  readyTimeoutMs: number;
  echo: boolean;
}

const ADDRESS_IN_USE = /address already in use/i;

/** One etcd process (member) of an {@link EtcdCluster}. */
export class EtcdMember {
  /** Member name (`--name`). */
  readonly name: string;
  /** Client URL, e.g. `http://127.0.0.1:41234`. */
  readonly clientUrl: string;
  /** Peer URL it listens on. */
  readonly peerUrl: string;
  /** Peer URL it advertises to its peers (the listen URL unless a proxy sits in between). */
  advertisedPeerUrl: string;
  /**
   * Base URL of the dedicated metrics listener (`--listen-metrics-urls`), e.g.
   * `http://127.0.0.1:41236`; Prometheus text is at `${metricsUrl}/metrics` (see {@link metrics}).
   */
  readonly metricsUrl: string;
  /** Data directory (kept across stop/start, removed by `cluster.close()`). */
  readonly dataDir: string;
  /** Raft member id as a decimal string, known after {@link EtcdCluster.memberStatuses} ran. */
  memberId: string | undefined;

  #args: string[] = [];
  #proc: TrackedProcess | undefined;
  #closed = false;
  #readyTimeoutMs: number;
  #echo: boolean;

  /** @internal created by {@link startEtcd}. */
  constructor(config: MemberConfig) {
    this.name = config.name;
    this.clientUrl = `http://${LOOPBACK}:${config.clientPort}`;
    this.peerUrl = `http://${LOOPBACK}:${config.peerPort}`;
    this.advertisedPeerUrl = this.peerUrl;
    this.metricsUrl = `http://${LOOPBACK}:${config.metricsPort}`;
    this.dataDir = config.dataDir;
    this.#readyTimeoutMs = config.readyTimeoutMs;
    this.#echo = config.echo;
  }

  /** @internal sets the full command line (done once by {@link startEtcd}). */
  setArgs(args: string[]): void {
    this.#args = args;
  }

  /** The etcd command line arguments used for every (re)start. */
  get args(): readonly string[] {
    return this.#args;
  }

  /** Pid of the current (or last) etcd process; `undefined` before the first start. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  /** The current (or last) tracked etcd process, for output inspection. */
  get process(): TrackedProcess | undefined {
    return this.#proc;
  }

  /** True while the etcd process is alive (also when paused). */
  get running(): boolean {
    return this.#proc?.running ?? false;
  }

  /** True while stopped with {@link pause}. */
  get paused(): boolean {
    return this.#proc?.paused ?? false;
  }

  /**
   * Starts (or restarts) this member with the same name, ports, flags and data dir. No-op if it is
   * already running. etcd ignores the `--initial-cluster*` flags once the data dir holds a WAL,
   * so a restart simply rejoins the cluster. Retries a few times if a port is momentarily in use.
   */
  async start(options: MemberStartOptions = {}): Promise<void> {
    if (this.#closed) throw new Error(`etcd ${this.name}: cluster is closed (data dir removed)`);
    if (this.running) return;
    const timeout = options.timeout ?? this.#readyTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      this.#spawn();
      if (options.waitHealthy === false) return;
      try {
        await this.waitHealthy(timeout);
        return;
      } catch (err) {
        const proc = this.#proc;
        const inUse = proc !== undefined && proc.lines.some(l => ADDRESS_IN_USE.test(l.text));
        if (!inUse || attempt >= 3) throw err;
        await proc.kill();
        await new Promise(resolve => setTimeout(resolve, 200 * attempt)); // pacing only
      }
    }
  }

  /** @internal called by {@link EtcdCluster.close}: forbids further starts. */
  markClosed(): void {
    this.#closed = true;
  }

  /** @internal spawns the etcd process without waiting. */
  spawnProcess(): void {
    this.#spawn();
  }

  #spawn(): void {
    this.#proc = spawnTracked(ETCD_BIN, this.#args, {
      label: `etcd ${this.name}`,
      echo: this.#echo,
      maxLines: 2000,
    });
  }

  /** SIGTERM, wait for exit; SIGKILL if still alive after `graceMs` (default 5000). */
  async stop(graceMs = 5000): Promise<ExitInfo | undefined> {
    const proc = this.#proc;
    if (!proc || !proc.running) return proc?.exitInfo;
    if (proc.paused) proc.signal('SIGCONT');
    proc.signal('SIGTERM');
    try {
      return await deadline(proc.exited, graceMs, `etcd ${this.name} SIGTERM`);
    } catch {
      return proc.kill();
    }
  }

  /** SIGKILL (after SIGCONT if paused) and wait for exit. */
  async kill(): Promise<ExitInfo | undefined> {
    const proc = this.#proc;
    if (!proc) return undefined;
    return proc.kill();
  }

  /**
   * SIGSTOP: the process freezes (TCP connections stay open, nothing is answered; peers see it as
   * dead after the election timeout). Resolves once the kernel reports it stopped.
   */
  async pause(): Promise<void> {
    if (!this.#proc?.running) throw new Error(`etcd ${this.name} is not running`);
    await this.#proc.pause();
  }

  /** SIGCONT after {@link pause}; resolves once it runs again (not necessarily healthy yet). */
  async resume(): Promise<void> {
    if (!this.#proc?.running) throw new Error(`etcd ${this.name} is not running`);
    await this.#proc.resume();
  }

  /** One `/health` probe (1 s timeout): true iff etcd answers `{"health":"true"}`. */
  async isHealthy(): Promise<boolean> {
    try {
      const res = await fetch(`${this.clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.json()) as { health?: unknown };
      return body.health === 'true' || body.health === true;
    } catch {
      return false;
    }
  }

  /**
   * Waits until `/health` on the client URL reports healthy (which requires a raft leader).
   * Fails fast, with etcd's last output lines, if the process exits meanwhile.
   */
  async waitHealthy(timeoutMs = this.#readyTimeoutMs): Promise<void> {
    const proc = this.#proc;
    if (!proc) throw new Error(`etcd ${this.name} was never started`);
    const ac = new AbortController();
    void proc.exited.then(info =>
      ac.abort(
        new Error(
          `etcd ${this.name} exited (${describeExit(info)}) before healthy\n${proc.tail()}`,
        ),
      ),
    );
    try {
      await waitFor(async () => proc.running && !proc.paused && (await this.isHealthy()), {
        timeout: timeoutMs,
        interval: 50,
        message: `etcd ${this.name} healthy at ${this.clientUrl}`,
        signal: ac.signal,
      });
    } catch (err) {
      if (err instanceof TimeoutError) {
        throw new TimeoutError(
          `etcd ${this.name} healthy at ${this.clientUrl}\n${proc.tail()}\n`,
          timeoutMs,
        );
      }
      throw err;
    }
  }

  /** Prometheus metrics text from `${metricsUrl}/metrics`. */
  async metrics(): Promise<string> {
    const res = await fetch(`${this.metricsUrl}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`GET ${this.metricsUrl}/metrics: HTTP ${res.status}`);
    return res.text();
  }

  /** Last output lines of the current process (for diagnostics). */
  tail(n = 20): string {
    return this.#proc?.tail(n) ?? `(etcd ${this.name} never started)`;
  }
}

// ---------------------------------------------------------------------------------------------
// cluster
// ---------------------------------------------------------------------------------------------

/** `etcdctl endpoint status` of one member. */
export interface MemberStatus {
  member: EtcdMember;
  /** Decimal member id. */
  memberId: string;
  /** Decimal member id of the leader this member believes in (`'0'` = none). */
  leaderId: string;
  raftTerm: number;
  raftIndex: number;
  revision: number;
}

interface EndpointStatusJson {
  Endpoint: string;
  Status: {
    header: { member_id: string | number; revision: number };
    leader: string | number;
    raftTerm: number;
    raftIndex: number;
  };
}

/** A running etcd cluster started by {@link startEtcd}. */
export class EtcdCluster {
  /** Cluster name (member name prefix). */
  readonly name: string;
  /** All members, in `--initial-cluster` order. */
  readonly members: readonly EtcdMember[];
  #closed = false;
  #closing: Promise<void> | undefined;

  /** @internal created by {@link startEtcd}. */
  constructor(name: string, members: EtcdMember[]) {
    this.name = name;
    this.members = members;
  }

  /** Client URLs of all members (`http://127.0.0.1:PORT`), usable as etcd3 `hosts`. */
  get endpoints(): string[] {
    return this.members.map(m => m.clientUrl);
  }

  /** Client URLs of members that are running and not paused (all endpoints if none is). */
  liveEndpoints(): string[] {
    const live = this.members.filter(m => m.running && !m.paused).map(m => m.clientUrl);
    return live.length > 0 ? live : this.endpoints;
  }

  /** True once {@link close} has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Member by name (throws if unknown). */
  member(name: string): EtcdMember {
    const m = this.members.find(x => x.name === name);
    if (!m) throw new Error(`no member ${name} in cluster ${this.name}`);
    return m;
  }

  /**
   * Runs `etcdctl <args>` with `ETCDCTL_API=3` against the live members (override with
   * `opts.endpoints`). Never throws on a non-zero exit code; throws on timeout.
   */
  etcdctl(args: readonly string[], opts: EtcdctlOptions = {}): Promise<EtcdctlResult> {
    return runEtcdctl(this.liveEndpoints(), args, opts);
  }

  /** Like {@link etcdctl} but throws unless the exit code is 0; returns stdout. */
  etcdctlOk(args: readonly string[], opts: EtcdctlOptions = {}): Promise<string> {
    return runEtcdctlOk(this.liveEndpoints(), args, opts);
  }

  /**
   * `etcdctl endpoint status` of every running, non-paused member (queried one by one so a dead
   * member cannot hide the others). Members that do not answer are omitted.
   */
  async memberStatuses(): Promise<MemberStatus[]> {
    const live = this.members.filter(m => m.running && !m.paused);
    const results = await Promise.all(
      live.map(async (member): Promise<MemberStatus | undefined> => {
        try {
          const res = await runEtcdctl(
            [member.clientUrl],
            ['endpoint', 'status', '-w', 'json', '--command-timeout=2s', '--dial-timeout=1s'],
            { timeout: 5000 },
          );
          if (res.code !== 0) return undefined;
          const [entry] = parseEtcdJson<EndpointStatusJson[]>(res.stdout);
          if (!entry) return undefined;
          const memberId = String(entry.Status.header.member_id);
          member.memberId = memberId;
          return {
            member,
            memberId,
            leaderId: String(entry.Status.leader),
            raftTerm: entry.Status.raftTerm,
            raftIndex: entry.Status.raftIndex,
            revision: entry.Status.header.revision,
          };
        } catch {
          return undefined;
        }
      }),
    );
    return results.filter((s): s is MemberStatus => s !== undefined);
  }

  /**
   * The current raft leader: the live member whose `member_id` equals the `leader` it reports
   * (highest raft term wins if a stale leader also claims it). Throws if there is none right now.
   */
  async raftLeader(): Promise<EtcdMember> {
    const statuses = await this.memberStatuses();
    const claims = statuses
      .filter(s => s.leaderId !== '0' && s.memberId === s.leaderId)
      .sort((a, b) => b.raftTerm - a.raftTerm);
    if (claims.length === 0) {
      throw new Error(
        `cluster ${this.name}: no raft leader among ${statuses.length} answering member(s)`,
      );
    }
    return claims[0].member;
  }

  /** Polls {@link raftLeader} until there is a leader (optionally one that is not `exclude`). */
  waitForRaftLeader(options: { timeout?: number; exclude?: EtcdMember } = {}): Promise<EtcdMember> {
    const { timeout = 20_000, exclude } = options;
    return waitFor(
      async () => {
        const leader = await this.raftLeader();
        return leader !== exclude ? leader : undefined;
      },
      {
        timeout,
        interval: 100,
        message: `raft leader in ${this.name}${exclude ? ` other than ${exclude.name}` : ''}`,
      },
    );
  }

  /**
   * SIGKILLs every member (resuming paused ones first), waits for them to exit and removes all
   * data dirs. Idempotent; concurrent calls share the same promise.
   */
  close(): Promise<void> {
    this.#closed = true;
    for (const m of this.members) m.markClosed();
    this.#closing ??= (async () => {
      await Promise.all(this.members.map(m => m.kill()));
      await Promise.all(
        this.members.map(async m => {
          await rm(m.dataDir, { recursive: true, force: true, maxRetries: 3 });
          dataDirs.delete(m.dataDir);
        }),
      );
    })();
    return this.#closing;
  }
}

/**
 * Starts a fresh etcd cluster on loopback and waits until every member is healthy. Retries with
 * new ports (up to 3 attempts) if a port was grabbed between discovery and bind. On failure
 * everything started is cleaned up and the error contains each member's last output lines.
 */
export async function startEtcd(options: StartEtcdOptions = {}): Promise<EtcdCluster> {
  const size = options.members ?? 1;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`startEtcd: members=${size}`);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    const cluster = await createCluster(size, options);
    try {
      const timeout = options.readyTimeoutMs ?? 20_000;
      await Promise.all(cluster.members.map(m => m.waitHealthy(timeout)));
      return cluster;
    } catch (err) {
      const inUse = cluster.members.some(
        m => m.process?.lines.some(l => ADDRESS_IN_USE.test(l.text)) ?? false,
      );
      const tails = cluster.members.map(m => m.tail(15)).join('\n');
      await cluster.close();
      lastError = new Error(`startEtcd(${size} member(s)) failed: ${errorMessage(err)}\n${tails}`, {
        cause: err,
      });
      if (!inUse) break;
    }
  }
  throw lastError;
}

async function createCluster(size: number, options: StartEtcdOptions): Promise<EtcdCluster> {
  const name = options.name ?? 'etcd';
  const readyTimeoutMs = options.readyTimeoutMs ?? 20_000;
  const echo = options.echo ?? ECHO;
  const ports = await freePorts(size * 3);
  const members: EtcdMember[] = [];
  try {
    for (let i = 0; i < size; i++) {
      const dataDir = await mkdtemp(join(tmpdir(), 'etcd-'));
      dataDirs.add(dataDir);
      members.push(
        new EtcdMember({
          name: `${name}-${i + 1}`,
          clientPort: ports[i * 3],
          peerPort: ports[i * 3 + 1],
          metricsPort: ports[i * 3 + 2],
          dataDir,
          readyTimeoutMs,
          echo,
        }),
      );
    }
  } catch (err) {
    for (const m of members) {
      await rm(m.dataDir, { recursive: true, force: true });
      dataDirs.delete(m.dataDir);
    }
    throw err;
  }
  if (options.advertisePeerUrl) {
    for (const m of members) m.advertisedPeerUrl = await options.advertisePeerUrl(m);
  }
  const initialCluster = members.map(m => `${m.name}=${m.advertisedPeerUrl}`).join(',');
  const token = `${name}-${randomUUID()}`;
  for (const m of members) {
    m.setArgs([
      `--name=${m.name}`,
      `--data-dir=${m.dataDir}`,
      `--listen-client-urls=${m.clientUrl}`,
      `--advertise-client-urls=${m.clientUrl}`,
      `--listen-peer-urls=${m.peerUrl}`,
      `--initial-advertise-peer-urls=${m.advertisedPeerUrl}`,
      `--listen-metrics-urls=${m.metricsUrl}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      `--heartbeat-interval=${options.heartbeatIntervalMs ?? 50}`,
      `--election-timeout=${options.electionTimeoutMs ?? 500}`,
      '--logger=zap',
      `--log-level=${options.logLevel ?? 'error'}`,
      ...(options.extraArgs ?? []),
    ]);
  }
  const cluster = new EtcdCluster(name, members);
  try {
    for (const m of members) m.spawnProcess();
  } catch (err) {
    await cluster.close();
    throw err;
  }
  return cluster;
}
