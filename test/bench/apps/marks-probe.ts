/**
 * Preloaded into a bench contender (`node --import marks-probe.js main.js`): turns the library's
 * handover marks on, marks each shutdown signal as it reaches JavaScript (`signal`), and when the
 * process exits writes one line
 *
 *   MARKS {"marks":[[name, ms], …]}
 *
 * with every mark of the process (without the `nestjs-etcd-election:` prefix), its time in
 * milliseconds of `process.hrtime` (CLOCK_MONOTONIC, the same clock in every process of the
 * machine), so that the runner can line the marks of two processes up with its own readings.
 * Nothing is printed before the exit, so the timed path is untouched.
 */
import { performance } from 'node:perf_hooks';

const PREFIX = 'nestjs-etcd-election:';
process.env.NESTJS_ETCD_ELECTION_MARKS = '1';

let dumped = false;
function dump(): void {
  if (dumped) return;
  dumped = true;
  // performance.now() counts from the process's start on the hrtime clock: one offset maps both.
  const offset = Number(process.hrtime.bigint()) / 1e6 - performance.now();
  const marks = performance
    .getEntriesByType('mark')
    .filter(entry => entry.name.startsWith(PREFIX))
    .map(entry => [entry.name.slice(PREFIX.length), +(entry.startTime + offset).toFixed(4)]);
  // Synchronous on a pipe: the line is out before the process ends.
  process.stdout.write(`MARKS ${JSON.stringify({ marks })}\n`);
}

function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) {
    performance.mark(`${PREFIX}signal`);
    return;
  }
  // Only this probe still listens: the app has finished its shutdown and raised the signal
  // again to end the process (Nest does). Let it.
  process.off(signal, onSignal);
  dump();
  process.kill(process.pid, signal);
}

const SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGUSR1'];
for (const signal of SIGNALS) process.prependListener(signal, onSignal);
// Stay first when the app prepends a listener of its own (the library does), so that `signal`
// marks the signal's arrival, not what ran before the probe.
let moving = false;
process.on('newListener', (event: string | symbol) => {
  if (moving || typeof event !== 'string' || !SIGNALS.includes(event as NodeJS.Signals)) return;
  queueMicrotask(() => {
    if (process.listeners(event as NodeJS.Signals)[0] === onSignal) return;
    moving = true;
    process.off(event as NodeJS.Signals, onSignal);
    process.prependListener(event as NodeJS.Signals, onSignal);
    moving = false;
  });
});
process.on('exit', dump);
