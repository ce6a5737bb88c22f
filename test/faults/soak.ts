/**
 * The soak: `npm run soak -- --minutes N --seed S [--members 3] [--ours 3] [--go 1] [--ttl 2]`.
 *
 * Starts etcd (3 members by default) and K candidates in one election — ours, each behind its
 * own proxy link, and one Go `etcdctl elect` — then, until the time is up, draws a fault from
 * {@link FAULTS} with a PRNG seeded by `--seed`, injects and undoes it, waits until the lab is
 * back to full strength, and runs the checker over everything recorded so far. Prints a line per
 * fault and the checker's table at the end. Exits 1 on any overlap (two leaders at once), on
 * leader-only work outside leadership, or when the lab did not recover from a fault. Overlaps
 * right after an outside deletion of the leader's key (revoke, delete) are counted and printed
 * apart: etcd deletes the key before anyone can hear of it (see `Fault.external`).
 */
import { pathToFileURL } from 'node:url';
import { delay, killAll } from '../support/index.js';
import {
  formatReport,
  longestGapAfterFirstElection,
  ms,
  ownOverlaps,
  type Report,
} from './checker.js';
import { FAULTS, recover, type FaultKind } from './faults.js';
import { Lab } from './lab.js';
import { now } from './nodes.js';
import { Prng } from './prng.js';

/** Settings of a soak run. */
export interface SoakOptions {
  /** How long to keep drawing faults, in seconds. */
  seconds: number;
  seed: number;
  /** etcd members (default 3). */
  members?: number;
  /** How many of our candidates (default 3). */
  ours?: number;
  /** How many Go candidates (default 1). */
  go?: number;
  /** Lease TTL of ours, seconds (default 2). */
  ttl?: number;
  /** Where progress lines go (default: stdout). */
  log?: (line: string) => void;
  echo?: boolean;
}

/** What a soak run found. */
export interface SoakResult {
  report: Report;
  table: string;
  faults: number;
  /** Two leaders at once: the library's failures. */
  overlaps: number;
  /** Overlaps right after an outside deletion of the leader's key (see `Fault.external`). */
  externalOverlaps: number;
  /** The longest of those, ms. */
  longestExternalOverlapMs: number;
  probeViolations: number;
  /** Faults after which the lab did not recover in time. */
  stuck: string[];
}

/** Runs a soak (see the module comment). Always cleans up every process it started. */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const ttl = options.ttl ?? 2;
  const members = options.members ?? 3;
  const prng = new Prng(options.seed);
  const ours = Array.from({ length: options.ours ?? 3 }, (_, i) => `n${i + 1}`);
  const go = Array.from({ length: options.go ?? 1 }, (_, i) => `g${i + 1}`);
  const title = `soak: seed ${options.seed}, ${options.seconds} s, ${members} etcd member(s), ${ours.length} ours + ${go.length} Go, TTL ${ttl} s`;
  log(`${title}: starting`);

  const lab = await Lab.start({
    label: 'soak',
    members,
    ttl,
    ours: prng.shuffle(ours),
    go,
    proxied: true,
    probeMs: 50,
    echo: options.echo,
  });
  const stuck: string[] = [];
  let failure: unknown;
  try {
    await soak(lab, options.seconds, prng, ttl, members, stuck, title, log);
  } catch (error) {
    failure = error;
  }
  const report = lab.report();
  await lab.close();
  const table = formatReport(report, title);
  const external = report.overlaps.filter(o => o.external);
  const result: SoakResult = {
    report,
    table,
    faults: report.faults.length,
    overlaps: ownOverlaps(report).length,
    externalOverlaps: external.length,
    longestExternalOverlapMs: Math.max(0, ...external.map(o => Number(o.ns) / 1e6)),
    probeViolations: report.probeViolations.length,
    stuck,
  };
  log(table);
  log(
    `soak summary: ${result.faults} faults, ${result.overlaps} overlaps ` +
      `(+${result.externalOverlaps} right after an outside key deletion, longest ${result.longestExternalOverlapMs.toFixed(1)} ms), ` +
      `${result.probeViolations} leader-only runs outside leadership, ${stuck.length} stuck, ` +
      `longest leaderless gap ${ms(longestGapAfterFirstElection(report))} ms`,
  );
  if (failure !== undefined) throw failure;
  return result;
}

