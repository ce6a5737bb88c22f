/**
 * Vitest glue for the fault scenarios: labs closed after each test (whatever the outcome), the
 * run's seed, the checker's table printed, and the assertions every scenario shares.
 */
import { afterAll, afterEach, expect } from 'vitest';
import { delay, killAll } from '../support/index.js';
import { ms, ownOverlaps, type Report } from './checker.js';
import { Lab, type LabOptions } from './lab.js';
import { Prng } from './prng.js';

/**
 * The seed of a scenario: `FAULT_SEED` from the environment (to replay a failure), else the
 * scenario's own default. Printed with every table.
 */
export function seedOf(fallback: number): number {
  const fromEnv = process.env.FAULT_SEED;
  return fromEnv === undefined ? fallback : Number(fromEnv);
}

/** Starts labs for the tests of one file and closes them after each test. */
export function useLabs(): (options: LabOptions) => Promise<Lab> {
  const labs: Lab[] = [];
  afterEach(async () => {
    await Promise.allSettled(labs.splice(0).map(lab => lab.close()));
  });
  afterAll(killAll);
  return async options => {
    const lab = await Lab.start(options);
    labs.push(lab);
    return lab;
  };
}

/** A seeded PRNG and a sleep of a seeded length, for "when" decisions of a scenario. */
export function seeded(seed: number) {
  const prng = new Prng(seed);
  return {
    prng,
    /** Lets the system run for a seeded time in [min, max] ms before the next step (pacing only). */
    settle: (min: number, max: number) => delay(prng.int(min, max)),
  };
}

/**
 * Prints the checker's table, then asserts the safety properties every scenario shares: no two
 * leaders at once (overlaps right after an outside deletion of the leader's key are the caller's
 * to judge, see `Fault.external`), and no leader-only work outside leadership.
 */
export function expectSafe(lab: Lab, title: string): Report {
  const report = lab.report();
  console.info(lab.table(title, report));
  expect(ownOverlaps(report).map(o => `${o.a.proc} & ${o.b.proc}: ${ms(o.ns)} ms`)).toEqual([]);
  expect(report.probeViolations.map(v => `${v.probe.proc} at ${v.probe.t}`)).toEqual([]);
  return report;
}

/** Nanoseconds → milliseconds, for assertions. */
export const toMs = (ns: bigint | undefined): number => (ns === undefined ? NaN : Number(ns) / 1e6);
