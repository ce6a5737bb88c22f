/**
 * Where the time of one graceful handover goes. The contenders run with the marks probe
 * (`apps/marks-probe.ts`): the library marks its instants on the performance timeline, each
 * process writes its marks when it exits, and the runner lines up the old leader's and the
 * successor's marks with its own send and receive times (all on the machine's monotonic clock).
 *
 * Cold: fresh processes, as in the handover table (the successor was started for the round, the
 * leader led once). Warm: two engine processes that hand over to each other again and again in
 * process (SIGUSR1: the leading candidate stops, a fresh one queues in the same process), timed
 * after a number of untimed rounds.
 */
import { deadline, delay } from '../support/index.js';
import { type BenchContext, electionName, waitQueue, waitQuiet } from './context.js';
import { type Contender, type Kind, MARKS_PROBE, core, ours } from './contenders.js';
import { Pair, type RoundTimes } from './handover.js';
import { summarize } from './stats.js';

/** The instants of one round, in milliseconds of the monotonic clock. */
interface RoundMarks {
  sent: number;
  led: number;
  /** Old leader's marks, first of each name after the signal. */
  leader: Map<string, number>;
  /** Successor's marks, each the first after the one before it on its path. */
  successor: Map<string, number>;
}

/** One phase: its label and how to read it off a round (undefined: not marked). */
interface PhaseDef {
  id: string;
  label: string;
  /** True for a phase off the successor's path (it overlaps the ones after it). */
  parallel?: boolean;
  of(r: RoundMarks): number | undefined;
}

const span = (from: number | undefined, to: number | undefined) =>
  from === undefined || to === undefined ? undefined : to - from;

/** The phases, in the order a handover passes them. */
export const PHASES: readonly PhaseDef[] = [
  {
    id: 'signal',
    label: 'signal sent → its listener runs in the old leader (kernel, Node.js)',
    of: r => span(r.sent, r.leader.get('signal')),
  },
  {
    id: 'hook',
    label: '→ our shutdown hook runs (the framework’s shutdown sequence before it)',
    of: r => span(r.leader.get('signal') ?? r.sent, r.leader.get('shutdown')),
  },
  {
    id: 'resign',
    label: '→ resign sent (step down, drain, state change told)',
    of: r => span(r.leader.get('shutdown'), r.leader.get('resign-sent')),
  },
  {
    id: 'ack',
    label: 'resign acknowledged, on the old leader (in parallel with the next row)',
    parallel: true,
    of: r => span(r.leader.get('resign-sent'), r.leader.get('resign-acked')),
  },
  {
    id: 'event',
    label: '→ successor’s watch event (etcd commits the delete, the event travels, is decoded)',
    of: r => span(r.leader.get('resign-sent'), r.successor.get('wait-event')),
  },
  {
    id: 'read',
    label: '→ its read answered (predecessor + ownership check, one round trip)',
    of: r => span(r.successor.get('wait-event'), r.successor.get('wait-read')),
  },
  {
    id: 'elected',
    label: '→ term begins (session check, signal, fencing token)',
    of: r => span(r.successor.get('wait-read'), r.successor.get('elected')),
  },
  {
    id: 'line',
    label: '→ the runner receives the “leader” line (state fan-out, log line, pipe)',
    of: r => span(r.successor.get('elected'), r.led),
  },
  {
    id: 'on-leader',
    label: 'term begins → `@OnLeader` called (after the log line)',
    parallel: true,
    of: r => span(r.successor.get('elected'), r.successor.get('on-leader')),
  },
  { id: 'total', label: 'total: signal sent → line received', of: r => r.led - r.sent },
];

/** One phase's figures over the rounds. */
export interface PhaseFigure {
  id: string;
  label: string;
  parallel: boolean;
  n: number;
  p50: number;
  p90: number;
}

/** The breakdown of one kind in one process state. */
export interface BreakdownResult {
  id: string;
  label: string;
  state: 'cold' | 'warm';
  rounds: number;
  /** Untimed rounds before the timed ones (warm only). */
  warmup?: number;
  phases: PhaseFigure[];
  /** Each round's marks in milliseconds after the signal was sent (raw, for the JSON). */
  marks: Array<Record<string, number>>;
  failures: string[];
}

type Marks = Array<[string, number]>;

const DEBUG_MARKS = (process.env.BENCH_DEBUG_MARKS ?? '').split(',').filter(Boolean);

