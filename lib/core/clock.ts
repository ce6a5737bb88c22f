/**
 * The two clocks a lease deadline is judged by. The monotonic clock is immune to wall-clock
 * steps but stands still while the machine is suspended (CLOCK_MONOTONIC); the wall clock keeps
 * counting through a suspend, as etcd's own clock does. A deadline has passed if EITHER says so.
 */
export interface Clock {
  /** Monotonic milliseconds: comparable within this process, stops during a suspend. */
  monotonic(): number;
  /** Wall-clock milliseconds since the epoch: keeps counting while the machine is suspended. */
  wall(): number;
}

/** The process's real clocks: `process.hrtime` and `Date.now()`. */
export const systemClock: Clock = {
  monotonic: () => Number(process.hrtime.bigint()) / 1e6,
  wall: () => Date.now(),
};

/** One moment, read on both clocks. */
export interface Instant {
  monotonic: number;
  wall: number;
}

/** Reads `clock` now. */
export function instant(clock: Clock): Instant {
  return { monotonic: clock.monotonic(), wall: clock.wall() };
}

/** `at` moved `ms` milliseconds later on both clocks. */
export function later(at: Instant, ms: number): Instant {
  return { monotonic: at.monotonic + ms, wall: at.wall + ms };
}

/** Milliseconds left until `deadline`, by whichever clock leaves less (≤ 0: passed). */
export function remaining(deadline: Instant, clock: Clock): number {
  return Math.min(deadline.monotonic - clock.monotonic(), deadline.wall - clock.wall());
}

/** The largest delay Node's timers hold; a longer one fires after 1 ms instead. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1;

/** `ms` bounded to what a Node timer holds (a timer armed with it may fire early, never late). */
export function timerDelay(ms: number): number {
  return Math.min(MAX_TIMER_DELAY, Math.max(0, Math.ceil(ms)));
}
