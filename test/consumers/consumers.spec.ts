/**
 * The library as users get it: packed with `npm pack`, installed from the tarball into small
 * consumer apps built from their starters' own configs (tsconfig, Jest), each run against real
 * etcd. Apps of one Nest major share one install (`nest11/`, `nest12/`, with lockfiles); npm's
 * cache makes every run after the first one offline.
 */
import { execFile } from 'node:child_process';
import { cp, lstat, mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, spawnTracked, waitFor, type TrackedProcess } from '../support/index.js';
import { useEtcd } from '../support/use-etcd.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);
const etcd = useEtcd();

interface App {
  name: string;
  group: 'nest11' | 'nest12';
  /** What it proves beyond the common scenario. */
  extra?: 'health' | 'jest';
}

const APPS: App[] = [
  { name: 'nest11-jest', group: 'nest11', extra: 'jest' },
  { name: 'nest11-node10', group: 'nest11', extra: 'health' },
  { name: 'nest11-fastify', group: 'nest11' },
  { name: 'nest12-cjs', group: 'nest12' },
  { name: 'nest12-esm', group: 'nest12' },
];

/** Lease TTL of the replicas: long, so that a handover within seconds can only be a resign. */
const TTL = 30;

let work: string;
const dir = (app: App) => join(work, app.group, app.name);

async function npm(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    env: { ...process.env, npm_config_update_notifier: 'false' },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 300_000,
  });
  return stdout;
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'nestjs-etcd-election-consumers-'));
  const [packed] = JSON.parse(await npm(ROOT, ['pack', '--json', '--pack-destination', work])) as [
    { filename: string },
  ];
  const tarball = join(work, packed.filename);
  await Promise.all(
    (['nest11', 'nest12'] as const).map(async group => {
      const base = join(work, group);
      await mkdir(base);
      await cp(join(HERE, group, 'package.json'), join(base, 'package.json'));
      await cp(join(HERE, group, 'package-lock.json'), join(base, 'package-lock.json'));
      await npm(base, ['ci']);
      await npm(base, ['install', '--no-save', tarball]);
      for (const app of APPS.filter(a => a.group === group)) {
        await cp(join(HERE, 'apps', app.name), dir(app), { recursive: true });
        await cp(join(HERE, 'shared'), join(dir(app), 'src', 'shared'), { recursive: true });
        await run('npm', ['run', 'build', '--silent'], { cwd: dir(app), timeout: 120_000 });
      }
    }),
  );
}, 600_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

interface Replica {
  name: string;
  proc: TrackedProcess;
  url: string;
}

async function startReplica(app: App, election: string, name: string): Promise<Replica> {
  const port = await freePort();
  const main = JSON.parse(await readFile(join(dir(app), 'package.json'), 'utf8')).scripts[
    'start:prod'
  ].split(' ')[1] as string;
  const proc = spawnTracked(process.execPath, [main], {
    cwd: dir(app),
    label: `${app.name} ${name}`,
    env: {
      ETCD_HOSTS: etcd().endpoints.join(','),
      ELECTION_NAME: election,
      ELECTION_TTL: String(TTL),
      REPLICA: name,
      PORT: String(port),
    },
  });
  await proc.waitForLine(/^listening /, 30_000);
  return { name, proc, url: `http://127.0.0.1:${port}` };
}

const ticks = (replica: Replica) =>
  replica.proc.lines.filter(line => line.text === `tick ${replica.name}`).length;

