/** Makes a shutdown signal start every resign before Nest runs its own shutdown hooks. */
import {
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  ShutdownSignal,
} from '@nestjs/common';
import { ElectionRegistry } from './election.registry.js';

/**
 * @internal Makes stepping down and resigning the first thing a shutdown signal does. Nest runs
 * `onModuleDestroy` module by module, global modules (ours) last, so the resign would wait for
 * every other module's hook, while the successor waits on the resign alone. When the application
 * listens for shutdown signals (`enableShutdownHooks()` before `listen()` / `init()`), this takes
 * Nest's own listener off the process and listens in its place: on a signal it starts every
 * election's `stop()` (step down, drain leader work, resign, revoke) and hands the signal to
 * Nest's listener once every resign has been answered (at most {@link RESIGN_HOLD_MS} later).
 * Until then Nest's hooks would run on this thread between the resign's request and its write to
 * the socket, and between its answer and the successor's turn. Nest's sequence then runs as
 * before, and each election's `onModuleDestroy` awaits the same `stop()`.
 *
 * Taking the listener off is what holds Nest back: a listener removed while a signal is being
 * emitted still runs for that signal, so removing it in our own listener would be too late.
 */
@Injectable()
export class ElectionShutdown implements OnApplicationBootstrap, OnApplicationShutdown {
  /** Per signal: our listener, and the Nest listeners it stands in for. */
  private readonly held = new Map<
    NodeJS.Signals,
    { listener: () => void; nest: SignalListener[] }
  >();
  private handling = false;

  constructor(private readonly registry: ElectionRegistry) {}

  /** Nest lifecycle hook: stands in for Nest's listener on the signals Nest shuts down on. */
  onApplicationBootstrap(): void {
    for (const signal of Object.values(ShutdownSignal) as NodeJS.Signals[]) {
      if (this.held.has(signal)) continue;
      const nest = process.listeners(signal).filter(isNestShutdown);
      if (nest.length === 0) continue;
      for (const listener of nest) process.off(signal, listener);
      const listener = () => this.onSignal(signal);
      this.held.set(signal, { listener, nest });
      process.prependListener(signal, listener);
    }
  }

  /** Nest lifecycle hook: leaves no listener behind. */
  onApplicationShutdown(): void {
    this.unlisten();
  }

  private onSignal(signal: NodeJS.Signals): void {
    // A second signal while Nest's listener is held back: Nest would ignore it too.
    if (this.handling) return;
    this.handling = true;
    const resigned = this.registry.getAll().map(election => {
      void election.stop().catch(() => undefined);
      return election.whenResigned();
    });
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>(resolve => {
      timer = setTimeout(resolve, RESIGN_HOLD_MS);
    });
    void Promise.race([Promise.all(resigned), bound]).then(() => {
      clearTimeout(timer);
      const nest = this.held.get(signal)?.nest ?? [];
      // Back where Nest put them, for Nest to take off itself. Nest raises the signal again to
      // end the process once shut down, after our onApplicationShutdown has taken ours off.
      this.restore();
      for (const listener of nest) listener(signal);
    });
  }

  /** Gives Nest its listeners back and takes ours off. */
  private restore(): void {
    for (const [signal, { listener, nest }] of this.held) {
      process.off(signal, listener);
      for (const held of nest) process.on(signal, held);
    }
    this.held.clear();
  }

  private unlisten(): void {
    for (const [signal, { listener }] of this.held) process.off(signal, listener);
    // Nest took its listeners off itself, or closes without them: it never raises a signal then.
    this.held.clear();
  }
}

/** How long a shutdown signal holds Nest's own shutdown back for the resigns' answers, at most. */
const RESIGN_HOLD_MS = 250;

type SignalListener = (signal: NodeJS.Signals) => void;

/** Nest's shutdown listener (`enableShutdownHooks()`), named `cleanup` in Nest 11 and 12. */
function isNestShutdown(listener: unknown): listener is SignalListener {
  return typeof listener === 'function' && listener.name === 'cleanup';
}