/** The marks a probed process wrote on exit, ascending in time. */
function marksOf(contender: Contender): Marks {
  const line = contender.process.lines.findLast(l => l.text.startsWith('MARKS '));
  if (!line) return [];
  const { marks } = JSON.parse(line.text.slice('MARKS '.length)) as { marks: Marks };
  return marks.sort((a, b) => a[1] - b[1]);
}

const first = (marks: Marks, name: string, after: number | undefined, before: number) =>
  after === undefined
    ? undefined
    : marks.find(([n, t]) => n === name && t >= after && t <= before)?.[1];

function lineUp(round: RoundTimes, marks: (c: Contender) => Marks): RoundMarks {
  const sent = Number(round.sentAt) / 1e6;
  const led = Number(round.ledAt) / 1e6;
  const window = led + 2_000;
  const old = marks(round.leader);
  const leader = new Map<string, number>();
  for (const name of ['signal', 'shutdown', 'resign-sent', 'resign-acked']) {
    const t = first(old, name, sent, window);
    if (t !== undefined) leader.set(name, t);
  }
  const next = marks(round.successor);
  const successor = new Map<string, number>();
  let after: number | undefined = sent;
  for (const name of ['wait-event', 'wait-read', 'elected', 'on-leader']) {
    const t = first(next, name, after, window);
    if (t !== undefined) successor.set(name, t);
    after = t ?? after;
  }
  const event = successor.get('wait-event');
  for (const name of DEBUG_MARKS) {
    const t = first(next, name, event, window);
    if (t !== undefined) successor.set(name, t);
  }
  return { sent, led, leader, successor };
}

function figures(rounds: RoundMarks[]): PhaseFigure[] {
  return PHASES.flatMap(phase => {
    const values = rounds.map(r => phase.of(r)).filter((v): v is number => v !== undefined);
    if (!values.length) return [];
    const s = summarize(values);
    const { id, label } = phase;
    return [{ id, label, parallel: !!phase.parallel, n: s.n, p50: s.p50, p90: s.p90 }];
  });
}

function result(
  id: string,
  label: string,
  state: 'cold' | 'warm',
  rounds: RoundTimes[],
  failures: string[],
): BreakdownResult {
  const cache = new Map<Contender, Marks>();
  const marks = (c: Contender) => {
    let m = cache.get(c);
    if (!m) cache.set(c, (m = marksOf(c)));
    return m;
  };
  const lined = rounds.map(r => lineUp(r, marks));
  const relative = lined.map(r => {
    const out: Record<string, number> = { line: r.led - r.sent };
    for (const [name, t] of r.leader) out[`leader:${name}`] = +(t - r.sent).toFixed(3);
    for (const [name, t] of r.successor) out[`successor:${name}`] = +(t - r.sent).toFixed(3);
    return out;
  });
  return {
    id,
    label,
    state,
    rounds: rounds.length,
    phases: figures(lined),
    marks: relative,
    failures,
  };
}

const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** A kind as the breakdown runs it, with extra environment (e.g. a change turned off). */
export interface Variant {
  id: string;
  label: string;
  kind: Kind;
  env?: NodeJS.ProcessEnv;
}

/**
 * Cold breakdown: fresh processes of each variant, as in the handover table, with the probe;
 * variants are interleaved round by round so that load from elsewhere falls on all alike.
 */
export async function measureColdBreakdown(
  ctx: BenchContext,
  variants: readonly Variant[],
  rounds: number,
): Promise<BreakdownResult[]> {
  const pairs = await Promise.all(
    variants.map(v =>
      Pair.open(ctx, v.kind, v.kind.defaultTtl, {
        env: v.env,
        nodeArgs: ['--import', MARKS_PROBE],
      }),
    ),
  );
  const failures = variants.map(() => [] as string[]);
  const quiet = () => waitQuiet(pairs.flatMap(p => p.pids()));
  try {
    for (let r = 0; r < rounds; r++) {
      const line: string[] = [];
      for (const [i, pair] of pairs.entries()) {
        try {
          const ms = await pair.round('graceful', 200 + Math.random() * 200, quiet);
          line.push(`${variants[i].id} ${ms.toFixed(1)} ms`);
        } catch (error) {
          failures[i].push(message(error));
          ctx.log(`breakdown ${variants[i].id} round ${r + 1} failed: ${message(error)}`);
          await pair.reset();
        }
      }
      ctx.log(`breakdown round ${r + 1}/${rounds}: ${line.join(', ')}`);
    }
  } finally {
    await Promise.all(pairs.map(p => p.close()));
  }
  return variants.map((v, i) => result(v.id, v.label, 'cold', pairs[i].rounds, failures[i]));
}