describe.each(APPS)('consumer app $name', app => {
  it('two replicas: one leads, only it runs the @LeaderOnly @Interval, SIGTERM hands over', async () => {
    const election = `consumers-${app.name}-${process.pid}`;
    const replicas = [
      await startReplica(app, election, 'a'),
      await startReplica(app, election, 'b'),
    ];
    try {
      const leader = await waitFor(
        () => replicas.find(r => r.proc.lines.some(l => l.text.startsWith(`leader ${r.name} `))),
        { timeout: 15_000, message: 'a leader' },
      );
      const follower = replicas.find(r => r !== leader)!;
      await waitFor(() => ticks(leader) >= 3, { timeout: 10_000, message: 'leader ticks' });
      expect(ticks(follower)).toBe(0);

      const roles = () =>
        Promise.all(
          replicas.map(async r => {
            const body = (await (await fetch(`${r.url}/leadership`)).json()) as { role: string };
            return body.role;
          }),
        );
      await waitFor(async () => (await roles()).sort().join() === 'follower,leader', {
        timeout: 10_000,
        message: 'one leader and one follower',
      });
      const refused = await fetch(`${follower.url}/leader-only`);
      expect(refused.status).toBe(503);
      expect(refused.headers.get('x-election-leader')).toBe(leader.name);
      expect((await fetch(`${leader.url}/leader-only`)).status).toBe(200);
      if (app.extra === 'health') {
        for (const r of replicas) expect((await fetch(`${r.url}/health`)).status).toBe(200);
      }

      // A graceful stop resigns: the follower leads long before the lease (TTL) could expire.
      leader.proc.signal('SIGTERM');
      const exit = await leader.proc.exited;
      // Nest re-raises the signal once the app has closed.
      expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
      await follower.proc.waitForLine(new RegExp(`^leader ${follower.name} `), 10_000);
      const before = ticks(follower);
      await waitFor(() => ticks(follower) >= before + 3, {
        timeout: 10_000,
        message: 'the new leader ticks',
      });
    } finally {
      for (const r of replicas) {
        if (r.proc.running) r.proc.signal('SIGTERM');
      }
      await Promise.all(replicas.map(r => r.proc.exited));
    }
  });

  if (app.extra === 'jest') {
    it("the starter's unchanged Jest + ts-jest e2e spec boots a module importing the library", async () => {
      const election = `consumers-jest-${process.pid}`;
      const { stdout, stderr } = await run(
        process.execPath,
        ['../node_modules/jest/bin/jest.js', '--config', './test/jest-e2e.json'],
        {
          cwd: dir(app),
          env: { ...process.env, ETCD_HOSTS: etcd().endpoints.join(','), ELECTION_NAME: election },
          timeout: 120_000,
        },
      );
      expect(`${stdout}${stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
    });

    it('a Jest unit spec drives leadership with nestjs-etcd-election/testing, without etcd', async () => {
      const { stdout, stderr } = await run(process.execPath, ['../node_modules/jest/bin/jest.js'], {
        cwd: dir(app),
        timeout: 120_000,
      });
      expect(`${stdout}${stderr}`).toMatch(/Tests:\s+1 passed, 1 total/);
    });
  }
});

describe('Install, as the README says', () => {
  const methods: Array<[string, () => string[]]> = [
    // The committed HEAD of this repository, as `npm install git+https://…` takes a remote one.
    ['from a git URL', () => ['install', '--no-save', `git+file://${ROOT}`]],
    ['from a local clone', () => ['install', '--no-save', '--install-links', ROOT]],
  ];

  it.each(methods)(
    '%s: npm builds it on install, and an app builds and loads it',
    async (_, args) => {
      const app = APPS.find(a => a.name === 'nest12-esm')!;
      const base = join(work, `install-${args()[2].startsWith('git') ? 'git' : 'path'}`);
      await mkdir(base);
      await cp(join(HERE, app.group, 'package.json'), join(base, 'package.json'));
      await cp(join(HERE, app.group, 'package-lock.json'), join(base, 'package-lock.json'));
      await npm(base, ['ci']);
      await npm(base, args());

      const installed = join(base, 'node_modules', 'nestjs-etcd-election');
      expect((await lstat(installed)).isSymbolicLink()).toBe(false);
      expect((await stat(join(installed, 'dist', 'cjs', 'index.js'))).isFile()).toBe(true);
      await cp(join(HERE, 'apps', app.name), join(base, app.name), { recursive: true });
      await cp(join(HERE, 'shared'), join(base, app.name, 'src', 'shared'), { recursive: true });
      await run('npm', ['run', 'build', '--silent'], {
        cwd: join(base, app.name),
        timeout: 120_000,
      });
      const probe = [
        "const esm = await import('nestjs-etcd-election');",
        "const cjs = (await import('node:module')).createRequire(import.meta.url)('nestjs-etcd-election');",
        'console.log(typeof esm.ElectionModule, typeof cjs.ElectionModule);',
      ].join('\n');
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], {
        cwd: join(base, app.name),
      });
      expect(stdout.trim()).toBe('function function');
    },
    300_000,
  );
});
