/**
 * The invariant checker of the fault suite: pure logic over a {@link Timeline} of beliefs.
 *
 * Every candidate process reports each change of its belief ("I lead" / "I don't") stamped with
 * `process.hrtime.bigint()` — CLOCK_MONOTONIC, one clock for every process on the machine. From
 * those records the checker builds each process's leadership intervals and reports:
 *
 * - overlaps: two processes believing they lead at the same instant (target zero, no tolerance);
 * - per fault: the time from the fault to the leader's step-down and to the next election, and
 *   the longest time without any leader until the next fault;
 * - leader-only work (probes) that ran outside the process's own leadership.
 *
 * Beliefs end at a follower record, or when the process ends (killed or exited: a dead process
 * believes nothing), or — for a frozen process (SIGSTOP) — at the latest instant its lease
 * deadline can lie, `frozen at + bound`, where bound is TTL − margin: its last keepalive was sent
 * before the freeze, and `isLeader()` is false past that deadline whatever the process's memory
 * says. A process that resumes still has to step down before it runs leader-only work: a probe
 * after that bound is a violation.
 */

/** What a process believes. */
export type Belief = 'leader' | 'follower';

/** One change of belief of one process. */
export interface BeliefRecord {
  /** Monotonic nanoseconds. */
  t: bigint;
  /** The process (one incarnation of a node), e.g. `n1#2`. */
  proc: string;
  belief: Belief;
  /** Fencing token (create revision of the leader key) when known. */
  token?: string;
  /** Why, as the process said. */
  reason?: string;
}

/** A process ended (killed, exited): from `t` on it believes nothing. */
export interface ProcessEnd {
  proc: string;
  t: bigint;
  how: string;
}

/** A process was frozen (SIGSTOP) at `from` and resumed at `to` (if it was). */
export interface Freeze {
  proc: string;
  from: bigint;
  to?: bigint;
  /** Nanoseconds after `from` past which its lease deadline has certainly passed (TTL − margin). */
  boundNs: bigint;
}

/** Leader-only work observed running in a process at `t`. */
export interface Probe {
  proc: string;
  t: bigint;
}

/** A fault the driver injected at `t`. */
export interface Fault {
  t: bigint;
  /** What was done, e.g. `kill -9 leader`. */
  kind: string;
  /** On what, e.g. `n2#1` or `etcd-1`. */
  target?: string;
  /**
   * The fault removed the target's key from outside (lease revoked, key deleted by someone
   * else). etcd deletes the key first and tells the holder after — through a watch that may be
   * served by another member than the successor's — so the holder and its successor race to
   * hear of the same deletion; no protocol can make the holder step down first (fencing tokens
   * are what protect writes here). Overlaps this causes are reported apart.
   */
  external?: boolean;
  /**
   * With `external`: the key removed may be any holder's, not just the target's — a frozen raft
   * leader member that resumes can revoke live leases in etcd releases without the fix of
   * etcd-io/etcd#15247 (etcd-io/etcd#16822, backported to 3.4 and 3.5; Debian ships 3.4.23),
   * which deletes whoever holds a key under one.
   */
  anyHolder?: boolean;
}

/** Everything the checker reads. */
export interface Timeline {
  /** Start of observation (before any process was started). */
  start: bigint;
  beliefs: BeliefRecord[];
  ends: ProcessEnd[];
  freezes: Freeze[];
  probes: Probe[];
  faults: Fault[];
}

/** A maximal time span during which one process believed it led. */
export interface Interval {
  proc: string;
  from: bigint;
  /** Exclusive end; `undefined` while still leading at the end of observation. */
  to?: bigint;
  token?: string;
  /** What ended it: the follower record's reason, `killed`, `exited`, `frozen`, or `open`. */
  endedBy: string;
}

/** Two processes believing they lead at once. */
export interface Overlap {
  /** The interval that began first. */
  a: Interval;
  b: Interval;
  from: bigint;
  to: bigint;
  ns: bigint;
  /**
   * The outside deletion of `a`'s key this overlap follows from, if it does: `a` ended on
   * hearing of that deletion (key deleted, lease revoked) and `b` began after it was made.
   */
  external?: Fault;
}

