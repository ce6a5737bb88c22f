/** Renders the handover breakdown (`breakdown.ts`) as a section of `docs/benchmarks.md`. */
import type { BreakdownResult, PhaseFigure } from './breakdown.js';
import type { LatencyResult } from './handover.js';
import { fmt, ratio } from './stats.js';

const ms = (v: number | undefined) => fmt(v, 1);
const cell = (p: PhaseFigure | undefined) => (p ? `${fmt(p.p50, 2)} (${fmt(p.p90, 1)})` : '—');

const COLUMN: Record<string, string> = {
  'ours/cold': 'sample app, cold',
  'ours-no-warmup/cold': 'sample app, cold, warm-up off',
  'core/cold': 'engine, cold',
  'core-no-warmup/cold': 'engine, cold, warm-up off',
  'core-no-observe/cold': 'engine, cold, observe off',
  'core/warm': 'engine, warm',
};

/** The section, or nothing when the breakdown was not measured. */
export function renderBreakdown(
  breakdown: readonly BreakdownResult[] | undefined,
  handover: readonly LatencyResult[],
): string[] {
  const results = (breakdown ?? []).filter(b => b.rounds > 0);
  if (!results.length) return [];
  const phaseIds = [...new Set(results.flatMap(b => b.phases.map(p => p.id)))];
  const labels = new Map(results.flatMap(b => b.phases.map(p => [p.id, p.label] as const)));
  const find = (b: BreakdownResult, id: string) => b.phases.find(p => p.id === id);
  const out: string[] = [
    '## Where one handover’s time goes',
    '',
    'The same graceful handover, with the library’s handover marks on (`performance.mark`, ' +
      'turned on by `NESTJS_ETCD_ELECTION_MARKS=1`; see `lib/core/marks.ts`). Each process ' +
      'writes its marks when it exits, never on the timed path; the runner lines the old ' +
      'leader’s and the successor’s marks up with its own send and receive times, all on the ' +
      'machine’s monotonic clock. p50 (p90) in ms per phase, over the rounds; phases of one ' +
      'column need not add up to its total, since each is a percentile of its own. Rows without ' +
      '“→” run in parallel with the next. **Cold**: fresh processes, as in the table above. ' +
      '**Warm**: two engine processes handing over to each other in process again and again ' +
      `(SIGUSR1: the leading candidate stops, a fresh one queues in the same process), timed ` +
      `after ${results.find(b => b.state === 'warm')?.warmup ?? 'some'} untimed rounds. ` +
      '**Warm-up off**: `NESTJS_ETCD_ELECTION_WARMUP=0`, the library as ' +
      'it was before it warmed a handover’s codecs and request paths at start-up.',
    '',
    table(
      ['Phase', ...results.map(b => `${COLUMN[`${b.id}/${b.state}`] ?? b.id} ms`)],
      phaseIds.map(id => [labels.get(id) ?? id, ...results.map(b => cell(find(b, id)))]),
    ),
    '',
    `Rounds: ${results.map(b => `${COLUMN[`${b.id}/${b.state}`] ?? b.id} ${b.rounds}`).join(', ')}.`,
    '',
  ];
  const p50 = (kind: string) => handover.find(h => h.kind === kind && h.summary.n > 0)?.summary.p50;
  const go = p50('etcdctl');
  const floor = p50('floor');
  const warm = results.find(b => b.id === 'core' && b.state === 'warm');
  const cold = results.find(b => b.id === 'ours' && b.state === 'cold');
  const engine = results.find(b => b.id === 'core' && b.state === 'cold');
  const unobserved = results.find(b => b.id === 'core-no-observe');
  const path = (b: BreakdownResult) =>
    ['event', 'read'].map(id => find(b, id)?.p50 ?? 0).reduce((x, y) => x + y);
  if (go !== undefined && warm && cold) {
    out.push(
      `**Is 1.5× reachable?** \`etcdctl elect\` took ${ms(go)} ms for the whole handover in this ` +
        `run, so 1.5× is ${ms(go * 1.5)} ms. ` +
        (floor !== undefined
          ? `The Node.js floor — no election at all, one delete and one watch event — took ` +
            `${ms(floor)} ms (${ratio(floor, go)}). `
          : '') +
        `Even a warm engine process spends ${ms(path(warm))} ms (p50) from the resign going out ` +
        'to the post-wait read’s answer — one write committed and its watch event delivered, ' +
        `then one read — ${ratio(path(warm), go)} of etcdctl’s whole handover, before any ` +
        'signal handling, framework or logging; the sample app’s cold total is ' +
        `${ms(find(cold, 'total')?.p50)} ms. So on this runtime 1.5× is out of reach: most of ` +
        'what is left sits in grpc-js and Node.js’s HTTP/2 stack on both ends of each message ' +
        '(Go’s client does the same three round trips).' +
        (engine && unobserved
          ? ' The successor’s observe loop, which hears of the same deletion and holds its own ' +
            'work back until the post-wait read is answered, still decodes its event first at ' +
            'times: with it off, the resign → read-answered path of a cold engine is ' +
            `${ms(path(unobserved))} ms against ${ms(path(engine))} ms, and its total ` +
            `${ms(find(unobserved, 'total')?.p50)} against ${ms(find(engine, 'total')?.p50)} ms.`
          : ''),
      '',
    );
  }
  return out;
}

function table(head: string[], rows: string[][]): string {
  return [
    `| ${head.join(' | ')} |`,
    `| ${head.map((_, i) => (i === 0 ? '---' : '--:')).join(' | ')} |`,
    ...rows.map(row => `| ${row.join(' | ')} |`),
  ].join('\n');
}
