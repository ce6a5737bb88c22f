/** Renders `costs.ts`'s measurements as paragraphs of `docs/benchmarks.md`. */
import type { MemoryStage, StartupCost } from './costs.js';
import type { ScalingPoint } from './scaling.js';
import { fmt } from './stats.js';

const signed = (v: number) => `${v >= 0 ? '+' : '−'}${fmt(Math.abs(v), 1)}`;

/** What the module's memory is made of, stage by stage; nothing when not measured. */
export function renderMemoryStages(stages: readonly MemoryStage[] | undefined): string[] {
  if (!stages?.length || stages.some(s => !Number.isFinite(s.rssMb))) return [];
  const base = stages[0];
  const rows = stages.map((s, i) => {
    const before = stages[i - 1];
    return [
      s.label,
      fmt(s.rssMb, 1),
      before ? signed(s.rssMb - before.rssMb) : '—',
      before ? signed(s.heapMb - before.heapMb) : '—',
    ];
  });
  const last = stages[stages.length - 1];
  const find = (id: string) => stages.find(s => s.id === id);
  const delta = (from: string, to: string) => {
    const a = find(from);
    const b = find(to);
    return a && b ? b.rssMb - a.rssMb : Number.NaN;
  };
  return [
    '**What the module’s memory is made of.** One process loads, one stage at a time, what the ' +
      'sample app has on top of the app without `ElectionModule`, and reads its RSS after forced ' +
      'garbage collections (median of the boots; RSS grows in pages and arenas, so a stage’s ' +
      'figure is approximate).',
    '',
    [
      '| Stage | RSS MiB | added MiB | heap added MiB |',
      '| --- | --: | --: | --: |',
      ...rows.map(r => `| ${r.join(' | ')} |`),
    ].join('\n'),
    '',
    `In all ${fmt(last.rssMb - base.rssMb, 1)} MiB: the etcd client stack (grpc-js, protobufjs and ` +
      `etcd3 with its parsed protos) ${fmt(delta('base', 'etcd3'), 1)} MiB, this library’s own code ` +
      `${fmt(delta('etcd3', 'library'), 1)} MiB, the sample’s Prometheus endpoint ` +
      `${fmt(delta('library', 'metrics'), 1)} MiB, and a live connection with one candidate ` +
      `${fmt(delta('metrics', 'connected'), 1)} MiB. Most of it is the transport every Node.js ` +
      'etcd client pays (compare the npm `etcd3` peer above), not election state.',
    '',
  ];
}

/** Where start-up to queued goes; nothing when not measured. */
export function renderStartup(
  startup: StartupCost | undefined,
  scaling: readonly ScalingPoint[],
  cores: number,
): string[] {
  if (!startup || !Number.isFinite(startup.queuedMs)) return [];
  const ours = scaling.filter(p => p.kind === 'core').at(-1);
  const go = scaling.find(p => p.kind === 'etcdctl' && p.n === ours?.n);
  const processes = ours?.processes ?? 0;
  return [
    `**Where start-up goes.** One engine process of ${startup.candidates} candidates, alone, is ` +
      `queued ${fmt(startup.queuedMs, 0)} ms after it is spawned, having used ` +
      `${fmt(startup.cpuMs, 0)} ms of CPU by then. A Node.js process that only loads \`etcd3\` ` +
      `and exits takes ${fmt(startup.loadEtcd3Ms, 0)} ms (${fmt(startup.loadEtcd3CpuMs, 0)} ms ` +
      `CPU: grpc-js, protobufjs and parsing etcd’s protos), an empty one ` +
      `${fmt(startup.emptyMs, 0)} ms (${fmt(startup.emptyCpuMs, 0)} ms CPU). ` +
      (ours && processes > 0
        ? `So the ${ours.n} candidates above, in ${processes} process${processes === 1 ? '' : 'es'} started at once, need ` +
          `about ${fmt((processes * startup.cpuMs) / 1000, 1)} s of CPU before the last is queued, ` +
          `on ${cores} shared cores: that, not etcd or the recipe (a campaign is two writes, as ` +
          `Go’s), is why ours took ${fmt(ours.startupMs / 1000, 1)} s` +
          (go
            ? ` against etcdctl’s ${fmt(go.startupMs / 1000, 1)} s (a Go binary boots in milliseconds).`
            : '.')
        : '') +
      ` (median of ${startup.repeats}.)`,
    '',
  ];
}
