/**
 * Builds the package: the ES module build into `<out>/` and the CommonJS build into `<out>/cjs/`
 * (with a `package.json` that marks it CommonJS), each with its own declarations.
 *
 * Usage: `node scripts/build.js [--out dir]` (default `dist`). Tests build into a temp dir.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const flag = process.argv.indexOf('--out');
const out = resolve(root, flag === -1 ? 'dist' : process.argv[flag + 1]);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');

rmSync(out, { recursive: true, force: true });
for (const [project, dir] of [
  ['tsconfig.build.json', out],
  ['tsconfig.cjs.json', join(out, 'cjs')],
]) {
  execFileSync(process.execPath, [tsc, '-p', project, '--outDir', dir], {
    cwd: root,
    stdio: 'inherit',
  });
}
mkdirSync(join(out, 'cjs'), { recursive: true });
writeFileSync(join(out, 'cjs', 'package.json'), '{ "type": "commonjs" }\n');
