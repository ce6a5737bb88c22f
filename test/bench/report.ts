/** Renders a bench run as `docs/benchmarks.md` and two hand-written SVG charts. */
import type { AppIdleResult } from './app-idle.js';
import type { BreakdownResult } from './breakdown.js';
import { renderBreakdown } from './breakdown-report.js';
import type { MemoryStage, StartupCost } from './costs.js';
import { renderMemoryStages, renderStartup } from './costs-report.js';
import type { LatencyResult } from './handover.js';
import type { IdleResult } from './idle.js';
import { type LockHandoverResult, renderLockTable } from './locks.js';
import type { Machine } from './machine.js';
import type { MemoryResult } from './memory.js';
import type { ScalingPoint } from './scaling.js';
import { fmt, ratio } from './stats.js';

/** Everything one run measured. */
export interface BenchResults {
  machine: Machine;
  quick: boolean;
  rounds: number;
  /** What ran as "ours" in the handover and crash rows: the sample app, or the engine stand-in. */
  oursApp: 'sample' | 'core';
  handover: LatencyResult[];
  /** Where one handover's time goes, per kind and process state (absent in older results). */
  breakdown?: BreakdownResult[];
  crash: LatencyResult[];
  /** Why etcdctl's crash failover has no figure, when it has none. */
  crashNote?: string;
  scaling: ScalingPoint[];
  /** Queue lengths etcdctl was skipped at, and why. */
  scalingNote?: string;
  idle: IdleResult[];
  memory: MemoryResult[];
  /** Lock handover, ours and `etcdctl lock`, by queue length (absent in older results). */
  locks?: LockHandoverResult[];
  /** Idle cost of one application with 20 elections and 10 locks (absent in older results). */
  appIdle?: AppIdleResult[];
  /** What the module's memory is made of (absent in older results). */
  memoryStages?: MemoryStage[];
  /** Where one engine process's start-up goes (absent in older results). */
  startup?: StartupCost;
  durationMs: number;
}

/** One row of the targets table. */
export interface TargetCheck {
  target: string;
  measured: string;
  met: boolean | undefined;
}

/** Graceful handover target: p50 at most this many times `etcdctl elect`'s (issue 15). */
export const HANDOVER_FACTOR = 1.5;
/** …and the sample app's p50 at most this many times the engine's alone. */
export const SAMPLE_FACTOR = 1.2;

/** A queue-length curve counts as flat when p50 at the largest N is within this factor of the smallest. */
export const FLAT_FACTOR = 1.5;
/** …or within this many milliseconds (sub-10 ms figures are mostly scheduler noise). */
export const FLAT_SLACK_MS = 5;

const ms = (v: number | undefined) => fmt(v, 1);
const yes = (met: boolean | undefined) => (met === undefined ? 'n/a' : met ? 'yes' : '**no**');

