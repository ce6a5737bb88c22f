/**
 * The soak's short, seeded form for CI: random faults from the whole list on a 3-member cluster
 * with two of our candidates (behind proxies) and one Go candidate. `npm run soak` runs the
 * long form.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { killAll } from '../support/index.js';
import { seedOf } from './fixtures.js';
import { runSoak } from './soak.js';

afterAll(killAll);

describe('soak (short, seeded)', () => {
  it(
    'random faults for 35 s: never two leaders, no leader-only work outside leadership, always recovers',
    { timeout: 120_000 },
    async () => {
      const seed = seedOf(11);
      const lines: string[] = [];
      const result = await runSoak({
        seconds: 35,
        seed,
        members: 3,
        ours: 2,
        go: 1,
        log: line => lines.push(line),
      });
      console.info(lines.join('\n'));
      expect(result.faults).toBeGreaterThanOrEqual(4);
      expect(result.overlaps).toBe(0);
      expect(result.probeViolations).toBe(0);
      expect(result.stuck).toEqual([]);
    },
  );
});
