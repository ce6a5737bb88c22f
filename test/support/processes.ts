/**
 * Registry of every child process the harness spawns, with line-oriented output capture.
 *
 * Guarantees: {@link killAll} SIGKILLs every tracked child that is still running (sending
 * SIGCONT first to paused ones), and a `process.on('exit')` hook does the same synchronously, so
 * no etcd/etcdctl survives a crashed or aborted test run. If the parent receives SIGINT, SIGTERM
 * or SIGHUP and nobody else handles that signal, children are killed and the signal is re-raised
 * (default behaviour preserved); if someone else handles it, they own the shutdown and the exit
 * hook still fires when they call `process.exit()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { TimeoutError, waitFor } from './wait.js';

/** One line of child output. */
export interface OutputLine {
  /** Which stream the line came from. */
  stream: 'stdout' | 'stderr';
  /** The line without its trailing newline. */
  text: string;
  /** `process.hrtime.bigint()` when the line was received. */
  at: bigint;
}

/** How a tracked process ended. */
export interface ExitInfo {
  /** Exit code, or `null` when killed by a signal. */
  code: number | null;
  /** Terminating signal, or `null` on a normal exit. */
  signal: NodeJS.Signals | null;
  /** `process.hrtime.bigint()` when the exit was observed. */
  at: bigint;
}

/** Options for {@link spawnTracked}. */
export interface SpawnTrackedOptions {
  /** Extra environment variables (merged over `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Working directory. */
  cwd?: string;
  /** Label used in error messages (default: the command). */
  label?: string;
  /** Written to stdin, which is then closed. Without it stdin is `/dev/null`. */
  input?: string;
  /** Echo output lines to the parent's stderr, prefixed with the label (debugging aid). */
  echo?: boolean;
  /** Keep at most this many lines in {@link TrackedProcess.lines} (default 10 000). */
  maxLines?: number;
}

/** Matches an output line: a regular expression on its text, or a predicate. */
export type LineMatcher = RegExp | ((line: OutputLine) => boolean);

interface Registry {
  processes: Set<TrackedProcess>;
  cleanups: Set<() => void>;
}

const registry: Registry = ((globalThis as Record<symbol, unknown>)[
  Symbol.for('nestjs-etcd-election.test.processes')
] ??= installRegistry()) as Registry;

function installRegistry(): Registry {
  const reg: Registry = { processes: new Set(), cleanups: new Set() };
  // Synchronous last resort: nothing can be awaited in an 'exit' listener.
  process.on('exit', () => emergencyCleanup(reg));
  if (isMainThread) {
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      const onSignal = (): void => {
        // Only act if we are the sole listener, i.e. the default action (death) would apply.
        if (process.listenerCount(sig) > 1) return;
        emergencyCleanup(reg);
        process.off(sig, onSignal);
        process.kill(process.pid, sig);
      };
      process.on(sig, onSignal);
    }
  }
  return reg;
}