/** Evaluates DESIGN §5's targets against the results. */
export function checkTargets(r: BenchResults): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const ours = r.handover.find(h => h.kind === r.oursApp || h.kind === 'ours');
  const go = r.handover.find(h => h.kind === 'etcdctl');
  if (ours && go) {
    checks.push({
      target: `Graceful handover p50 ≤ ${HANDOVER_FACTOR}× \`etcdctl elect\``,
      measured: `${ms(ours.summary.p50)} ms vs ${ms(go.summary.p50)} ms (${ratio(ours.summary.p50, go.summary.p50)})`,
      met:
        ours.summary.n > 0 && go.summary.n > 0
          ? ours.summary.p50 <= go.summary.p50 * HANDOVER_FACTOR
          : undefined,
    });
  }
  const engine = r.handover.find(h => h.kind === 'core');
  if (ours && engine && ours !== engine) {
    checks.push({
      target: `Sample app’s handover p50 within ${SAMPLE_FACTOR}× of the engine alone`,
      measured: `${ms(ours.summary.p50)} ms vs ${ms(engine.summary.p50)} ms (${ratio(ours.summary.p50, engine.summary.p50)})`,
      met:
        ours.summary.n > 0 && engine.summary.n > 0
          ? ours.summary.p50 <= engine.summary.p50 * SAMPLE_FACTOR
          : undefined,
    });
  }
  const curve = r.scaling.filter(p => p.kind === 'core' && p.summary.n > 0);
  if (curve.length >= 2) {
    const first = curve[0];
    const last = curve[curve.length - 1];
    const flat =
      last.summary.p50 <= first.summary.p50 * FLAT_FACTOR ||
      last.summary.p50 - first.summary.p50 <= FLAT_SLACK_MS;
    const events = curve.map(p => p.waitEventsPerChange);
    const oneEach = events.every(e => e !== undefined && Math.abs(e - 1) < 1e-9);
    checks.push({
      target: `Flat from ${first.n} to ${last.n} candidates (p50 within ${FLAT_FACTOR}× or +${FLAT_SLACK_MS} ms; 1 wait event per change)`,
      measured:
        `p50 ${ms(first.summary.p50)} → ${ms(last.summary.p50)} ms ` +
        `(${ratio(last.summary.p50, first.summary.p50)}); wait events per change ` +
        events.map(e => fmt(e, 2)).join(', '),
      met: flat && oneEach,
    });
  }
  for (const c of r.crash.filter(c => c.kind !== 'etcdctl')) {
    const limit = c.ttl * 1000 + 1000;
    checks.push({
      target: `Crash failover ≤ TTL + 1 s (TTL ${c.ttl} s: ≤ ${limit} ms)`,
      measured: `p50 ${fmt(c.summary.p50, 0)} ms, max ${fmt(c.summary.max, 0)} ms over ${c.summary.n}`,
      met: c.summary.n > 0 ? c.summary.max <= limit : undefined,
    });
  }
  for (const i of r.idle.filter(i => i.kind === 'ours' || i.kind === 'core')) {
    const other = i.total - i.keepalives;
    checks.push({
      target: `Idle traffic = keepalives only (TTL ${i.ttl} s)`,
      measured:
        `${fmt(i.keepalives, 1)} keepalives/min (expected ${fmt(i.expectedKeepalives, 1)}), ` +
        `${fmt(other, 1)} other requests/min, ${fmt(sum(i.streamsStarted), 1)} streams opened/min`,
      met: other === 0 && sum(i.streamsStarted) === 0,
    });
  }
  for (const waiters of [...new Set((r.locks ?? []).map(l => l.waiters))]) {
    const mine = r.locks!.find(l => l.kind === 'ours' && l.waiters === waiters)?.summary;
    const theirs = r.locks!.find(l => l.kind === 'etcdctl' && l.waiters === waiters)?.summary;
    if (!mine || !theirs) continue;
    checks.push({
      target: `Lock handover p50 no slower than \`etcdctl lock\` (${waiters} waiters)`,
      measured: `${ms(mine.p50)} ms vs ${ms(theirs.p50)} ms (${ratio(mine.p50, theirs.p50)})`,
      met: mine.n > 0 && theirs.n > 0 ? mine.p50 <= theirs.p50 : undefined,
    });
  }
  const app = r.appIdle?.find(a => a.variant === 'shared');
  if (app) {
    checks.push({
      target: `One lease for ${app.elections} elections + ${app.locks} locks; idle = keepalives only`,
      measured:
        `${app.leases} lease(s), ${fmt(app.keepalivesPerMinute, 1)} keepalives/min ` +
        `(expected ${fmt(180 / app.ttl, 1)} at TTL ${app.ttl} s), ${fmt(app.unaryPerMinute, 1)} ` +
        `other calls/min, ${fmt(app.streamsPerMinute, 1)} streams opened/min`,
      met: app.leases === 1 && app.unaryPerMinute === 0 && app.streamsPerMinute === 0,
    });
  }
  return checks;
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