/** The fault loop: draw, inject and undo, recover, check; until `seconds` have passed. */
async function soak(
  lab: Lab,
  seconds: number,
  prng: Prng,
  ttl: number,
  members: number,
  stuck: string[],
  title: string,
  log: (line: string) => void,
): Promise<void> {
  let seenOverlaps = 0;
  const kinds = FAULTS.filter(f => members >= (f.minMembers ?? 1));
  const until = now() + BigInt(Math.round(seconds * 1e9));
  const at = () => (Number(now() - lab.recorder.timeline.start) / 1e9).toFixed(1).padStart(6);
  while (now() < until) {
    // Most faults cannot touch a Go leader (see faults.ts): half the time, end its term.
    const goLeads = lab.leader()?.kind === 'go' && prng.next() < 0.5;
    const pool = goLeads ? kinds.filter(k => k.rotates) : kinds;
    const kind = prng.weighted(pool.map(k => [k, k.weight] as [FaultKind, number]));
    const before = lab.recorder.timeline.faults.length;
    try {
      await kind.run({ lab, prng, ttl });
      await recover(lab);
    } catch (error) {
      const message = `${kind.name}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`;
      stuck.push(message);
      log(`${at()} s  STUCK after ${message}`);
      for (const node of lab.ours) log(node.process?.tail(8) ?? '');
      await recover(lab, 60_000);
    }
    const report = lab.report();
    const fault = report.faults.at(-1);
    if (fault && lab.recorder.timeline.faults.length > before) {
      log(
        `${at()} s  #${fault.index} ${fault.fault.kind} (${fault.fault.target ?? ''}): ` +
          `leader ${fault.leader ?? '—'} → ${lab.leader()?.proc ?? '—'}, ` +
          `step-down ${ms(fault.stepDownNs)} ms, elected ${ms(fault.electedNs)} ms, ` +
          `gap ${ms(fault.longestGapNs)} ms, overlaps so far ${ownOverlaps(report).length}`,
      );
    }
    if (report.overlaps.length > seenOverlaps) {
      seenOverlaps = report.overlaps.length;
      const details = formatReport(report, title)
        .split('\n')
        .filter(line => line.startsWith('  '));
      log(`${at()} s  OVERLAP:\n${details.join('\n')}`);
    }
    await delay(prng.int(500, 2000));
  }
}

function parseArgs(argv: string[]): SoakOptions {
  const options: SoakOptions = { seconds: 60, seed: 1 };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = () => Number(inline ?? argv[++i]);
    switch (flag) {
      case '--minutes':
        options.seconds = value() * 60;
        break;
      case '--seconds':
        options.seconds = value();
        break;
      case '--seed':
        options.seed = value();
        break;
      case '--members':
        options.members = value();
        break;
      case '--ours':
        options.ours = value();
        break;
      case '--go':
        options.go = value();
        break;
      case '--ttl':
        options.ttl = value();
        break;
      case '--echo':
        options.echo = true;
        break;
      default:
        throw new Error(
          `soak: unknown argument ${argv[i]} (use --minutes N --seed S [--members M --ours K --go G --ttl T])`,
        );
    }
  }
  for (const [name, v] of Object.entries(options)) {
    if (typeof v === 'number' && !Number.isFinite(v))
      throw new Error(`soak: --${name} needs a number`);
  }
  return options;
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  let code = 1;
  try {
    const result = await runSoak(options);
    code =
      result.overlaps === 0 && result.probeViolations === 0 && result.stuck.length === 0 ? 0 : 1;
  } catch (error) {
    console.error(error);
  } finally {
    await killAll();
  }
  process.exit(code);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
