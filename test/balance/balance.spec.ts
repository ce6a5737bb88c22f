/**
 * Issue 12: leadership spread across replicas. Real etcd, replicas as child processes
 * (`test/apps/balance-candidate.ts`, 12 balanced elections each), every belief of every election
 * fed to the fault suite's checker: zero overlaps throughout.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { check, ms, ownOverlaps } from '../faults/checker.js';
import { REPO_ROOT } from '../faults/apps.js';
import { now, Recorder } from '../faults/nodes.js';
import {
  delay,
  killAll,
  spawnTracked,
  startEtcd,
  waitFor,
  type EtcdCluster,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';

const APP = join(REPO_ROOT, '.build/test/apps/balance-candidate.js');
const E = 12;
const TTL = 3;

interface Line {
  t: string;
  node: string;
  election?: string;
  belief?: 'leader' | 'follower';
  token?: string | null;
  reason?: string;
  event?: string;
}

/** Every election's recorder, and who believes they lead what. */
class Spread {
  readonly recorders = new Map<string, Recorder>();
  readonly leading = new Map<string, Set<string>>();
  /** Belief records of every election, in arrival order. */
  readonly beliefs: Array<Line & { proc: string }> = [];

  constructor(readonly elections: string[]) {
    const start = now();
    for (const e of elections) {
      this.recorders.set(e, new Recorder(start));
      this.leading.set(e, new Set());
    }
  }

  onLine(proc: string, line: Line): void {
    if (!line.election || !line.belief) return;
    const recorder = this.recorders.get(line.election);
    if (!recorder) return;
    this.beliefs.push({ ...line, proc });
    recorder.belief(proc, BigInt(line.t), line.belief, line.token ?? undefined, line.reason);
    const set = this.leading.get(line.election)!;
    if (line.belief === 'leader') set.add(proc);
    else set.delete(proc);
  }

  ended(proc: string, t: bigint, how: string): void {
    for (const recorder of this.recorders.values()) {
      recorder.timeline.ends.push({ proc, t, how });
    }
    for (const set of this.leading.values()) set.delete(proc);
  }

  /** How many elections each of `procs` leads, when every election has exactly one leader. */
  counts(procs: string[]): number[] | undefined {
    const counts = new Map(procs.map(p => [p, 0]));
    for (const set of this.leading.values()) {
      if (set.size !== 1) return undefined;
      const [leader] = set;
      if (!counts.has(leader)) return undefined;
      counts.set(leader, counts.get(leader)! + 1);
    }
    return procs.map(p => counts.get(p)!);
  }
}

class Replica {
  process?: TrackedProcess;
  ready = false;
  readyAt?: number;
  constructor(
    readonly name: string,
    private readonly spread: Spread,
  ) {}

  start(cluster: EtcdCluster, prefix: string): void {
    const child = spawnTracked(process.execPath, [APP], {
      label: this.name,
      cwd: REPO_ROOT,
      maxLines: 5000,
      env: {
        ETCD_HOSTS: cluster.endpoints.join(','),
        BALANCE_PREFIX: prefix,
        BALANCE_COUNT: String(E),
        ELECTION_VALUE: this.name,
        ELECTION_TTL: String(TTL),
        NODE_OPTIONS: '--max-old-space-size=128',
      },
    });
    this.process = child;
    child.on('line', (line: OutputLine) => {
      if (line.stream !== 'stdout' || !line.text.startsWith('{')) return;
      const parsed = JSON.parse(line.text) as Line;
      if (parsed.event === 'ready') {
        this.ready = true;
        this.readyAt = Date.now();
      }
      this.spread.onLine(this.name, parsed);
    });
    child.on('exit', () => {
      const info = child.exitInfo!;
      this.spread.ended(this.name, info.at, info.signal ? `exited (${info.signal})` : 'exited');
    });
  }

  async kill(): Promise<void> {
    this.spread.ended(this.name, now(), 'killed');
    await this.process?.kill();
  }

  stderr(): string {
    return (this.process?.lines ?? [])
      .filter(l => l.stream === 'stderr')
      .map(l => l.text)
      .join('\n');
  }
}

let cluster: EtcdCluster | undefined;
const replicas: Replica[] = [];

afterEach(async () => {
  await Promise.allSettled(replicas.splice(0).map(r => r.process?.kill()));
  await cluster?.close();
  cluster = undefined;
});
afterAll(killAll);

