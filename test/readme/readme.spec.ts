import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Test } from '@nestjs/testing';
import { afterAll, describe, expect, it } from 'vitest';
import * as library from '../../lib/index.js';
import { useEtcd } from '../support/use-etcd.js';
import { readSnippets, snippetFiles } from './snippets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const README = join(ROOT, 'README.md');
const dir = join(ROOT, '.build', `readme-${process.pid}`);
const etcd = useEtcd();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const snippets = readSnippets(README);
const files = snippetFiles(snippets, Object.keys(library));

function write(): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const file of files) writeFileSync(join(dir, file.name), file.text);
  // What the test snippets use from Jest or Vitest.
  writeFileSync(
    join(dir, 'globals.d.ts'),
    [
      'declare function it(name: string, fn: () => unknown): void;',
      'declare function beforeAll(fn: () => unknown): void;',
      'declare function afterAll(fn: () => unknown): void;',
    ].join('\n'),
  );
  const lib = (path: string) => [join(ROOT, 'lib', path)];
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'es2022',
        lib: ['es2023', 'dom'],
        module: 'preserve',
        moduleResolution: 'bundler',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        experimentalDecorators: true,
        emitDecoratorMetadata: true,
        types: ['node'],
        typeRoots: [join(ROOT, 'node_modules/@types')],
        paths: {
          'nestjs-etcd-election': lib('index.ts'),
          'nestjs-etcd-election/health': lib('health/index.ts'),
          'nestjs-etcd-election/testing': lib('testing/index.ts'),
        },
      },
      include: ['*.ts'],
    }),
  );
}

describe('README', () => {
  it('has ts snippets to check', () => {
    expect(snippets.length).toBeGreaterThan(15);
  });

  it('every ts snippet type-checks against the library', async () => {
    write();
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const output = await promisify(execFile)(process.execPath, [tsc, '-p', dir], {
      cwd: dir,
    }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    // Point each error at its README line.
    const errors = output
      .split('\n')
      .filter(line => /^[\w.-]+\.ts\(\d+,\d+\): error/.test(line))
      .map(line => {
        const [, name, row, rest] = /^([\w.-]+\.ts)\((\d+),\d+\): (.*)$/.exec(line)!;
        const file = files.find(f => f.name === name);
        if (!file) return line;
        return `README.md:${file.snippet.line + Number(row) - 1 - file.offset}: ${rest}`;
      });
    expect(errors).toEqual([]);
  }, 120_000);

  it('the forRootAsync example runs: ttl "10" from the environment', async () => {
    const file = files.find(f => /forRootAsync\(\{\n\s+election: 'scheduler'/.test(f.snippet.code));
    expect(file, 'the forRootAsync snippet').toBeDefined();
    // The same snippet, as a module exporting what it builds, importing the library's source.
    const source = file!.text
      .replace(/'nestjs-etcd-election'/g, `'${join(ROOT, 'lib/index.ts')}'`)
      .replace(/^ElectionModule\.forRootAsync\(/m, 'export default ElectionModule.forRootAsync(');
    mkdirSync(dir, { recursive: true });
    const path = join(dir, 'for-root-async.run.ts');
    writeFileSync(path, source);
    const { default: electionModule } = (await import(path)) as {
      default: ReturnType<typeof library.ElectionModule.forRootAsync>;
    };

    process.env.ETCD_HOSTS = etcd().endpoints.join(',');
    process.env.ELECTION_TTL = '10'; // what a ConfigService returns: a string
    try {
      const moduleRef = await Test.createTestingModule({ imports: [electionModule] }).compile();
      const app = await moduleRef.createNestApplication({ logger: false }).init();
      try {
        const election = app.get(library.ElectionService);
        const leadership = await election.waitForLeadership({ timeout: 10_000 });
        expect(leadership).toMatchObject({ election: 'scheduler', role: 'leader' });
        const ttl = await etcd().etcdctlOk(['lease', 'timetolive', leadership.lease!]);
        expect(ttl).toMatch(/granted with TTL\(10s\)/);
      } finally {
        await app.close();
      }
    } finally {
      delete process.env.ETCD_HOSTS;
      delete process.env.ELECTION_TTL;
    }
  });
});