/** A markdown table; `align` has one letter per column (`l` or `r`), default `l` then `r`s. */
function table(
  head: string[],
  rows: string[][],
  align = 'l' + 'r'.repeat(head.length - 1),
): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (align[i] === 'r' ? '--:' : '---')).join(' | ')} |`,
    ...rows.map(row => `| ${row.join(' | ')} |`),
  ].join('\n');
}

/** The markdown page. `svg` maps chart ids to the file names written beside it. */
export function renderMarkdown(
  r: BenchResults,
  svg: { handover: string; scaling: string },
): string {
  const m = r.machine;
  const go = r.handover.find(h => h.kind === 'etcdctl');
  const goIdle = r.idle.find(i => i.kind === 'etcdctl');
  const goMem = r.memory.find(x => x.id === 'etcdctl');
  const bareMem = r.memory.find(x => x.id === 'bare');
  const out: string[] = [];
  out.push(
    '# Benchmarks',
    '',
    `Generated by \`npm run bench\`${r.quick ? ' in `--quick` mode (few rounds: not for conclusions)' : ''} ` +
      `on ${m.date.slice(0, 10)}; do not edit by hand. Every figure is measured beside \`etcdctl elect\` ` +
      '(Go’s `concurrency.Election`) in the same run, against one etcd started for the run, and ' +
      'compared as a ratio, because absolute figures move with the machine’s load.',
    '',
    '## Machine',
    '',
    table(
      ['What', 'Value'],
      [
        ['CPU', `${m.cpu}, ${m.cores} cores`],
        ['Memory', `${m.memoryGiB} GiB`],
        ['Kernel', `Linux ${m.kernel}`],
        ['Node.js', m.node],
        ['etcd / etcdctl', `${m.etcd} / ${m.etcdctl} (single member, loopback, heartbeat 50 ms)`],
        ['npm etcd3', m.etcd3],
        [
          'Load average (1 min)',
          `${m.loadStart.toFixed(2)} at start, ${m.loadEnd?.toFixed(2) ?? '?'} at end (shared machine)`,
        ],
        ['Run time', `${Math.round(r.durationMs / 1000)} s`],
      ],
      'll',
    ),
    '',
    '## Targets (DESIGN §5)',
    '',
    table(
      ['Target', 'Measured', 'Met'],
      checkTargets(r).map(c => [c.target, c.measured, yes(c.met)]),
      'lll',
    ),
    '',
    ...(checkTargets(r).some(c => c.met === false)
      ? [
          'A target missed is explained in its section below (for the handover: “Where the ' +
            'time goes”).',
          '',
        ]
      : []),
    '## Graceful handover',
    '',
    `The leader gets its shutdown signal (SIGTERM; SIGINT for \`etcdctl elect\`); the time runs from ` +
      'sending the signal to the moment this runner receives the successor’s first line saying it ' +
      'leads. Two candidates of one kind per election; the signalled one is replaced after each ' +
      'round. Kinds are interleaved round by round so that load from elsewhere falls on all alike.',
    '',
    table(
      ['Implementation', 'rounds', 'p50 ms', 'p90 ms', 'max ms', 'p50 vs etcdctl'],
      r.handover.map(h => [
        h.label + (h.failures.length ? ` (${h.failures.length} failed)` : ''),
        String(h.summary.n),
        ms(h.summary.p50),
        ms(h.summary.p90),
        ms(h.summary.max),
        ratio(h.summary.p50, go?.summary.p50),
      ]),
    ),
    '',
    `![Graceful handover latency, every round](${svg.handover})`,
    '',
    ...whereTheTimeGoes(r),
    ...renderBreakdown(r.breakdown, r.handover),
    '## Crash failover',
    '',
    'The leader gets SIGKILL at a random point of its keepalive cycle; the time runs until the ' +
      'successor’s first line saying it leads. Nothing resigns: etcd must expire the dead ' +
      'leader’s lease first, which happens between TTL × 2/3 and TTL after the kill (keepalives ' +
      'go out every TTL/3), plus up to 0.5 s for etcd’s expiry sweep.',
    '',
    table(
      [
        'Implementation',
        'TTL s',
        'rounds',
        'p50 ms',
        'p90 ms',
        'max ms',
        'p50 / TTL',
        'max vs TTL + 1 s',
      ],
      r.crash.map(c => [
        c.label + (c.failures.length ? ` (${c.failures.length} failed)` : ''),
        String(c.ttl),
        String(c.summary.n),
        fmt(c.summary.p50, 0),
        fmt(c.summary.p90, 0),
        fmt(c.summary.max, 0),
        ratio(c.summary.p50, c.ttl * 1000),
        ratio(c.summary.max, c.ttl * 1000 + 1000),
      ]),
    ),
    '',
  );
  if (r.crashNote) out.push(r.crashNote, '');
  out.push(
    '## Scaling with the number of candidates',
    '',
    `Ours: engine candidates (\`lib/core\`), ${'ten'} per process on one etcd client each, ` +
      'observe loop off. Each round the leader’s process stops its leading candidate (resign + ' +
      'revoke, as on shutdown) and starts a fresh one at the back of the queue. `etcdctl elect`: ' +
      'one process per candidate; the leader gets SIGINT and a new process joins at the back. ' +
      '“Wait events” are the watch events delivered to waiting candidates, summed over all of ' +
      'them (`Candidate.stats.waitWatchEvents`); “etcd events” are all watch events etcd sent, ' +
      'from its `etcd_debugging_mvcc_events_total` counter; above 1 for ours, the extra events ' +
      'go to the old leader’s watch on its own key (it watches it while leading, to notice a ' +
      'deletion), which is still being torn down when its resign lands — no waiter gets them. ' +
      'The processes here live through ' +
      'all rounds, so their code is warmer than in the two-process handover above: compare ' +
      'across N and with etcdctl, not with that table.',
    '',
    table(
      [
        'N',
        'ours p50 ms',
        'ours p90 ms',
        'ours max ms',
        'wait events / change',
        'wake-ups / change',
        'etcd events / change',
        'etcdctl p50 ms',
        'etcdctl p90 ms',
        'etcdctl etcd events / change',
        'ours vs etcdctl p50',
      ],
      [...new Set(r.scaling.map(p => p.n))].map(n => {
        const o = r.scaling.find(p => p.n === n && p.kind === 'core');
        const g = r.scaling.find(p => p.n === n && p.kind === 'etcdctl');
        return [
          String(n),
          ms(o?.summary.p50),
          ms(o?.summary.p90),
          ms(o?.summary.max),
          fmt(o?.waitEventsPerChange, 2),
          fmt(o?.wakeupsPerChange, 2),
          fmt(o?.serverEventsPerChange, 2),
          ms(g?.summary.p50),
          ms(g?.summary.p90),
          fmt(g?.serverEventsPerChange, 2),
          ratio(o?.summary.p50, g?.summary.p50),
        ];
      }),
    ),
    '',
    `Rounds per N: ${r.scaling.find(p => p.kind === 'core')?.summary.n ?? 0}. ` +
      'Start-up (all N queued and one leading): ' +
      r.scaling
        .map(
          p => `${p.kind === 'core' ? 'ours' : 'etcdctl'} ${p.n}: ${fmt(p.startupMs / 1000, 1)} s`,
        )
        .join(', ') +
      '.',
    '',
  );
  out.push(...renderStartup(r.startup, r.scaling, r.machine.cores));
  if (r.scalingNote) out.push(r.scalingNote, '');
  out.push(`![Handover p50 and p90 by number of candidates](${svg.scaling})`, '');
  out.push(
    '## Idle cost',
    '',
    'Candidates queued and left alone; etcd’s gRPC counters (`grpc_server_handled_total` for ' +
      'unary calls, `grpc_server_msg_received_total` for stream messages, ' +
      '`grpc_server_started_total` for streams opened) are read before and after a quiet window. ' +
      'Figures are per candidate per minute. Keepalives go out every TTL/3, i.e. 180 / TTL per ' +
      'minute: compare at equal TTL (etcdctl’s is fixed at 60 s). HTTP/2 keepalive pings ' +
      '(every 10 s per connection for ours, 2 s for etcdctl) are transport frames, not etcd ' +
      'requests, and are not counted.',
    '',
    table(
      [
        'Implementation',
        'TTL s',
        'candidates',
        'window s',
        'requests /min',
        'LeaseKeepAlive /min',
        'expected /min',
        'other calls /min',
        'streams opened /min',
        'requests vs etcdctl',
      ],
      r.idle.map(i => [
        i.label,
        String(i.ttl),
        String(i.candidates),
        fmt(i.windowMs / 1000, 0),
        fmt(i.total, 2),
        fmt(i.keepalives, 2),
        fmt(i.expectedKeepalives, 2),
        describeOther(i),
        fmt(sum(i.streamsStarted), 2),
        ratio(i.total, goIdle?.total),
      ]),
    ),
    '',
    ...renderLockSections(r),
    '## Memory',
    '',
    'Resident set size (VmRSS) after boot (leading, or listening) and a short settle; median ' +
      'of several boots (the range moves with when V8 last collected garbage). “Module cost” ' +
      'is the sample app minus the same app without `ElectionModule`.',
    '',
    table(
      ['Process', 'RSS MiB', 'boots', 'range MiB', 'vs bare Nest app', 'vs etcdctl elect'],
      r.memory.map(x => [
        x.label,
        fmt(x.rssMb, 1),
        String(x.samples.length),
        `${fmt(Math.min(...x.samples), 1)}–${fmt(Math.max(...x.samples), 1)}`,
        x.id === 'bare' ? '—' : ratio(x.rssMb, bareMem?.rssMb),
        x.id === 'etcdctl' ? '—' : ratio(x.rssMb, goMem?.rssMb),
      ]),
    ),
    '',
  );
  const sample = r.memory.find(x => x.id === 'sample');
  if (sample && bareMem) {
    out.push(
      `Module cost: ${fmt(sample.rssMb - bareMem.rssMb, 1)} MiB ` +
        `(${ratio(sample.rssMb - bareMem.rssMb, goMem?.rssMb)} of an \`etcdctl elect\` process).`,
      '',
    );
  }
  out.push(...renderMemoryStages(r.memoryStages));
  out.push(
    '## How to read and rerun',
    '',
    '- `npm run bench` (about ten minutes) rewrites this page and its charts; `--rounds N` sets ' +
      'the graceful rounds (default 30; crash failover runs N/3 per TTL, scaling 2N/3 per ' +
      'queue length), `--quick` is the CI smoke mode (writes to a temp file unless `--out` is ' +
      'given). Before each timed round the runner waits until every candidate process is idle ' +
      '(no replacement still booting) and then a random 0.2–0.4 s.',
    '- Times are taken in the runner with `process.hrtime` when a line arrives through the ' +
      'child’s stdout pipe, identically for every implementation; they include the child’s ' +
      'signal handling, its etcd round trips and its logging.',
    '- p50/p90 are nearest-rank percentiles. Failed rounds are listed, never counted.',
    '- Two more pages, each from its own command: [benchmarks-cluster.md](benchmarks-cluster.md) ' +
      '(`npm run bench:cluster`: one sick member of a 3-member cluster, the time without a leader ' +
      'beside TTL + 1 s) and [benchmarks-balance.md](benchmarks-balance.md) (`npm run ' +
      'bench:balance`: balanced elections, E = 12 and 48 over R = 3 and 6, time to settle and ' +
      'leadership changes).',
    '- `--only breakdown` runs the handover breakdown alone (a few minutes), e.g. to measure a ' +
      'change to the handover path; `--render results.json` rewrites the page from `--json` ' +
      'output without measuring.',
    `- Ours in the handover and crash rows is ${r.oursApp === 'sample' ? 'the sample app `sample/01-scheduler` as users run it (Nest, Logger, HTTP, `enableShutdownHooks()`)' : 'the engine stand-in `test/bench/apps/core-candidates.ts` (the sample app was not built)'}; ` +
      '“engine only” is `lib/core` in a bare Node process, to show what Nest adds.',
    '',
  );
  return out.join('\n');
}

