import { describe, expect, it } from 'vitest';
import {
  check,
  emptyTimeline,
  findGaps,
  findOverlaps,
  formatReport,
  leadershipIntervals,
  longestGapAfterFirstElection,
  ownOverlaps,
  type Interval,
  type Timeline,
} from './checker.js';

/** Milliseconds → the checker's nanoseconds. */
const t = (ms: number) => BigInt(Math.round(ms * 1e6));

/** A timeline built from `[proc, ms, belief]` triples. */
function timeline(beliefs: Array<[string, number, 'leader' | 'follower', string?]>): Timeline {
  const tl = emptyTimeline(0n);
  for (const [proc, ms, belief, reason] of beliefs) {
    tl.beliefs.push({ proc, t: t(ms), belief, reason });
  }
  return tl;
}

const interval = (proc: string, from: number, to?: number): Interval => ({
  proc,
  from: t(from),
  to: to === undefined ? undefined : t(to),
  endedBy: 'test',
});

describe('leadership intervals', () => {
  it('pairs each leader record with the next follower record of the same process', () => {
    const tl = timeline([
      ['a', 0, 'follower'],
      ['a', 10, 'leader'],
      ['b', 12, 'follower'],
      ['a', 20, 'leader'], // still leading: no new interval
      ['a', 30, 'follower', 'resigned'],
      ['b', 31, 'leader'],
      ['a', 40, 'leader'],
    ]);
    const intervals = leadershipIntervals(tl, t(100));
    expect(
      intervals.map(i => [i.proc, Number(i.from) / 1e6, i.to && Number(i.to) / 1e6, i.endedBy]),
    ).toEqual([
      ['a', 10, 30, 'resigned'],
      ['b', 31, undefined, 'open'],
      ['a', 40, undefined, 'open'],
    ]);
  });

  it('ends a belief when the process dies and ignores records after its death', () => {
    const tl = timeline([
      ['a', 10, 'leader'],
      ['a', 60, 'follower'], // a record stamped after the kill cannot be
    ]);
    tl.ends.push({ proc: 'a', t: t(50), how: 'killed' });
    const [a] = leadershipIntervals(tl, t(100));
    expect(a).toMatchObject({ from: t(10), to: t(50), endedBy: 'killed' });
  });

  it('cuts a frozen leader at the bound of its lease deadline when the freeze outlasts it', () => {
    const tl = timeline([
      ['a', 10, 'leader'],
      ['a', 5000, 'follower', 'session-expired'], // heard only on resume
      ['b', 20, 'leader'],
      ['b', 30, 'follower'],
    ]);
    tl.freezes.push({ proc: 'a', from: t(1000), to: t(4990), boundNs: t(1000) });
    const intervals = leadershipIntervals(tl, t(6000));
    expect(intervals.find(i => i.proc === 'a')).toMatchObject({ to: t(2000), endedBy: 'frozen' });
  });

  it('leaves a leader alone when it was resumed before the bound', () => {
    const tl = timeline([['a', 10, 'leader']]);
    tl.freezes.push({ proc: 'a', from: t(1000), to: t(1500), boundNs: t(1000) });
    const [a] = leadershipIntervals(tl, t(6000));
    expect(a.to).toBeUndefined();
  });

  it('cuts at the bound a leader still frozen at the end of observation', () => {
    const tl = timeline([['a', 10, 'leader']]);
    tl.freezes.push({ proc: 'a', from: t(1000), boundNs: t(1000) });
    const [a] = leadershipIntervals(tl, t(6000));
    expect(a.to).toBe(t(2000));
  });
});

describe('overlaps', () => {
  it('finds none when one leader ends exactly when the next begins', () => {
    expect(findOverlaps([interval('a', 0, 10), interval('b', 10, 20)], t(100))).toEqual([]);
  });

  it('finds a 1 ns overlap: no tolerance', () => {
    const overlaps = findOverlaps(
      [interval('a', 0, 10), { ...interval('b', 0, 20), from: t(10) - 1n }],
      t(100),
    );
    expect(overlaps).toHaveLength(1);
    expect(overlaps[0].ns).toBe(1n);
  });

  it('finds an open interval overlapping a later one, and every pair of a triple', () => {
    const overlaps = findOverlaps(
      [interval('a', 0), interval('b', 50, 60), interval('c', 55, 70)],
      t(100),
    );
    expect(overlaps.map(o => [o.a.proc, o.b.proc, Number(o.ns) / 1e6])).toEqual([
      ['a', 'b', 10],
      ['a', 'c', 15],
      ['b', 'c', 5],
    ]);
  });

  it('does not count two intervals of the same process', () => {
    expect(findOverlaps([interval('a', 0, 10), interval('a', 5, 20)], t(100))).toEqual([]);
  });

  it('counts two incarnations of one node as two processes', () => {
    expect(findOverlaps([interval('n1#1', 0, 10), interval('n1#2', 5, 20)], t(100))).toHaveLength(
      1,
    );
  });
});