/** How a holder hears that its key was removed from outside. */
const EXTERNAL_LOSS = new Set(['key-deleted', 'lease-revoked', 'key-overwritten']);

/** A span with no leader at all. */
export interface Gap {
  from: bigint;
  to: bigint;
  ns: bigint;
}

/** What followed one fault. */
export interface FaultReport {
  index: number;
  fault: Fault;
  /** The process leading when the fault was injected. */
  leader?: string;
  /** From the fault to the end of that leader's belief, if it ended before the next fault. */
  stepDownNs?: bigint;
  /** The first process elected after the fault (and after the step-down). */
  successor?: string;
  /** From the fault to the successor's election. */
  electedNs?: bigint;
  /** From the step-down to the successor's election (the handover). */
  handoverNs?: bigint;
  /** Longest span without a leader between this fault and the next (or the end). */
  longestGapNs: bigint;
  /** Elections and step-downs between this fault and the next. */
  changes: number;
}

/** Leader-only work that ran while its process did not lead. */
export interface ProbeViolation {
  probe: Probe;
  /** Who led at that instant, if anyone. */
  leader?: string;
}

/** The checker's verdict. */
export interface Report {
  start: bigint;
  end: bigint;
  intervals: Interval[];
  overlaps: Overlap[];
  gaps: Gap[];
  faults: FaultReport[];
  probeViolations: ProbeViolation[];
  /** Elections seen (leadership intervals). */
  elections: number;
}

/** An empty timeline starting at `start`. */
export function emptyTimeline(start: bigint): Timeline {
  return { start, beliefs: [], ends: [], freezes: [], probes: [], faults: [] };
}

/** Builds every process's leadership intervals, cut at process ends and freeze bounds. */
export function leadershipIntervals(timeline: Timeline, end: bigint): Interval[] {
  const procs = new Set<string>([
    ...timeline.beliefs.map(b => b.proc),
    ...timeline.ends.map(e => e.proc),
  ]);
  const intervals: Interval[] = [];
  for (const proc of procs) {
    const ends = timeline.ends.filter(e => e.proc === proc).sort(byTime);
    const diedAt = ends[0];
    const beliefs = timeline.beliefs
      .filter(b => b.proc === proc && (!diedAt || b.t < diedAt.t))
      .sort(byTime);
    let open: Interval | undefined;
    for (const record of beliefs) {
      if (record.belief === 'leader' && !open) {
        open = { proc, from: record.t, token: record.token, endedBy: 'open' };
      } else if (record.belief === 'follower' && open) {
        open.to = record.t;
        open.endedBy = record.reason ?? 'follower';
        intervals.push(open);
        open = undefined;
      }
    }
    if (open) {
      if (diedAt) {
        open.to = diedAt.t;
        open.endedBy = diedAt.how;
      }
      intervals.push(open);
    }
  }
  for (const interval of intervals) cutAtFreeze(interval, timeline.freezes, end);
  return intervals.sort((a, b) => cmp(a.from, b.from) || cmp(endOf(a, end), endOf(b, end)));
}

function cutAtFreeze(interval: Interval, freezes: readonly Freeze[], end: bigint): void {
  for (const freeze of freezes) {
    if (freeze.proc !== interval.proc) continue;
    const bound = freeze.from + freeze.boundNs;
    // Only a freeze that outlasted the bound makes the lease deadline pass while frozen.
    const resumed = freeze.to ?? end;
    if (resumed <= bound) continue;
    if (freeze.from < interval.from || bound >= endOf(interval, end)) continue;
    interval.to = bound;
    interval.endedBy = 'frozen';
  }
}

/** Every pair of intervals of different processes that share an instant. */
export function findOverlaps(intervals: readonly Interval[], end: bigint): Overlap[] {
  const sorted = [...intervals].sort((a, b) => cmp(a.from, b.from));
  const overlaps: Overlap[] = [];
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i];
    const aEnd = endOf(a, end);
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j];
      if (b.from >= aEnd) break;
      if (b.proc === a.proc) continue;
      const to = min(aEnd, endOf(b, end));
      if (to > b.from) overlaps.push({ a, b, from: b.from, to, ns: to - b.from });
    }
  }
  return overlaps;
}