/** The lock handover table and the idle cost of one application, when measured. */
function renderLockSections(r: BenchResults): string[] {
  const out: string[] = [];
  if (r.locks?.length) {
    out.push(
      '## Lock handover',
      '',
      'N waiters queue on one lock behind a holder; the holder lets go and a sample is the time ' +
        'until the next one holds it. Ours: `N + 1` replicas in the runner, each with its own ' +
        'client and session, from `release()` to the successor’s `acquire()` resolving. ' +
        '`etcdctl lock` (Go’s `concurrency.Mutex`): `N + 1` processes, from the SIGINT on which ' +
        'etcdctl unlocks to the successor’s key line on its stdout. Ratios are ours ÷ etcdctl.',
      '',
      renderLockTable(r.locks),
      '',
    );
  }
  if (r.appIdle?.length) {
    const shared = r.appIdle.find(a => a.variant === 'shared');
    out.push(
      '## Idle cost of one application',
      '',
      'One process with 20 elections and 10 held locks, left alone; etcd’s gRPC counters read ' +
        'before and after a quiet window, for the whole application per minute. Ours is the Nest ' +
        'application (21 `ElectionModule.forRoot` registrations on equal `etcd` options: one ' +
        'shared session); beside it, the same workload with one session per election, as ' +
        'every election had before sessions were shared.',
      '',
      table(
        [
          'Application',
          'TTL s',
          'leases',
          'window s',
          'requests /min',
          'LeaseKeepAlive /min',
          'other calls /min',
          'streams opened /min',
          'requests vs shared',
        ],
        r.appIdle.map(a => [
          a.label,
          String(a.ttl),
          String(a.leases),
          fmt(a.windowMs / 1000, 0),
          fmt(a.requestsPerMinute, 1),
          fmt(a.keepalivesPerMinute, 1),
          fmt(a.unaryPerMinute, 1),
          fmt(a.streamsPerMinute, 1),
          ratio(a.requestsPerMinute, shared?.requestsPerMinute),
        ]),
      ),
      '',
    );
  }
  return out;
}

