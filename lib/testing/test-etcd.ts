/** `startTestEtcd`: a throwaway etcd on free ports, for tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ElectionError } from '../core/index.js';

/** Options of {@link startTestEtcd}. */
export interface TestEtcdOptions {
  /**
   * The etcd binary.
   * @default process.env.ETCD_BIN ?? 'etcd' (from PATH)
   */
  bin?: string;
  /**
   * How long to wait for etcd to answer `/health`, in ms.
   * @default 20000
   */
  timeout?: number;
  /** Extra etcd flags, e.g. `['--auth-token=simple']`. */
  args?: readonly string[];
}

/** A throwaway etcd started by {@link startTestEtcd}. */
export interface TestEtcd {
  /** Its client URL, e.g. `http://127.0.0.1:41234`: pass it as `etcd: { hosts }`. */
  readonly hosts: string;
  /** `[hosts]`, for options that take a list. */
  readonly endpoints: string[];
  /** Its temporary data directory, removed by {@link stop}. */
  readonly dataDir: string;
  /** Kills etcd and removes its data directory. Idempotent. */
  stop(): Promise<void>;
  /** `stop()`, for `await using etcd = await startTestEtcd()`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Starts a throwaway single-member etcd for end-to-end tests: free loopback ports, a temporary
 * data directory, ready when it answers `/health`. `stop()` kills it and removes the directory;
 * if the test process exits first, an exit hook does. Needs the `etcd` binary (3.4 or later).
 *
 * @example
 * ```ts
 * let etcd: TestEtcd;
 * beforeAll(async () => (etcd = await startTestEtcd()));
 * afterAll(() => etcd.stop());
 * // ElectionModule.forRoot({ etcd: { hosts: etcd.hosts }, election: 'scheduler' })
 * ```
 */
export async function startTestEtcd(options: TestEtcdOptions = {}): Promise<TestEtcd> {
  const bin = options.bin ?? process.env.ETCD_BIN ?? 'etcd';
  const timeout = options.timeout ?? 20_000;
  let lastError: unknown;
  // A free port can be taken between our probe and etcd's bind: retry with new ones.
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await startOnce(bin, timeout, options.args ?? []);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) break;
    }
  }
  throw lastError;
}

class PortTakenError extends ElectionError {}

async function startOnce(bin: string, timeout: number, extra: readonly string[]) {
  const [clientPort, peerPort] = await freePorts(2);
  const hosts = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const dataDir = await mkdtemp(join(tmpdir(), 'nestjs-etcd-election-'));
  const child = spawn(
    bin,
    [
      '--name=test',
      `--data-dir=${dataDir}`,
      `--listen-client-urls=${hosts}`,
      `--advertise-client-urls=${hosts}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=test=${peer}`,
      '--log-level=error',
      '--logger=zap',
      ...extra,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(chunk.toString());
    if (output.length > 50) output.shift();
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  // Last resort if the test process exits without stop(): nothing can be awaited here.
  const onExit = () => {
    child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off('exit', onExit);
      await kill(child);
      await rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
    })();
    return stopping;
  };

  try {
    await waitHealthy(child, hosts, timeout, () => output.join(''));
  } catch (error) {
    await stop();
    throw error;
  }
  return { hosts, endpoints: [hosts], dataDir, stop, [Symbol.asyncDispose]: stop };
}

async function waitHealthy(
  child: ChildProcess,
  hosts: string,
  timeout: number,
  output: () => string,
): Promise<void> {
  const exited = new Promise<Error>(resolve => {
    child.once('error', error =>
      resolve(
        (error as NodeJS.ErrnoException).code === 'ENOENT'
          ? new ElectionError(
              `startTestEtcd: "${child.spawnfile}" not found. Install etcd (e.g. ` +
                '"apt-get install etcd-server", or a release from github.com/etcd-io/etcd) or ' +
                'set ETCD_BIN to its path.',
            )
          : error,
      ),
    );
    child.once('exit', (code, signal) => {
      const text = output();
      const message = `startTestEtcd: etcd exited (${signal ?? `code ${code}`}) before it was ready:\n${text}`;
      resolve(
        /address already in use/i.test(text)
          ? new PortTakenError(message)
          : new ElectionError(message),
      );
    });
  });
  let failed: Error | undefined;
  void exited.then(error => (failed = error));
  const until = Date.now() + timeout;
  while (!failed) {
    if (await isHealthy(hosts)) return;
    if (Date.now() > until) {
      throw new ElectionError(
        `startTestEtcd: etcd at ${hosts} not healthy within ${timeout} ms:\n${output()}`,
      );
    }
    await Promise.race([exited, new Promise(resolve => setTimeout(resolve, 50))]);
  }
  throw failed;
}

async function isHealthy(hosts: string): Promise<boolean> {
  try {
    const res = await fetch(`${hosts}/health`, { signal: AbortSignal.timeout(1000) });
    const body = (await res.json()) as { health?: unknown };
    return body.health === 'true' || body.health === true;
  } catch {
    return false;
  }
}

function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise(resolve => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** `n` distinct free TCP ports on 127.0.0.1, held open together so that they differ. */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen({ port: 0, host: '127.0.0.1', exclusive: true }, () => resolve(server));
        }),
    ),
  );
  const ports = servers.map(server => (server.address() as AddressInfo).port);
  await Promise.all(servers.map(server => new Promise(resolve => server.close(resolve))));
  return ports;
}
