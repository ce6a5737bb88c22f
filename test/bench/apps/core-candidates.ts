/**
 * Bench process hosting `CANDIDATES` engine candidates (lib/core, no Nest) on one etcd client, so
 * that 100 candidates fit on a 2-core machine in 10 processes. Prints one line per event:
 *
 *   LEAD <value>      a candidate of this process was elected (written synchronously)
 *   STATS <json>      on SIGUSR2: counters summed over every candidate this process ran
 *
 * Signals: SIGUSR1 stops the candidate that leads here (graceful: resign + revoke), then starts a
 * fresh one at the back of the queue, so the queue keeps its length. SIGTERM/SIGINT stop all and
 * exit.
 *
 * Env: ETCD_HOSTS (comma-separated), ELECTION_NAME, ELECTION_VALUE (values are `<value>-<i>`),
 * ELECTION_TTL (default 10), CANDIDATES (default 1), OBSERVE (`0` disables the observe loop).
 */
import { Candidate, createEtcdClient, resolveEngineOptions } from '../../../lib/core/index.js';
import { mark } from '../../../lib/core/marks.js';

const hosts = (process.env.ETCD_HOSTS ?? '127.0.0.1:2379').split(',');
const election = required('ELECTION_NAME');
const valuePrefix = process.env.ELECTION_VALUE ?? `core-${process.pid}`;
const ttl = Number(process.env.ELECTION_TTL ?? 10);
const count = Number(process.env.CANDIDATES ?? 1);
const observe = process.env.OBSERVE !== '0';

const client = createEtcdClient({ hosts });
const live = new Set<Candidate>();
const retired = { elected: 0, waitWatchEvents: 0, wakeups: 0 };
let next = 0;

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

function add(): void {
  const value = `${valuePrefix}-${next++}`;
  const candidate = new Candidate(client, {
    election,
    value,
    settings: resolveEngineOptions({ ttl, observe }),
  });
  candidate.leadership$.subscribe(l => {
    if (l.role === 'leader' && l.reason === 'elected') process.stdout.write(`LEAD ${value}\n`);
  });
  candidate.errors$.subscribe(error => process.stderr.write(`error ${value}: ${String(error)}\n`));
  live.add(candidate);
  candidate.start();
}

async function retire(candidate: Candidate): Promise<void> {
  live.delete(candidate);
  await candidate.stop();
  retired.elected += candidate.stats.elected;
  retired.waitWatchEvents += candidate.stats.waitWatchEvents;
  retired.wakeups += candidate.stats.wakeups;
}

function stats(): string {
  const sum = { ...retired, candidates: live.size };
  for (const c of live) {
    sum.elected += c.stats.elected;
    sum.waitWatchEvents += c.stats.waitWatchEvents;
    sum.wakeups += c.stats.wakeups;
  }
  return JSON.stringify(sum);
}

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  mark('shutdown');
  await Promise.allSettled([...live].map(c => c.stop()));
  client.close();
  process.exit(0);
}

process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.on('SIGUSR2', () => process.stdout.write(`STATS ${stats()}\n`));
process.on('SIGUSR1', () => {
  const leader = [...live].find(c => c.isLeader());
  if (!leader || stopping) return;
  mark('shutdown');
  void retire(leader).then(() => {
    if (!stopping) add();
  });
});

for (let i = 0; i < count; i++) add();