/** The handover figures read against each other: runtime and transport versus election code. */
function whereTheTimeGoes(r: BenchResults): string[] {
  const p50 = (kind: string) =>
    r.handover.find(h => h.kind === kind && h.summary.n > 0)?.summary.p50;
  const go = p50('etcdctl');
  const floor = p50('floor');
  const ours = p50('ours') ?? p50('core');
  const core = p50('core');
  const etcd3 = p50('etcd3');
  if (go === undefined || floor === undefined || ours === undefined) return [];
  return [
    '**Where the time goes.** `etcdctl elect` runs the whole recipe — its resign, the ' +
      'waiter’s re-read, etcdctl’s own read of the new leader’s key, three round trips — in ' +
      `${ms(go)} ms. The Node.js floor, one process deleting a key and another printing a line ` +
      `on the watch event, with no election logic at all, takes ${ms(floor)} ms ` +
      `(${ratio(floor, go)} etcdctl’s): that share of every Node.js handover sits in the ` +
      'runtime and the gRPC stack (signal delivery, grpc-js calls and protobufjs codecs that run ' +
      'for the first time in a process a few seconds old), not in election code. ' +
      versusFloor(ours, core, floor) +
      ': on the leader, stepping down (the term’s signal aborts, subscribers hear of it) ' +
      'before the resign may go out; on the successor, one read — the predecessor check and ' +
      'the post-wait ownership check in one transaction — which the floor skips and a safe ' +
      'election cannot, while its observe loop handles the same deletion. The next section ' +
      'times each phase.' +
      (etcd3 !== undefined
        ? ` The npm \`etcd3\` election, also Node.js, takes ${ms(etcd3)} ms.`
        : ''),
    '',
  ];
}