describe('balance: true, 12 elections', () => {
  it('spreads 4 / 4 / 4, 3 each with a 4th, 4 each after a kill; no change once settled, never two leaders', async () => {
    expect(existsSync(APP), `${APP} is built by the global setup`).toBe(true);
    cluster = await startEtcd();
    const prefix = `balance-${process.pid}`;
    const elections = Array.from(
      { length: E },
      (_, i) => `${prefix}-${String(i).padStart(2, '0')}`,
    );
    const spread = new Spread(elections);
    const replica = (name: string) => {
      const r = new Replica(name, spread);
      replicas.push(r);
      r.start(cluster!, prefix);
      return r;
    };
    const settled = async (names: string[], timeout: number, message: string) => {
      const share = Math.ceil(E / names.length);
      const from = Date.now();
      const counts = await waitFor(
        () => {
          const c = spread.counts(names);
          return c && c.every(n => n <= share) ? c : undefined;
        },
        { timeout, interval: 50, message: `${message}: each of ${names} leads ${share} at most` },
      );
      return { counts, ms: Date.now() - from, share };
    };

    // Three replicas started together.
    const startedAt = Date.now();
    const [a, b, c] = ['a', 'b', 'c'].map(replica);
    const first = await settled(['a', 'b', 'c'], 10_000, 'three replicas');
    expect(first.counts).toEqual([4, 4, 4]);
    expect([a, b, c].every(r => r.ready)).toBe(true);
    const bootMs = Math.max(...[a, b, c].map(r => r.readyAt! - startedAt));

    // A fourth joins, at the back of every queue.
    let before = spread.beliefs.length;
    const d = replica('d');
    const joined = await settled(['a', 'b', 'c', 'd'], 10_000, 'a fourth replica joined');
    expect(joined.counts).toEqual([3, 3, 3, 3]);
    // Elections that changed hands: the minimum is the 3 the newcomer takes.
    const joinChanges = spread.beliefs.slice(before).filter(l => l.belief === 'leader').length;

    // One is killed: its leases expire after the TTL, the others absorb its elections.
    before = spread.beliefs.length;
    await b.kill();
    const afterKill = await settled(['a', 'c', 'd'], (TTL + 10) * 1000, 'b killed');
    expect(afterKill.counts).toEqual([4, 4, 4]);
    const killChanges = spread.beliefs.slice(before).filter(l => l.belief === 'leader').length;

    // Stable membership: no change of leadership at all for 30 s.
    const quiet = spread.beliefs.length;
    await delay(30_000);
    const late = spread.beliefs.slice(quiet).map(l => `${l.proc} ${l.election} ${l.belief}`);
    expect(late).toEqual([]);

    // Graceful stop of the rest: every election checked for overlaps until here.
    await Promise.all(
      [a, c, d].map(async r => {
        r.process?.signal('SIGTERM');
        await r.process?.exited;
      }),
    );
    const end = now();
    const reports = elections.map(e => check(spread.recorders.get(e)!.timeline, end));
    // Every election had terms to check: at least its first, and most had several.
    expect(reports.every(r => r.intervals.length >= 1)).toBe(true);
    expect(reports.reduce((n, r) => n + r.intervals.length, 0)).toBeGreaterThan(E + 8);
    const overlaps = reports.flatMap((report, i) =>
      ownOverlaps(report).map(o => `${elections[i]}: ${o.a.proc} & ${o.b.proc} for ${ms(o.ns)} ms`),
    );
    console.info(
      `balance: 3 replicas settled ${first.ms} ms after start (all booted after ${bootMs} ms); with a 4th, ${joined.ms} ms ` +
        `(${joinChanges} elections changed hands, minimum 3); after a kill, ${afterKill.ms} ms ` +
        `(${killChanges} changes, TTL ${TTL} s); none in the 30 s after`,
    );
    expect(overlaps).toEqual([]);
    expect(joinChanges).toBeLessThanOrEqual(6);

    // The step-downs tell why, and so do the logs.
    const rebalanced = spread.beliefs.filter(
      l => l.belief === 'follower' && l.reason === 'rebalanced',
    );
    expect(rebalanced.length).toBeGreaterThanOrEqual(8);
    const logs = [a, c, d].map(r => r.stderr()).join('\n');
    expect(logs).toMatch(/resigned to rebalance \(led \d+ of 12 balanced elections, fair share \d/);
    expect(logs).toMatch(/follower \(rebalanced\)/);
  });
});
