/** Describes the machine a bench ran on, so that figures can be read in context. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { ETCD_BIN, ETCDCTL_BIN } from '../support/index.js';

/** The machine, the software versions, and how loaded it was. */
export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  etcd: string;
  etcdctl: string;
  etcd3: string;
  /** 1-minute load average when the run started and ended. */
  loadStart: number;
  loadEnd?: number;
  date: string;
}

function firstLine(cmd: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
    return pattern.exec(out)?.[1] ?? out.split('\n')[0].trim();
  } catch {
    return 'unknown';
  }
}

function cpuModel(): string {
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    return /^model name\s*:\s*(.+)$/m.exec(info)?.[1].trim() ?? cpus()[0]?.model ?? 'unknown';
  } catch {
    return cpus()[0]?.model ?? 'unknown';
  }
}

function packageVersion(name: string): string {
  try {
    const url = new URL(`../../../node_modules/${name}/package.json`, import.meta.url);
    return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Reads the machine description now (load average at start). */
export function describeMachine(): Machine {
  return {
    cpu: cpuModel(),
    cores: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    etcd: firstLine(ETCD_BIN, ['--version'], /etcd Version:\s*(\S+)/),
    etcdctl: firstLine(ETCDCTL_BIN, ['version'], /etcdctl version:\s*(\S+)/),
    etcd3: packageVersion('etcd3'),
    loadStart: loadavg()[0],
    date: new Date().toISOString(),
  };
}

/** The 1-minute load average now. */
export function currentLoad(): number {
  return loadavg()[0];
}