/** Ours and the engine against the floor, which has no warm-up and may be the slower. */
function versusFloor(ours: number, core: number | undefined, floor: number): string {
  const against = (x: number) =>
    x >= floor ? `${ms(x - floor)} ms more than the floor` : `${ms(floor - x)} ms less`;
  return (
    `Ours takes ${against(ours)} (${ratio(ours, floor)})` +
    (core !== undefined ? `, the engine alone ${against(core)}` : '') +
    (Math.min(ours, core ?? ours) < floor
      ? ' (the floor warms nothing up at start-up; the library does, see the warm-up column ' +
        'below), for the work the floor skips'
      : ', for the work the floor skips')
  );
}

function describeOther(i: IdleResult): string {
  const parts = Object.entries(i.unary)
    .filter(([, v]) => v !== 0)
    .map(([k, v]) => `${k} ${fmt(v, 2)}`);
  for (const [k, v] of Object.entries(i.streamMessages)) {
    if (k !== 'LeaseKeepAlive' && v !== 0) parts.push(`${k} msgs ${fmt(v, 2)}`);
  }
  return parts.length ? parts.join(', ') : '0';
}

// ---------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------

const COLORS: Record<string, string> = {
  ours: '#d9480f',
  core: '#f08c00',
  etcdctl: '#1971c2',
  etcd3: '#6741d9',
};