/** Resolves with the hrtime at which `contender` next prints a `LEAD` line. */
function nextLead(contender: Contender): Promise<bigint> {
  const proc = contender.process;
  return new Promise<bigint>((resolve, reject) => {
    const onLine = (line: { stream: string; text: string; at: bigint }) => {
      if (line.stream !== 'stdout' || !line.text.startsWith('LEAD ')) return;
      proc.off('line', onLine);
      proc.off('exit', onExit);
      resolve(line.at);
    };
    const onExit = () => {
      proc.off('line', onLine);
      reject(new Error(`${proc.label} exited before leading\n${proc.tail()}`));
    };
    proc.on('line', onLine);
    proc.on('exit', onExit);
  });
}

/**
 * Warm breakdown of the engine: two processes of one candidate each hand over to each other
 * `warmup + rounds` times in process; the last `rounds` are timed.
 */
export async function measureWarmBreakdown(
  ctx: BenchContext,
  rounds: number,
  warmup: number,
): Promise<BreakdownResult> {
  const name = electionName('core-warm');
  const spawn = (value: string) =>
    core.spawn({
      endpoints: ctx.endpoints,
      name,
      value,
      ttl: core.defaultTtl,
      nodeArgs: ['--import', MARKS_PROBE],
    });
  const a = await spawn('warm-a');
  const contenders = [a];
  const timed: RoundTimes[] = [];
  const failures: string[] = [];
  try {
    await deadline(a.leads, 30_000, 'warm engine: first leader');
    contenders.push(await spawn('warm-b'));
    let leader = 0;
    for (let r = 0; r < warmup + rounds; r++) {
      const successor = 1 - leader;
      await waitQueue(ctx, core.prefix(name), 2);
      await waitQuiet(contenders.map(c => c.process.pid));
      await delay(200 + Math.random() * 200);
      const leads = nextLead(contenders[successor]);
      leads.catch(() => undefined);
      const sentAt = process.hrtime.bigint();
      contenders[leader].process.signal('SIGUSR1');
      try {
        const ledAt = await deadline(leads, 15_000, 'warm engine: successor leading');
        if (r >= warmup) {
          timed.push({
            sentAt,
            ledAt,
            leader: contenders[leader],
            successor: contenders[successor],
          });
        }
      } catch (error) {
        failures.push(message(error));
        ctx.log(`breakdown core warm round ${r + 1} failed: ${message(error)}`);
        break;
      }
      leader = successor;
    }
    ctx.log(`breakdown core warm: ${timed.length} timed rounds after ${warmup} untimed`);
  } finally {
    await Promise.all(
      contenders.map(async c => {
        c.process.signal('SIGTERM');
        await deadline(c.process.exited, 10_000, `${c.process.label} exit`).catch(() =>
          c.process.kill(),
        );
      }),
    );
  }
  return { ...result('core', core.label, 'warm', timed, failures), warmup };
}

/**
 * What the breakdown runs cold: the sample app and the engine as shipped, and each with the
 * start-up warm-up turned off, to show what it buys.
 */
export function breakdownVariants(haveSample: boolean, withoutWarmUp: boolean): Variant[] {
  const noWarmUp = { NESTJS_ETCD_ELECTION_WARMUP: '0' };
  const variants: Variant[] = [];
  if (haveSample) {
    variants.push({ id: 'ours', label: ours.label, kind: ours });
    if (withoutWarmUp) {
      variants.push({
        id: 'ours-no-warmup',
        label: `${ours.label}, warm-up off`,
        kind: ours,
        env: noWarmUp,
      });
    }
  }
  variants.push({ id: 'core', label: core.label, kind: core });
  if (withoutWarmUp) {
    variants.push({
      id: 'core-no-observe',
      label: `${core.label}, observe loop off`,
      kind: core,
      env: { OBSERVE: '0' },
    });
    variants.push({
      id: 'core-no-warmup',
      label: `${core.label}, warm-up off`,
      kind: core,
      env: noWarmUp,
    });
  }
  return variants;
}
