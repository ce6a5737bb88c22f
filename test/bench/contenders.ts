/**
 * The implementations the bench times, each spawned as its own process and timed the same way:
 * by the hrtime at which the parent receives the line that says it leads.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  describeExit,
  freePort,
  spawnEtcdctl,
  spawnTracked,
  type OutputLine,
  type TrackedProcess,
} from '../support/index.js';

/** Which implementation a contender runs. */
export type KindId = 'ours' | 'core' | 'etcdctl' | 'etcd3' | 'floor';

/** One running candidate process. */
export interface Contender {
  readonly kind: KindId;
  readonly value: string;
  readonly process: TrackedProcess;
  /**
   * hrtime at which the parent received the contender's first line saying it leads; rejects if
   * the process exits first. Unobserved rejections are ignored.
   */
  readonly leads: Promise<bigint>;
}

/** Where contenders connect, and how. */
export interface SpawnOptions {
  endpoints: readonly string[];
  /** Election name. */
  name: string;
  /** This contender's value (unique per process). */
  value: string;
  /** Session TTL in seconds, for the kinds that take one. */
  ttl?: number;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** Arguments for `node` before the script (Node.js kinds only), e.g. a preload. */
  nodeArgs?: readonly string[];
}

/** How to run and stop one implementation. */
export interface Kind {
  id: KindId;
  /** Row label in the report. */
  label: string;
  /** The key prefix its candidates write under, for counting the queue. */
  prefix(name: string): string;
  /** The signal on which it shuts down gracefully, resigning if it leads. */
  graceful: NodeJS.Signals;
  /** Session TTL it uses when none is given, in seconds. */
  defaultTtl: number;
  /** Whether the TTL can be chosen. */
  ttlSettable: boolean;
  spawn(options: SpawnOptions): Promise<Contender>;
}

const here = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** The compiled sample app (`npm run build:apps`). */
export const SAMPLE_MAIN = here('../../sample/01-scheduler/src/main.js');
/** The compiled bare Nest app: the sample's HTTP modules without the ElectionModule. */
export const BARE_MAIN = here('./apps/bare-nest/main.js');
/** The compiled engine-only stand-in. */
export const CORE_MAIN = here('./apps/core-candidates.js');
/** The compiled etcd3 peer. */
export const ETCD3_MAIN = here('./peers/etcd3-election.js');
/** The compiled Node.js floor reference. */
export const FLOOR_MAIN = here('./peers/node-floor.js');
/** The compiled preload that turns on and collects the library's handover marks. */
export const MARKS_PROBE = here('./apps/marks-probe.js');

/**
 * The sample app's log line when it becomes leader of its election (Nest Logger, context
 * `Election`: `[scheduler] leader (elected) key=…`); not the lines of its `@OnOneInstance` jobs
 * (`@OnOneInstance Class.method [name]: leader (elected)`).
 */
export const SAMPLE_LEADER_LINE = /\] leader \(elected\) key=/;

/** True when the compiled sample app exists (it is optional while being written). */
export function sampleAvailable(): boolean {
  return existsSync(SAMPLE_MAIN);
}

function firstLine(proc: TrackedProcess, test: (line: OutputLine) => boolean): Promise<bigint> {
  const leads = new Promise<bigint>((resolve, reject) => {
    const cleanup = () => {
      proc.off('line', onLine);
      proc.off('exit', onExit);
    };
    const onLine = (line: OutputLine) => {
      if (!test(line)) return;
      cleanup();
      resolve(line.at);
    };
    const onExit = () => {
      cleanup();
      const info = proc.exitInfo;
      reject(
        new Error(
          `${proc.label} exited (${info ? describeExit(info) : '?'}) before leading\n${proc.tail()}`,
        ),
      );
    };
    proc.on('line', onLine);
    proc.on('exit', onExit);
  });
  leads.catch(() => undefined);
  return leads;
}

