import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, buildPackage } from './build.js';

let build: ReturnType<typeof buildPackage>;
beforeAll(() => {
  build = buildPackage('contents');
});
afterAll(() => build?.remove());

function files(dir: string, suffix: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter(name => name.endsWith(suffix))
    .map(name => join(dir, name));
}

describe('the published build', () => {
  it('has declarations that type-check on their own, without skipLibCheck', async () => {
    const config = join(build.dir, 'tsconfig.check.json');
    writeFileSync(
      config,
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          skipLibCheck: false,
          module: 'nodenext',
          moduleResolution: 'nodenext',
          experimentalDecorators: true,
          types: ['node'],
          typeRoots: [join(ROOT, 'node_modules/@types')],
        },
        files: files(build.dir, '.d.ts'),
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    const result = await promisify(execFile)(process.execPath, [tsc, '-p', config], {
      cwd: ROOT,
    }).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    );
    expect(result).toBe('');
  });

  it('strips what is @internal from the declarations', () => {
    const declarations = files(build.dir, '.d.ts')
      .map(file => readFileSync(file, 'utf8'))
      .join('\n');
    for (const internal of [
      'addLeaderHandler',
      'addFollowerHandler',
      'runAsLeader',
      'whenComplete',
      'activate()',
      'add(registration',
      'bindInstance',
      'resolveElection',
      'runInTerm',
      'ENGINE_FACTORY',
    ]) {
      expect(declarations, internal).not.toContain(internal);
    }
    expect(declarations).toContain('compareFencingTokens');
    expect(declarations).toContain('WatchInterruptedError');
  });

  it('ships source maps that carry their sources', () => {
    const maps = files(build.dir, '.js.map');
    expect(maps.length).toBeGreaterThan(20);
    for (const file of maps) {
      const map = JSON.parse(readFileSync(file, 'utf8')) as {
        sources: string[];
        sourcesContent?: string[];
      };
      expect(map.sourcesContent?.length, relative(build.dir, file)).toBe(map.sources.length);
      expect(map.sourcesContent!.every(text => text.length > 0)).toBe(true);
    }
  });

  it('marks the CommonJS build as CommonJS', () => {
    const marker = JSON.parse(readFileSync(join(build.dir, 'cjs/package.json'), 'utf8'));
    expect(marker).toEqual({ type: 'commonjs' });
    expect(readFileSync(join(build.dir, 'cjs/index.js'), 'utf8')).toContain('require(');
    expect(readFileSync(join(build.dir, 'index.js'), 'utf8')).toMatch(/^export /m);
  });
});