function emergencyCleanup(reg: Registry): void {
  for (const child of reg.processes) {
    try {
      if (child.paused) child.signal('SIGCONT');
      child.signal('SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const fn of reg.cleanups) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
}

/**
 * Registers a synchronous cleanup (e.g. removing temp dirs) that runs when the process exits or
 * dies from an unhandled SIGINT/SIGTERM/SIGHUP, after all tracked children have been SIGKILLed.
 * Returns a function that unregisters it.
 */
export function registerSyncCleanup(fn: () => void): () => void {
  registry.cleanups.add(fn);
  return () => registry.cleanups.delete(fn);
}

/**
 * A spawned child whose output is collected line by line and that is registered for cleanup.
 * Emits `'line'` with an {@link OutputLine} for every line on stdout or stderr.
 */
export class TrackedProcess extends EventEmitter {
  /** OS process id. */
  readonly pid: number;
  /** Label used in messages. */
  readonly label: string;
  /** Command and arguments, for diagnostics. */
  readonly command: readonly string[];
  /** Every collected output line (stdout and stderr interleaved in arrival order). */
  readonly lines: OutputLine[] = [];
  /** Resolves once the process has exited and its output has been drained. Never rejects. */
  readonly exited: Promise<ExitInfo>;

  #child: ChildProcess;
  #exitInfo: ExitInfo | undefined;
  #paused = false;
  #maxLines: number;
  /** Number of lines dropped from the front of `lines` because of `maxLines`. */
  #dropped = 0;

  /** @internal use {@link spawnTracked}. */
  constructor(child: ChildProcess, command: readonly string[], options: SpawnTrackedOptions) {
    super();
    if (child.pid === undefined) throw new Error(`spawn failed: ${command.join(' ')}`);
    this.#child = child;
    this.pid = child.pid;
    this.command = command;
    this.label = options.label ?? command[0];
    this.#maxLines = options.maxLines ?? 10_000;

    const echo = options.echo === true;
    const readLines = (stream: NodeJS.ReadableStream | null, name: OutputLine['stream']): void => {
      if (!stream) return;
      let partial = '';
      stream.setEncoding('utf8');
      const push = (text: string): void => {
        const line: OutputLine = { stream: name, text, at: process.hrtime.bigint() };
        this.lines.push(line);
        if (this.lines.length > this.#maxLines) {
          this.lines.shift();
          this.#dropped++;
        }
        if (echo) process.stderr.write(`[${this.label}:${this.pid}] ${text}\n`);
        this.emit('line', line);
      };
      stream.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const part of parts) push(part.endsWith('\r') ? part.slice(0, -1) : part);
      });
      stream.on('end', () => {
        if (partial) push(partial);
        partial = '';
      });
    };
    readLines(child.stdout, 'stdout');
    readLines(child.stderr, 'stderr');

    this.exited = new Promise<ExitInfo>(resolve => {
      let resolved = false;
      const finish = (): void => {
        if (resolved || !this.#exitInfo) return;
        resolved = true;
        registry.processes.delete(this);
        this.emit('exit', this.#exitInfo);
        resolve(this.#exitInfo);
      };
      child.once('exit', (code, signal) => {
        this.#exitInfo = { code, signal, at: process.hrtime.bigint() };
        this.#paused = false;
        // 'close' follows once stdio is drained; don't wait forever if a grandchild holds it.
        setTimeout(finish, 1000).unref();
      });
      child.once('close', finish);
      child.once('error', err => {
        // spawn errors after a pid was assigned are rare; treat as exit
        if (!this.#exitInfo) {
          this.#exitInfo = { code: null, signal: null, at: process.hrtime.bigint() };
          this.lines.push({ stream: 'stderr', text: String(err), at: this.#exitInfo.at });
        }
        finish();
      });
    });
    registry.processes.add(this);
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  /** True while stopped by SIGSTOP/SIGTSTP via {@link signal} (until SIGCONT). */
  get paused(): boolean {
    return this.#paused;
  }

  /** Exit information once exited, else `undefined`. */
  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  /** Number of lines dropped from the front of {@link lines} due to the line cap. */
  get droppedLines(): number {
    return this.#dropped;
  }

  /**
   * Total number of lines received so far (including dropped ones). Use it as the `from` mark of
   * {@link waitForLine} to only match lines that arrive after this point.
   */
  get lineCount(): number {
    return this.#dropped + this.lines.length;
  }

  /** Sends `sig` if still running; returns whether it was delivered. Tracks pause state. */
  signal(sig: NodeJS.Signals): boolean {
    if (!this.running) return false;
    let delivered: boolean;
    try {
      delivered = this.#child.kill(sig);
    } catch {
      delivered = false;
    }
    if (delivered) {
      if (sig === 'SIGSTOP' || sig === 'SIGTSTP') this.#paused = true;
      else if (sig === 'SIGCONT') this.#paused = false;
    }
    return delivered;
  }

  /**
   * SIGSTOP, then waits (up to `timeoutMs`, default 5000) until every thread is actually stopped
   * (signal delivery is asynchronous; on Linux this is checked via `/proc`, elsewhere it resolves
   * right after sending).
   */
  async pause(timeoutMs = 5000): Promise<void> {
    if (!this.signal('SIGSTOP')) throw new Error(`${this.label} (pid ${this.pid}) is not running`);
    await waitFor(() => !this.running || threadsStopped(this.pid) !== false, {
      timeout: timeoutMs,
      interval: 5,
      message: `${this.label} (pid ${this.pid}) stopped after SIGSTOP`,
    });
  }

  /** SIGCONT, then waits until the process is no longer stopped (Linux `/proc` check). */
  async resume(timeoutMs = 5000): Promise<void> {
    if (!this.signal('SIGCONT')) throw new Error(`${this.label} (pid ${this.pid}) is not running`);
    await waitFor(() => !this.running || threadsStopped(this.pid) !== true, {
      timeout: timeoutMs,
      interval: 5,
      message: `${this.label} (pid ${this.pid}) running after SIGCONT`,
    });
  }

  /** SIGKILLs the process (after SIGCONT if paused) and waits for it to exit. */
  async kill(): Promise<ExitInfo> {
    if (this.running) {
      if (this.#paused) this.signal('SIGCONT');
      this.signal('SIGKILL');
    }
    return this.exited;
  }

  /**
   * Resolves with the first matching line whose absolute line number (see {@link lineCount}) is
   * at least `from` (default 0: any line received so far or later). Rejects with a {@link TimeoutError} after `timeoutMs`, or earlier if the process
   * exits without producing a matching line. Errors include the last output lines.
   */
  waitForLine(matcher: LineMatcher, timeoutMs: number, from = 0): Promise<OutputLine> {
    const test = (line: OutputLine): boolean =>
      typeof matcher === 'function' ? matcher(line) : matcher.test(line.text);
    const start = Math.max(0, from - this.#dropped);
    for (let i = start; i < this.lines.length; i++) {
      if (test(this.lines[i])) return Promise.resolve(this.lines[i]);
    }
    const what = `${this.label} (pid ${this.pid}) line matching ${String(matcher)}`;
    if (!this.running && this.#exitInfo) {
      return Promise.reject(new Error(`${what}: process already exited\n${this.tail()}`));
    }
    return new Promise<OutputLine>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('line', onLine);
        this.off('exit', onExit);
      };
      const onLine = (line: OutputLine): void => {
        if (!test(line)) return;
        cleanup();
        resolve(line);
      };
      const onExit = (info: ExitInfo): void => {
        cleanup();
        reject(new Error(`${what}: process exited (${describeExit(info)})\n${this.tail()}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new TimeoutError(`${what}\n${this.tail()}\n`, timeoutMs));
      }, timeoutMs);
      this.on('line', onLine);
      this.on('exit', onExit);
    });
  }

  /** The last `n` output lines as one string (for error messages). */
  tail(n = 20): string {
    const last = this.lines.slice(-n).map(l => `  ${l.stream === 'stderr' ? '!' : '>'} ${l.text}`);
    return `--- last output of ${this.label} (pid ${this.pid}) ---\n${last.join('\n') || '  (none)'}`;
  }

  /** All stdout (or stderr) text joined with newlines. */
  output(stream: OutputLine['stream'] = 'stdout'): string {
    return this.lines
      .filter(l => l.stream === stream)
      .map(l => l.text)
      .join('\n');
  }
}

/**
 * Whether every thread of `pid` is in the stopped state (`T`), read from `/proc/<pid>/task/*\/stat`.
 * `undefined` when that cannot be determined (no `/proc`, or the process is gone).
 */
export function threadsStopped(pid: number): boolean | undefined {
  const taskDir = `/proc/${pid}/task`;
  if (!existsSync(taskDir)) return undefined;
  try {
    const states = readdirSync(taskDir).map(tid => {
      const stat = readFileSync(`${taskDir}/${tid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    });
    if (states.length === 0) return undefined;
    return states.every(state => state === 'T' || state === 't');
  } catch {
    return undefined;
  }
}

/** Human-readable exit description. */
export function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `code ${info.code}`;
}

/**
 * Spawns `cmd args` (no shell), collects its output line by line and registers it so that
 * {@link killAll} and the exit hook can kill it. Throws synchronously if the binary cannot be
 * spawned (e.g. not found).
 */
export function spawnTracked(
  cmd: string,
  args: readonly string[],
  options: SpawnTrackedOptions = {},
): TrackedProcess {
  const child = spawn(cmd, args, {
    cwd: options.cwd,
    env: options.env ? { ...process.env, ...options.env } : process.env,
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; swallow the event and fail synchronously instead
    child.once('error', () => undefined);
    throw new Error(`spawnTracked: could not spawn ${cmd} (not found or not executable)`);
  }
  const tracked = new TrackedProcess(child, [cmd, ...args], options);
  if (options.input !== undefined && child.stdin) {
    child.stdin.on('error', () => undefined); // EPIPE if the child exits early
    child.stdin.end(options.input);
  }
  return tracked;
}

/** Every tracked process that is still running. */
export function runningProcesses(): TrackedProcess[] {
  return [...registry.processes].filter(p => p.running);
}

/**
 * SIGKILLs every tracked child still running (SIGCONT first for paused ones) and waits for all
 * of them to exit (bounded at 10 s in total).
 */
export async function killAll(): Promise<void> {
  const victims = [...registry.processes];
  await Promise.race([
    Promise.all(victims.map(p => p.kill())),
    new Promise(resolve => setTimeout(resolve, 10_000).unref()),
  ]);
}
