/**
 * An etcd serving TLS with a certificate this node does not trust: the handshake fails, and the
 * node says so (`tls-rejected`) instead of calling etcd unreachable.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  Candidate,
  createEtcdClient,
  refusalOf,
  resolveEngineOptions,
} from '../../lib/core/index.js';
import {
  ETCD_BIN,
  LOOPBACK,
  freePorts,
  killAll,
  spawnTracked,
  waitFor,
  type TrackedProcess,
} from '../support/index.js';
import { uniqueName } from './fixtures.js';

let dir: string;
let etcd: TrackedProcess;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'etcd-tls-'));
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '1',
    '-subj',
    '/CN=etcd-test',
    '-addext',
    `subjectAltName=IP:${LOOPBACK}`,
    '-keyout',
    'server.key',
    '-out',
    'server.crt',
  );
  const [client, peer] = await freePorts(2);
  url = `https://${LOOPBACK}:${client}`;
  etcd = spawnTracked(
    ETCD_BIN,
    [
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=${url}`,
      `--advertise-client-urls=${url}`,
      `--listen-peer-urls=http://${LOOPBACK}:${peer}`,
      `--initial-advertise-peer-urls=http://${LOOPBACK}:${peer}`,
      `--initial-cluster=default=http://${LOOPBACK}:${peer}`,
      `--cert-file=${join(dir, 'server.crt')}`,
      `--key-file=${join(dir, 'server.key')}`,
      '--log-level=error',
    ],
    { label: 'etcd-tls' },
  );
  await waitFor(
    () => {
      try {
        execFileSync('openssl', ['s_client', '-connect', `${LOOPBACK}:${client}`], {
          input: '',
          stdio: ['pipe', 'ignore', 'ignore'],
          timeout: 2000,
        });
        return true;
      } catch {
        return false;
      }
    },
    { timeout: 20_000, message: 'etcd serving TLS' },
  );
});

afterAll(async () => {
  await etcd?.kill();
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

describe('TLS', () => {
  it('an untrusted certificate: tls-rejected, no session', async () => {
    const client = createEtcdClient({ hosts: url });
    const candidate = new Candidate(client, {
      election: uniqueName('tls'),
      value: 'v',
      settings: resolveEngineOptions({
        ttl: 2,
        requestTimeout: 2000,
        backoff: { initial: 20, max: 1000 },
      }),
    });
    const errors: unknown[] = [];
    candidate.errors$.subscribe(error => errors.push(error));
    try {
      candidate.start();
      await waitFor(() => candidate.leadership.reason === 'tls-rejected', {
        timeout: 8000,
        message: `tls-rejected (errors: ${errors.map(String).join(' | ')})`,
      });
      expect(candidate.leadership.role).toBe('disconnected');
      expect(candidate.hasSession()).toBe(false);
      expect(refusalOf(errors.at(-1))).toBe('tls-rejected');
    } finally {
      await candidate.stop();
      client.close();
    }
  });
});