/** Spans in [start, end) during which no process led. */
export function findGaps(intervals: readonly Interval[], start: bigint, end: bigint): Gap[] {
  const sorted = [...intervals].sort((a, b) => cmp(a.from, b.from));
  const gaps: Gap[] = [];
  let cursor = start;
  for (const interval of sorted) {
    if (interval.from > cursor) {
      const to = min(interval.from, end);
      if (to > cursor) gaps.push({ from: cursor, to, ns: to - cursor });
    }
    cursor = max(cursor, endOf(interval, end));
    if (cursor >= end) break;
  }
  if (cursor < end) gaps.push({ from: cursor, to: end, ns: end - cursor });
  return gaps;
}

/** Runs every check over `timeline`, observed until `end`. */
export function check(timeline: Timeline, end: bigint): Report {
  const intervals = leadershipIntervals(timeline, end);
  const overlaps = findOverlaps(intervals, end);
  for (const overlap of overlaps) overlap.external = externalCause(overlap, timeline.faults);
  const gaps = findGaps(intervals, timeline.start, end);
  const faults = [...timeline.faults].sort(byTime);
  const reports = faults.map((fault, index) =>
    analyseFault(fault, index, faults[index + 1]?.t ?? end, intervals, gaps, end),
  );
  const byProc = new Map<string, Interval[]>();
  for (const i of intervals) byProc.set(i.proc, [...(byProc.get(i.proc) ?? []), i]);
  const probeViolations: ProbeViolation[] = [];
  for (const probe of timeline.probes) {
    if (covering(byProc.get(probe.proc) ?? [], probe.t, end)) continue;
    const leader = intervals.find(i => i.from <= probe.t && probe.t < endOf(i, end));
    probeViolations.push({ probe, leader: leader?.proc });
  }
  return {
    start: timeline.start,
    end,
    intervals,
    overlaps,
    gaps,
    faults: reports,
    probeViolations,
    elections: intervals.length,
  };
}

/** See {@link Overlap.external}. */
function externalCause(overlap: Overlap, faults: readonly Fault[]): Fault | undefined {
  const { a, b } = overlap;
  if (a.to === undefined || !EXTERNAL_LOSS.has(a.endedBy)) return undefined;
  return faults.find(
    f => f.external && (f.anyHolder || f.target === a.proc) && f.t >= a.from && f.t <= b.from,
  );
}

/** Overlaps not explained by an outside deletion of the leader's key: the library's failures. */
export function ownOverlaps(report: Report): Overlap[] {
  return report.overlaps.filter(o => !o.external);
}

/** The interval of `sorted` (one process's, sorted by start) that contains `t`, by bisection. */
function covering(sorted: readonly Interval[], t: bigint, end: bigint): Interval | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid].from > t) hi = mid - 1;
    else if (t >= endOf(sorted[mid], end)) lo = mid + 1;
    else return sorted[mid];
  }
  return undefined;
}

