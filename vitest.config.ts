import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  oxc: {
    decorator: { legacy: true, emitDecoratorMetadata: true },
  },
  test: {
    include: ['lib/**/*.spec.ts', 'test/**/*.spec.ts', 'sample/**/*.spec.ts'],
    // The consumer apps' own (Jest) specs run inside those apps, by test/consumers.
    exclude: [...configDefaults.exclude, 'test/consumers/apps/**'],
    globalSetup: ['test/global-setup.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
