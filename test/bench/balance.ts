/**
 * Bench of `balance: true`: time to settle and the number of leadership changes, for E = 12
 * and 48 balanced elections over R = 3 and 6 replicas. Each replica is one core `Balancer` (its
 * default pacing) over E `Candidate`s sharing one etcd client, all in this process, against
 * its own etcd. Two scenarios per (E, R): the R replicas start together, then one more joins
 * the settled R − 1. After each, a quiet window
 * counts any change left (there should be none).
 *
 * Run on its own: `npm run bench:balance` (or `node .build/test/bench/balance.js [--out md]
 * [--json path] [--quiet-ms N]`). Prints a markdown table on stdout (and writes it with a
 * heading to `--out`), progress on stderr.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Etcd3 } from 'etcd3';
import {
  Balancer,
  Candidate,
  createEtcdClient,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import { delay, killAll, startEtcd, waitFor } from '../support/index.js';
import { describeMachine } from './machine.js';

interface Replica {
  name: string;
  client: Etcd3;
  balancer: Balancer;
  candidates: Candidate[];
}

/** Leadership counters of one run, fed by every candidate's `leadership$`. */
class Tally {
  elected = 0;
  readonly leaders = new Map<string, string>();
  lastChange = performance.now();

  watch(replica: string, candidate: Candidate): void {
    let leading = false;
    candidate.leadership$.subscribe(l => {
      const now = l.role === 'leader';
      if (now === leading) return;
      leading = now;
      this.lastChange = performance.now();
      if (now) {
        this.elected++;
        this.leaders.set(l.election, replica);
      } else if (this.leaders.get(l.election) === replica) {
        this.leaders.delete(l.election);
      }
    });
  }

  /** How many elections each replica leads, or undefined while some election has no leader. */
  counts(names: string[], elections: number): number[] | undefined {
    if (this.leaders.size !== elections) return undefined;
    return names.map(n => [...this.leaders.values()].filter(v => v === n).length);
  }
}

interface Row {
  elections: number;
  replicas: number;
  scenario: 'start together' | 'one joins';
  settleMs: number;
  changes: number;
  /** The fewest changes that reach the fair share from the spread before balancing began. */
  minimum: number;
  spread: number[];
  lateChanges: number;
}

let run = 0;

async function measure(
  endpoints: string[],
  elections: number,
  replicas: number,
  scenario: Row['scenario'],
  quietMs: number,
): Promise<Row> {
  const names = Array.from({ length: elections }, (_, i) => `bench-balance-${++run}-${i}`);
  const tally = new Tally();
  const started: Replica[] = [];
  const startReplica = (name: string): Replica => {
    const client = createEtcdClient({ hosts: endpoints });
    const balancer = new Balancer();
    const candidates = names.map(
      election =>
        new Candidate(client, { election, value: name, settings: resolveEngineOptions({}) }),
    );
    for (const c of candidates) {
      tally.watch(name, c);
      balancer.add(c);
      c.start();
    }
    balancer.start();
    const replica = { name, client, balancer, candidates };
    started.push(replica);
    return replica;
  };
  const replicaNames = Array.from({ length: replicas }, (_, i) => `r${i + 1}`);
  const settled = async (live: string[], timeout: number) => {
    const share = Math.ceil(elections / live.length);
    return waitFor(
      () => {
        const counts = tally.counts(live, elections);
        return counts && counts.every(n => n <= share) ? counts : undefined;
      },
      { timeout, interval: 20, message: `${elections} elections over ${live.length} settled` },
    );
  };
  try {
    if (scenario === 'one joins') {
      for (const n of replicaNames.slice(0, -1)) startReplica(n);
      await settled(replicaNames.slice(0, -1), 120_000);
      await waitFor(() => performance.now() - tally.lastChange > 2000, {
        timeout: 60_000,
        message: 'quiet before the join',
      });
    }
    const electedBefore = tally.elected;
    const t0 = performance.now();
    const joining = scenario === 'one joins' ? replicaNames.slice(-1) : replicaNames;
    // What balancing has to move: the spread once every election is led and every replica is
    // queued everywhere, before the balancers' first look (one interval after start).
    let before: number[] | undefined;
    for (const n of joining) startReplica(n);
    await waitFor(
      () => {
        const queued = started.every(r => r.candidates.every(c => c.leadership.key));
        return queued && (before = tally.counts(replicaNames, elections));
      },
      { timeout: 60_000, message: 'every replica queued' },
    );
    const spread = await settled(replicaNames, 120_000);
    const settleMs = performance.now() - t0;
    const share = Math.ceil(elections / replicas);
    const minimum = before!.reduce((sum, n) => sum + Math.max(0, n - share), 0);
    const initial = scenario === 'start together' ? elections : 0;
    const changes = tally.elected - electedBefore - initial;
    const electedAtSettle = tally.elected;
    await delay(quietMs); // an observation window: any change in it is counted
    return {
      elections,
      replicas,
      scenario,
      settleMs,
      changes,
      minimum,
      spread,
      lateChanges: tally.elected - electedAtSettle,
    };
  } finally {
    await Promise.allSettled(started.map(r => r.balancer.stop()));
    await Promise.allSettled(started.flatMap(r => r.candidates.map(c => c.stop())));
    for (const r of started) r.client.close();
  }
}

function table(rows: Row[]): string {
  const lines = [
    '| E | R | scenario | settled after | leadership changes | minimum | spread | changes in the quiet window |',
    '| --: | --: | --- | --: | --: | --: | --- | --: |',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.elections} | ${r.replicas} | ${r.scenario} | ${(r.settleMs / 1000).toFixed(1)} s | ` +
        `${r.changes} | ${r.minimum} | ${r.spread.join(' / ')} | ${r.lateChanges} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      json: { type: 'string' },
      out: { type: 'string' },
      'quiet-ms': { type: 'string', default: '10000' },
    },
  });
  const quietMs = Number(values['quiet-ms']);
  const cluster = await startEtcd({ name: 'bench-balance' });
  const rows: Row[] = [];
  try {
    for (const elections of [12, 48]) {
      for (const replicas of [3, 6]) {
        for (const scenario of ['start together', 'one joins'] as const) {
          process.stderr.write(`balance: E ${elections}, R ${replicas}, ${scenario} …\n`);
          rows.push(await measure(cluster.endpoints, elections, replicas, scenario, quietMs));
          const row = rows.at(-1)!;
          process.stderr.write(
            `  settled in ${Math.round(row.settleMs)} ms, ${row.changes} changes (minimum ${row.minimum}), ${row.lateChanges} after\n`,
          );
        }
      }
    }
  } finally {
    await cluster.close();
    await killAll();
  }
  console.log(table(rows));
  if (values.json) writeFileSync(values.json, JSON.stringify(rows, null, 2));
  if (values.out) {
    const machine = describeMachine();
    writeFileSync(
      values.out,
      [
        '# Balancing: time to settle and leadership changes',
        '',
        `Written by \`npm run bench:balance\` on ${machine.date} (${machine.cpu}, ${machine.cores} ` +
          `cores; Node ${machine.node}; etcd ${machine.etcd}, one member). Each replica is one ` +
          'core `Balancer` (default pacing) over E `Candidate`s on one etcd client, all in one ' +
          'process. "Minimum" is the fewest changes of leader that reach the fair spread; the ' +
          `quiet window (${quietMs / 1000} s) after settling counts any change left.`,
        '',
        table(rows),
        '',
      ].join('\n'),
    );
  }
}

main().catch(error => {
  console.error(error);
  process.exitCode = 1;
});
