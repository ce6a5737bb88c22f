import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * Compiles the apps that tests run as child processes (samples, test/apps, bench and fault
 * tools) into `.build/` once per test run. tsc, not esbuild: Nest needs decorator metadata.
 */
export default function setup(): void {
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.apps.json'], {
    cwd: root,
    stdio: 'inherit',
  });
}