describe('overlaps after an outside deletion', () => {
  it('attributes an overlap to the outside deletion of the earlier leader’s key', () => {
    const tl = timeline([
      ['a', 0, 'leader'],
      ['b', 103, 'leader'],
      ['a', 105, 'follower', 'key-deleted'],
    ]);
    tl.faults.push({ t: t(100), kind: 'delete leader key', target: 'a', external: true });
    const report = check(tl, t(200));
    expect(report.overlaps).toHaveLength(1);
    expect(report.overlaps[0].external?.kind).toBe('delete leader key');
    expect(ownOverlaps(report)).toEqual([]);
    expect(formatReport(report)).toMatch(/overlaps: 0 \(plus 1 right after an outside deletion/);
    expect(report.faults[0]).toMatchObject({ leader: 'a', successor: 'b' });
    expect(Number(report.faults[0].handoverNs) / 1e6).toBe(-2);
  });

  it('does not excuse an overlap whose leader ended for another reason, or was not the target', () => {
    const tl = timeline([
      ['a', 0, 'leader'],
      ['b', 103, 'leader'],
      ['a', 105, 'follower', 'session-expired'],
      ['c', 300, 'leader'],
      ['b', 305, 'follower', 'key-deleted'],
    ]);
    tl.faults.push({ t: t(100), kind: 'delete leader key', target: 'a', external: true });
    tl.faults.push({ t: t(290), kind: 'delete leader key', target: 'a', external: true });
    const report = check(tl, t(400));
    expect(report.overlaps).toHaveLength(2);
    expect(ownOverlaps(report)).toHaveLength(2);
  });
});

describe('gaps', () => {
  it('reports the spans with no leader, including start-up and the end', () => {
    const gaps = findGaps(
      [interval('a', 10, 20), interval('b', 15, 30), interval('c', 50, 60)],
      0n,
      t(100),
    );
    expect(gaps.map(g => [Number(g.from) / 1e6, Number(g.to) / 1e6])).toEqual([
      [0, 10],
      [30, 50],
      [60, 100],
    ]);
  });

  it('reports no gap while an open interval lasts', () => {
    expect(findGaps([interval('a', 0)], 0n, t(100))).toEqual([]);
  });
});

describe('faults', () => {
  it('measures step-down, election, handover and the longest gap per fault', () => {
    const tl = timeline([
      ['a', 100, 'leader'],
      ['a', 1600, 'follower', 'session-expired'],
      ['b', 2100, 'leader'],
      ['b', 5000, 'follower', 'resigned'],
      ['c', 5002, 'leader'],
    ]);
    tl.faults.push({ t: t(1000), kind: 'stall leader link', target: 'a' });
    tl.faults.push({ t: t(4999), kind: 'graceful restart', target: 'b' });
    const report = check(tl, t(6000));
    expect(report.overlaps).toEqual([]);
    const [first, second] = report.faults;
    expect(first).toMatchObject({ leader: 'a', successor: 'b', changes: 2 });
    expect(Number(first.stepDownNs) / 1e6).toBe(600);
    expect(Number(first.electedNs) / 1e6).toBe(1100);
    expect(Number(first.handoverNs) / 1e6).toBe(500);
    expect(Number(first.longestGapNs) / 1e6).toBe(500);
    expect(second).toMatchObject({ leader: 'b', successor: 'c' });
    expect(Number(second.handoverNs) / 1e6).toBe(2);
    expect(Number(longestGapAfterFirstElection(report)) / 1e6).toBe(500);
  });

  it('reports no change after a fault that left the leader alone', () => {
    const tl = timeline([['a', 100, 'leader']]);
    tl.faults.push({ t: t(1000), kind: 'kill raft leader', target: 'etcd-2' });
    const [fault] = check(tl, t(5000)).faults;
    expect(fault).toMatchObject({ leader: 'a', changes: 0, longestGapNs: 0n });
    expect(fault.stepDownNs).toBeUndefined();
    expect(fault.successor).toBeUndefined();
  });

  it('finds the successor even when the fault struck while nobody led', () => {
    const tl = timeline([
      ['a', 100, 'leader'],
      ['a', 200, 'follower'],
      ['b', 3000, 'leader'],
    ]);
    tl.faults.push({ t: t(1000), kind: 'stop etcd' });
    const [fault] = check(tl, t(5000)).faults;
    expect(fault.leader).toBeUndefined();
    expect(fault).toMatchObject({ successor: 'b', longestGapNs: t(2000) });
  });
});

describe('leader-only work', () => {
  it('flags a probe that ran outside its process’s leadership, naming who led', () => {
    const tl = timeline([
      ['a', 0, 'leader'],
      ['a', 100, 'follower'],
      ['b', 150, 'leader'],
    ]);
    tl.probes.push({ proc: 'a', t: t(50) }, { proc: 'a', t: t(160) });
    const report = check(tl, t(200));
    expect(report.probeViolations).toEqual([{ probe: { proc: 'a', t: t(160) }, leader: 'b' }]);
  });

  it('flags a probe run on resume from a freeze past the lease deadline, before stepping down', () => {
    const tl = timeline([
      ['a', 0, 'leader'],
      ['a', 4002, 'follower', 'session-expired'],
      ['b', 2500, 'leader'],
    ]);
    tl.freezes.push({ proc: 'a', from: t(500), to: t(4000), boundNs: t(1000) });
    tl.probes.push({ proc: 'a', t: t(400) }, { proc: 'a', t: t(4001) });
    const report = check(tl, t(5000));
    expect(report.overlaps).toEqual([]);
    expect(report.probeViolations.map(v => Number(v.probe.t) / 1e6)).toEqual([4001]);
  });
});

describe('the table', () => {
  it('prints one row per fault and the overlaps', () => {
    const tl = timeline([
      ['a', 0, 'leader'],
      ['b', 500, 'leader'],
    ]);
    tl.faults.push({ t: t(400), kind: 'stall leader link', target: 'a' });
    const text = formatReport(check(tl, t(1000)), 'unit');
    expect(text).toContain('stall leader link');
    expect(text).toMatch(/overlaps: 1 {2}<-- TWO LEADERS AT ONCE/);
    expect(text).toContain('a [0.00–open, open] and b [0.50–open, open]: 500.0 ms');
  });
});