function analyseFault(
  fault: Fault,
  index: number,
  windowEnd: bigint,
  intervals: readonly Interval[],
  gaps: readonly Gap[],
  end: bigint,
): FaultReport {
  const leading = intervals.find(i => i.from <= fault.t && fault.t < endOf(i, end));
  const report: FaultReport = {
    index: index + 1,
    fault,
    leader: leading?.proc,
    longestGapNs: 0n,
    changes: 0,
  };
  let after = fault.t;
  if (leading?.to !== undefined && leading.to <= windowEnd) {
    report.stepDownNs = leading.to - fault.t;
    after = leading.to;
  }
  // The next leader: normally after the step-down; in an overlap, before it.
  const successor = intervals.find(i => i !== leading && i.from >= fault.t && i.from < windowEnd);
  if (successor) {
    report.successor = successor.proc;
    report.electedNs = successor.from - fault.t;
    if (report.stepDownNs !== undefined) report.handoverNs = successor.from - after;
  }
  for (const i of intervals) {
    if (i.from >= fault.t && i.from < windowEnd) report.changes++;
    if (i.to !== undefined && i.to >= fault.t && i.to < windowEnd) report.changes++;
  }
  for (const gap of gaps) {
    const from = max(gap.from, fault.t);
    const to = min(gap.to, windowEnd);
    if (to > from && to - from > report.longestGapNs) report.longestGapNs = to - from;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------
// formatting
// ---------------------------------------------------------------------------------------------

/** Nanoseconds as milliseconds with one decimal. */
export function ms(ns: bigint | undefined): string {
  if (ns === undefined) return '—';
  return (Number(ns) / 1e6).toFixed(1);
}

/** Seconds since `start`, two decimals. */
function at(t: bigint, start: bigint): string {
  return (Number(t - start) / 1e9).toFixed(2);
}

/** The checker's table: one row per fault, then overlaps, probe violations and a summary. */
export function formatReport(report: Report, title = 'fault checker'): string {
  const header = [
    '#',
    'at s',
    'fault',
    'target',
    'leader',
    'step-down ms',
    'successor',
    'elected ms',
    'handover ms',
    'longest gap ms',
    'changes',
  ];
  const rows = report.faults.map(f => [
    String(f.index),
    at(f.fault.t, report.start),
    f.fault.kind,
    f.fault.target ?? '',
    f.leader ?? '—',
    ms(f.stepDownNs),
    f.successor ?? '—',
    ms(f.electedNs),
    ms(f.handoverNs),
    ms(f.longestGapNs),
    String(f.changes),
  ]);
  const lines = [`== ${title} ==`, ...table(header, rows)];
  const own = ownOverlaps(report).length;
  const external = report.overlaps.length - own;
  lines.push(
    `overlaps: ${own}` +
      (own ? '  <-- TWO LEADERS AT ONCE' : '') +
      (external
        ? ` (plus ${external} right after an outside deletion of the leader's key: the holder and ` +
          `its successor hear of it from etcd at the same time; see Fault.external)`
        : ''),
  );
  for (const o of report.overlaps) {
    lines.push(
      `  ${o.external ? '[outside deletion] ' : ''}${o.a.proc} [${at(o.a.from, report.start)}–${o.a.to === undefined ? 'open' : at(o.a.to, report.start)}, ${o.a.endedBy}] and ` +
        `${o.b.proc} [${at(o.b.from, report.start)}–${o.b.to === undefined ? 'open' : at(o.b.to, report.start)}, ${o.b.endedBy}]: ` +
        `${ms(o.ns)} ms from ${at(o.from, report.start)} s`,
    );
  }
  lines.push(`leader-only work outside leadership: ${report.probeViolations.length}`);
  for (const v of report.probeViolations.slice(0, 10)) {
    lines.push(
      `  probe in ${v.probe.proc} at ${at(v.probe.t, report.start)} s (leader then: ${v.leader ?? 'none'})`,
    );
  }
  const longest = longestGapAfterFirstElection(report);
  lines.push(
    `faults: ${report.faults.length}, elections: ${report.elections}, ` +
      `longest leaderless gap after the first election: ${ms(longest)} ms, ` +
      `observed: ${at(report.end, report.start)} s`,
  );
  return lines.join('\n');
}

/** The longest span without a leader after the first election (start-up excluded). */
export function longestGapAfterFirstElection(report: Report): bigint {
  const first = report.intervals[0]?.from;
  if (first === undefined) return 0n;
  return report.gaps.filter(g => g.from >= first).reduce((m, g) => (g.ns > m ? g.ns : m), 0n);
}

function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map(r => r[c].length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c >= 5 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ');
  return [line(header), line(widths.map(w => '-'.repeat(w))), ...rows.map(line)];
}

// ---------------------------------------------------------------------------------------------
// bigint helpers
// ---------------------------------------------------------------------------------------------

function endOf(interval: Interval, end: bigint): bigint {
  return interval.to ?? end;
}

function byTime(a: { t: bigint }, b: { t: bigint }): number {
  return cmp(a.t, b.t);
}

function cmp(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}

function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}
