/**
 * Where the compiled child apps live, and a guard that they are built. The Vitest global setup
 * (`test/global-setup.ts`) and `npm run soak` compile them; {@link ensureAppsBuilt} covers a run
 * without either.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: the nearest directory above this file holding `package.json`. */
export const REPO_ROOT = findRoot(dirname(fileURLToPath(import.meta.url)));

/** The compiled candidate app (`test/apps/candidate.ts`). */
export const CANDIDATE_APP = join(REPO_ROOT, '.build/test/apps/candidate.js');

function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tsconfig.apps.json'))) {
      return dir;
    }
    if (dirname(dir) === dir) throw new Error(`no repository root above ${from}`);
  }
}

let building: Promise<void> | undefined;

/**
 * Compiles `tsconfig.apps.json` (incremental) when the candidate app has not been built, e.g.
 * for a spec run without the global setup. Once per process.
 */
export function ensureAppsBuilt(): Promise<void> {
  building ??= (async () => {
    if (existsSync(CANDIDATE_APP)) return;
    const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [tsc, '-p', 'tsconfig.apps.json'],
        { cwd: REPO_ROOT, maxBuffer: 16 * 1024 * 1024 },
        (error, stdout) => {
          // Type errors elsewhere (work in progress) still emit; only a missing app is fatal.
          if (error && !existsSync(CANDIDATE_APP)) {
            reject(new Error(`tsc -p tsconfig.apps.json failed:\n${stdout}`));
          } else resolve();
        },
      );
    });
  })();
  return building;
}
