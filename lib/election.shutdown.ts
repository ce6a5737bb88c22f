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
 * listens for shutdown signals (`enableShutdownHooks()` before `listen()` / `init()`), this puts
 * a listener in front of Nest's that starts every election's `stop()` (step down, drain leader
 * work, resign, revoke) and holds Nest's own listener back for one turn of the event loop: its
 * hooks run as microtasks, which would otherwise interleave with the resign's. Nest's sequence
 * then runs as before, and each election's `onModuleDestroy` awaits the same `stop()`.
 */
@Injectable()
export class ElectionShutdown implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly listeners = new Map<NodeJS.Signals, () => void>();
  private handling = false;

  constructor(private readonly registry: ElectionRegistry) {}

  /** Nest lifecycle hook: listens ahead of Nest on the signals Nest shuts down on. */
  onApplicationBootstrap(): void {
    for (const signal of nestShutdownSignals()) {
      if (this.listeners.has(signal)) continue;
      const listener = () => this.onSignal(signal);
      this.listeners.set(signal, listener);
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
    const nest = process.listeners(signal).filter(isNestShutdown);
    for (const listener of nest) process.off(signal, listener);
    for (const election of this.registry.getAll()) void election.stop().catch(() => undefined);
    // The resign is on its way once the microtasks above have run; now Nest's turn. This
    // listener goes first: Nest raises the signal again to end the process, once shut down.
    setImmediate(() => {
      this.unlisten();
      for (const listener of nest) {
        process.on(signal, listener);
        listener(signal);
      }
    });
  }

  private unlisten(): void {
    for (const [signal, listener] of this.listeners) process.off(signal, listener);
    this.listeners.clear();
  }
}

type SignalListener = (signal: NodeJS.Signals) => void;

/** Nest's shutdown listener (`enableShutdownHooks()`), named `cleanup` in Nest 11 and 12. */
function isNestShutdown(listener: unknown): listener is SignalListener {
  return typeof listener === 'function' && listener.name === 'cleanup';
}

/** The signals on which a Nest application of this process shuts down. */
function nestShutdownSignals(): NodeJS.Signals[] {
  return (Object.values(ShutdownSignal) as NodeJS.Signals[]).filter(signal =>
    process.listeners(signal).some(isNestShutdown),
  );
}
