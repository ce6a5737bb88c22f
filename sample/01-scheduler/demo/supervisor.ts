import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import {
  GoCandidate,
  deadline,
  spawnTracked,
  waitFor,
  type TrackedProcess,
} from '../../../test/support/index.js';

/** What a demo process is doing right now. */
export type ProcessState = 'running' | 'paused' | 'stopped';

/** One candidate process of the demo, as the page sees it. */
export interface NodeView {
  /** `1`, `2`, `3` for our instances, `go` for the etcdctl candidate. */
  id: string;
  /** The value it campaigns with. */
  value: string;
  /** `nest` (this library) or `go` (`etcdctl elect`). */
  lang: 'nest' | 'go';
  /** HTTP port of a Nest instance. */
  port?: number;
  /** OS process id of the current (or last) process. */
  pid?: number;
  state: ProcessState;
}

/** Everything the launcher decided, for the supervisor to run. */
export interface DemoSettings {
  endpoints: string[];
  election: string;
  /** Lease TTL of our instances, in seconds. */
  ttl: number;
  /** One free port per Nest instance. */
  ports: number[];
  /** Start a Go candidate too (when `etcdctl` is on PATH). */
  withGo: boolean;
}

interface Slot {
  view: NodeView;
  proc?: TrackedProcess;
  go?: GoCandidate;
  resumeTimer?: NodeJS.Timeout;
}

const MAIN = fileURLToPath(new URL('../src/main.js', import.meta.url));

/**
 * Starts, kills, pauses and restarts the demo's candidates: three sample instances and one
 * `etcdctl elect`. Emits `'change'` whenever a process changes state.
 */
export class DemoSupervisor extends EventEmitter {
  readonly settings: DemoSettings;
  #slots = new Map<string, Slot>();
  #stopping = false;

  constructor(settings: DemoSettings) {
    super();
    this.settings = settings;
    settings.ports.forEach((port, i) => {
      const id = String(i + 1);
      this.#slots.set(id, {
        view: { id, value: `node-${id}`, lang: 'nest', port, state: 'stopped' },
      });
    });
    if (settings.withGo) {
      this.#slots.set('go', { view: { id: 'go', value: 'go-1', lang: 'go', state: 'stopped' } });
    }
  }

  /** Every candidate, ours first. */
  nodes(): NodeView[] {
    return [...this.#slots.values()].map(s => ({ ...s.view }));
  }

  /** Port of Nest instance `id`, if there is one. */
  portOf(id: string): number | undefined {
    return this.#slots.get(id)?.view.port;
  }

  /** Starts every instance, waits until they all queue, then queues the Go candidate behind them. */
  async startAll(): Promise<void> {
    const ours = [...this.#slots.values()].filter(s => s.view.lang === 'nest');
    for (const slot of ours) this.#startNest(slot);
    await Promise.all(ours.map(slot => this.#waitQueued(slot)));
    if (this.#slots.has('go')) this.#startGo(this.#slots.get('go')!);
  }

  /** SIGKILL: no resign, the lease lingers until its TTL runs out. */
  kill(id: string): void {
    const slot = this.#slot(id);
    const proc = this.#running(slot);
    clearTimeout(slot.resumeTimer);
    proc.signal('SIGCONT'); // a stopped process only dies once continued
    proc.signal('SIGKILL');
  }

  /** SIGSTOP past the TTL; SIGCONT after twice the TTL unless resumed earlier. */
  pause(id: string): void {
    const slot = this.#slot(id);
    const proc = this.#running(slot);
    if (!proc.signal('SIGSTOP')) return;
    slot.view.state = 'paused';
    slot.resumeTimer = setTimeout(() => this.resume(id), this.settings.ttl * 2000);
    this.#changed();
  }

  /** SIGCONT a paused process. */
  resume(id: string): void {
    const slot = this.#slot(id);
    clearTimeout(slot.resumeTimer);
    if (slot.proc?.signal('SIGCONT')) {
      slot.view.state = 'running';
      this.#changed();
    }
  }

  /** Starts a stopped candidate again (it queues at the back). */
  restart(id: string): void {
    const slot = this.#slot(id);
    if (slot.proc?.running) throw new DemoControlError(`${slot.view.value} is running`);
    if (slot.view.lang === 'go') this.#startGo(slot);
    else this.#startNest(slot);
  }

  /** SIGINT to etcdctl: Go's `Resign()` then exit. */
  async resignGo(): Promise<void> {
    const slot = this.#slot('go');
    this.#running(slot);
    await slot.go!.resign({ timeoutMs: 5000 });
  }

  /**
   * Stops everything: SIGTERM to our instances (they resign on the way out), SIGINT to etcdctl,
   * then SIGKILL whatever is still running after `graceMs`.
   */
  async stopAll(graceMs = 3000): Promise<void> {
    this.#stopping = true;
    const procs = [...this.#slots.values()].flatMap(slot => {
      clearTimeout(slot.resumeTimer);
      const proc = slot.proc;
      if (!proc?.running) return [];
      proc.signal('SIGCONT');
      proc.signal(slot.view.lang === 'go' ? 'SIGINT' : 'SIGTERM');
      return [proc];
    });
    await Promise.all(
      procs.map(proc => deadline(proc.exited, graceMs, proc.label).catch(() => proc.kill())),
    );
  }

  #startNest(slot: Slot): void {
    const { endpoints, election, ttl } = this.settings;
    const proc = spawnTracked(process.execPath, [MAIN], {
      label: slot.view.value,
      env: {
        ETCD_HOSTS: endpoints.join(','),
        ELECTION_NAME: election,
        ELECTION_VALUE: slot.view.value,
        ELECTION_TTL: String(ttl),
        PORT: String(slot.view.port),
        NO_COLOR: '1',
      },
    });
    this.#track(slot, proc);
  }

  #startGo(slot: Slot): void {
    slot.go = GoCandidate.start(this.settings.endpoints, this.settings.election, slot.view.value);
    this.#track(slot, slot.go.process);
  }

  #track(slot: Slot, proc: TrackedProcess): void {
    slot.proc = proc;
    slot.view.pid = proc.pid;
    slot.view.state = 'running';
    void proc.exited.then(() => {
      if (slot.proc !== proc) return;
      clearTimeout(slot.resumeTimer);
      slot.view.state = 'stopped';
      this.#changed();
    });
    this.#changed();
  }

  /** Waits until instance `slot` answers and holds a key in the queue. */
  #waitQueued(slot: Slot): Promise<unknown> {
    const url = `http://127.0.0.1:${slot.view.port}/leadership`;
    return waitFor(
      async () => {
        if (!slot.proc?.running) throw new Error(`${slot.view.value} exited\n${slot.proc?.tail()}`);
        const res = await fetch(url);
        const body = (await res.json()) as { key?: string };
        return res.ok && body.key !== undefined;
      },
      { timeout: 20_000, interval: 100, message: `${slot.view.value} in the queue` },
    );
  }

  #slot(id: string): Slot {
    const slot = this.#slots.get(id);
    if (!slot) throw new DemoControlError(`no candidate "${id}"`, 404);
    return slot;
  }

  #running(slot: Slot): TrackedProcess {
    const proc = slot.proc;
    if (!proc?.running) throw new DemoControlError(`${slot.view.value} is not running`);
    return proc;
  }

  #changed(): void {
    if (!this.#stopping) this.emit('change', this.nodes());
  }
}

/** A control request that cannot be carried out; `status` is the HTTP status to answer with. */
export class DemoControlError extends Error {
  override readonly name = 'DemoControlError';
  constructor(
    message: string,
    readonly status = 409,
  ) {
    super(message);
  }
}