/** Row labels of the charts, shorter than the tables'. */
const SHORT: Record<string, string> = {
  ours: 'ours: sample app (Nest)',
  core: 'ours: engine only (lib/core)',
  etcdctl: 'etcdctl elect (Go)',
  etcd3: 'npm etcd3 election()',
  floor: 'Node.js floor (reference)',
};

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A round axis step (1, 2 or 5 × 10^k) giving about `ticks` ticks up to `max`. */
export function niceStep(max: number, ticks = 6): number {
  const raw = Math.max(max, 1e-9) / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / pow;
  return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * pow;
}

function svgDoc(width: number, height: number, body: string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * Strip chart of every graceful-handover round: one row per implementation, a dot per round,
 * a bold tick at p50 and a thin one at p90.
 */
export function renderHandoverSvg(r: BenchResults): string {
  const rows = r.handover.filter(h => h.samples.length > 0);
  const left = 230;
  const right = 30;
  const top = 48;
  const rowH = 54;
  const width = 900;
  const plotW = width - left - right;
  const height = top + rows.length * rowH + 56;
  const maxV = Math.max(1, ...rows.map(h => h.summary.max));
  const step = niceStep(maxV);
  const axisMax = Math.ceil(maxV / step) * step;
  const x = (v: number) => left + (v / axisMax) * plotW;
  const body: string[] = [
    `<text x="${left}" y="22" font-size="15" font-weight="600">Graceful handover: signal to successor's first "I lead" line (ms)</text>`,
    `<text x="${left}" y="38" fill="#555">each dot is one round; bold tick p50, thin tick p90${r.quick ? ' (quick run)' : ''}</text>`,
  ];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    const px = x(v).toFixed(1);
    body.push(
      `<line x1="${px}" y1="${top - 4}" x2="${px}" y2="${top + rows.length * rowH}" stroke="#e9ecef"/>`,
      `<text x="${px}" y="${top + rows.length * rowH + 16}" text-anchor="middle" fill="#555">${+v.toFixed(6)}</text>`,
    );
  }
  body.push(
    `<text x="${left + plotW / 2}" y="${top + rows.length * rowH + 36}" text-anchor="middle" fill="#333">milliseconds</text>`,
  );
  rows.forEach((h, i) => {
    const cy = top + i * rowH + rowH / 2;
    const color = COLORS[h.kind] ?? '#333';
    body.push(
      `<text x="${left - 10}" y="${cy - 4}" text-anchor="end" font-weight="600">${esc(SHORT[h.kind] ?? h.label)}</text>`,
      `<text x="${left - 10}" y="${cy + 12}" text-anchor="end" fill="#555">p50 ${ms(h.summary.p50)} · p90 ${ms(h.summary.p90)} · max ${ms(h.summary.max)}</text>`,
    );
    h.samples.forEach((v, j) => {
      const jitter = ((j * 7919) % 17) - 8;
      body.push(
        `<circle cx="${x(v).toFixed(1)}" cy="${(cy + jitter).toFixed(1)}" r="3.2" fill="${color}" fill-opacity="0.45"/>`,
      );
    });
    const tick = (v: number, w: number) =>
      `<line x1="${x(v).toFixed(1)}" y1="${cy - 16}" x2="${x(v).toFixed(1)}" y2="${cy + 16}" stroke="#212529" stroke-width="${w}"/>`;
    body.push(tick(h.summary.p50, 3), tick(h.summary.p90, 1));
  });
  return svgDoc(width, height, body);
}

