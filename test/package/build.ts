/**
 * Builds the package the way `npm run build` does, into a directory of its own (so that specs
 * running at the same time never share a half-written `dist/`), once per test process.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Builds into `.build/package-<label>-<pid>/` under the repository and returns its path. */
export function buildPackage(label: string): { dir: string; remove(): void } {
  const dir = `${ROOT}.build/package-${label}-${process.pid}`;
  execFileSync(process.execPath, ['scripts/build.js', '--out', dir], { cwd: ROOT, stdio: 'pipe' });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