function node(kind: KindId, main: string, options: SpawnOptions, env: NodeJS.ProcessEnv) {
  const proc = spawnTracked(process.execPath, [...(options.nodeArgs ?? []), main], {
    label: `${kind} ${options.value}`,
    maxLines: 500,
    env: {
      ETCD_HOSTS: options.endpoints.join(','),
      ELECTION_NAME: options.name,
      ELECTION_VALUE: options.value,
      ...(options.ttl !== undefined ? { ELECTION_TTL: String(options.ttl) } : {}),
      ...env,
      ...options.env,
    },
  });
  return proc;
}

const leadLine = (line: OutputLine) => line.stream === 'stdout' && line.text.startsWith('LEAD ');

/** This library, as users run it: the sample app (`sample/01-scheduler`), SIGTERM = shutdown. */
export const ours: Kind = {
  id: 'ours',
  label: 'nestjs-etcd-election (sample app)',
  prefix: name => `${name}/`,
  graceful: 'SIGTERM',
  defaultTtl: 10,
  ttlSettable: true,
  async spawn(options) {
    const proc = node('ours', SAMPLE_MAIN, options, {
      PORT: String(await freePort()),
      NO_COLOR: '1',
      // One election, as most apps have: without the demo's six housekeeping jobs, whose
      // handovers would run alongside in every round.
      SAMPLE_HOUSEKEEPING: 'off',
    });
    return {
      kind: 'ours',
      value: options.value,
      process: proc,
      leads: firstLine(proc, line => SAMPLE_LEADER_LINE.test(line.text)),
    };
  },
};

/** This library's engine alone (`lib/core` Candidate, no Nest), one candidate per process. */
export const core: Kind = {
  id: 'core',
  label: 'nestjs-etcd-election engine only (lib/core)',
  prefix: name => `${name}/`,
  graceful: 'SIGTERM',
  defaultTtl: 10,
  ttlSettable: true,
  async spawn(options) {
    const proc = node('core', CORE_MAIN, options, { CANDIDATES: '1' });
    return { kind: 'core', value: options.value, process: proc, leads: firstLine(proc, leadLine) };
  },
};

/** Go's `concurrency.Election` through `etcdctl elect` (session TTL fixed at 60 s). */
export const etcdctl: Kind = {
  id: 'etcdctl',
  label: 'etcdctl elect (Go concurrency.Election)',
  prefix: name => `${name}/`,
  graceful: 'SIGINT',
  defaultTtl: 60,
  ttlSettable: false,
  async spawn(options) {
    const proc = spawnEtcdctl(options.endpoints, ['elect', options.name, options.value], {
      label: `etcdctl ${options.value}`,
      maxLines: 50,
    });
    const key = new RegExp(`^${options.name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[0-9a-f]+$`);
    return {
      kind: 'etcdctl',
      value: options.value,
      process: proc,
      leads: firstLine(proc, line => line.stream === 'stdout' && key.test(line.text)),
    };
  },
};

/** The npm `etcd3` package's own `election().campaign()`. */
export const etcd3: Kind = {
  id: 'etcd3',
  label: 'npm etcd3 election()',
  prefix: name => `election/${name}/`,
  graceful: 'SIGTERM',
  defaultTtl: 60,
  ttlSettable: true,
  async spawn(options) {
    const proc = node('etcd3', ETCD3_MAIN, options, {});
    return { kind: 'etcd3', value: options.value, process: proc, leads: firstLine(proc, leadLine) };
  },
};

/**
 * Not an election: what any Node.js process pays on this transport for one signal, one write,
 * one watch event and one line (see `peers/node-floor.ts`).
 */
export const floor: Kind = {
  id: 'floor',
  label: 'Node.js floor: one delete, one watch event (reference)',
  prefix: name => `${name}/`,
  graceful: 'SIGTERM',
  defaultTtl: 0,
  ttlSettable: false,
  async spawn(options) {
    const proc = node('floor', FLOOR_MAIN, options, {});
    return { kind: 'floor', value: options.value, process: proc, leads: firstLine(proc, leadLine) };
  },
};