/** p50 (line) and p50–p90 (whisker) of handover latency against the number of candidates. */
export function renderScalingSvg(r: BenchResults): string {
  const sizes = [...new Set(r.scaling.map(p => p.n))].sort((a, b) => a - b);
  const series = (['core', 'etcdctl'] as const)
    .map(kind => ({
      kind,
      label: SHORT[kind],
      points: r.scaling.filter(p => p.kind === kind && p.summary.n > 0),
    }))
    .filter(s => s.points.length > 0);
  const width = 790;
  const height = 380;
  const left = 70;
  const right = 230;
  const top = 50;
  const bottom = 60;
  const inset = 30;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const maxV = Math.max(1, ...series.flatMap(s => s.points.map(p => p.summary.p90)));
  const step = niceStep(maxV, 5);
  const axisMax = Math.ceil(maxV / step) * step;
  const x = (n: number) =>
    left +
    inset +
    (sizes.length === 1
      ? (plotW - 2 * inset) / 2
      : (sizes.indexOf(n) / (sizes.length - 1)) * (plotW - 2 * inset));
  const y = (v: number) => top + plotH - (v / axisMax) * plotH;
  const body: string[] = [
    `<text x="${left}" y="22" font-size="15" font-weight="600">Handover latency by number of candidates (ms)</text>`,
    `<text x="${left}" y="38" fill="#555">line: p50; whisker: p50 to p90${r.quick ? ' (quick run)' : ''}</text>`,
  ];
  for (let v = 0; v <= axisMax + 1e-9; v += step) {
    body.push(
      `<line x1="${left}" y1="${y(v).toFixed(1)}" x2="${left + plotW}" y2="${y(v).toFixed(1)}" stroke="#e9ecef"/>`,
      `<text x="${left - 8}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" fill="#555">${+v.toFixed(6)}</text>`,
    );
  }
  for (const n of sizes) {
    body.push(
      `<text x="${x(n).toFixed(1)}" y="${top + plotH + 18}" text-anchor="middle" fill="#555">${n}</text>`,
    );
  }
  body.push(
    `<text x="${left + plotW / 2}" y="${top + plotH + 40}" text-anchor="middle" fill="#333">candidates in the queue (ours: ten per process; etcdctl: one process each)</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[s.kind];
    const path = s.points
      .map((p, j) => `${j ? 'L' : 'M'}${x(p.n).toFixed(1)},${y(p.summary.p50).toFixed(1)}`)
      .join(' ');
    body.push(`<path d="${path}" fill="none" stroke="${color}" stroke-width="2.5"/>`);
    for (const p of s.points) {
      const px = x(p.n).toFixed(1);
      body.push(
        `<line x1="${px}" y1="${y(p.summary.p50).toFixed(1)}" x2="${px}" y2="${y(p.summary.p90).toFixed(1)}" stroke="${color}" stroke-width="1.5"/>`,
        `<circle cx="${px}" cy="${y(p.summary.p50).toFixed(1)}" r="4" fill="${color}"/>`,
      );
    }
    const ly = top + 10 + i * 22;
    body.push(
      `<line x1="${left + plotW + 14}" y1="${ly}" x2="${left + plotW + 38}" y2="${ly}" stroke="${color}" stroke-width="2.5"/>`,
      `<text x="${left + plotW + 44}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  return svgDoc(width, height, body);
}
