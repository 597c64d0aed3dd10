import { fileURLToPath } from 'node:url';
import { configDefaults, defineProject, type TestProjectConfiguration } from 'vitest/config';

// Workspace packages are resolved to their TypeScript sources (the `@keyward/source` export condition), so tests
// need no build step and a stack trace points at the file you edit.
//
// Vitest hands ssr.resolve.conditions to the worker's Node as --conditions, and Node applies those to
// require() too: with `import` (or `module`) listed, express's router require()s is-promise's ESM build and
// gets a namespace object instead of a function. So the list names only what Node does not add by itself.
const conditions = ['@keyward/source', 'node', 'default'];

// In the fast lane (`pnpm test:fast` sets KEYWARD_KEY_POOL=1) the library's projects take their servers' RSA
// keys from a pool generated once per checkout rather than generating one per server start (see
// packages/core/test/setup/key-pool.ts). The full suite, which CI and the README run, generates every key.
const keyPool =
  process.env.KEYWARD_KEY_POOL === '1'
    ? {
        globalSetup: [fileURLToPath(new URL('./packages/core/test/setup/key-pool.ts', import.meta.url))],
        setupFiles: [fileURLToPath(new URL('./packages/core/test/setup/key-pool.setup.ts', import.meta.url))],
      }
    : {};

function project(name: string, root: string, extra: Record<string, unknown> = {}): TestProjectConfiguration {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@keyward/source'] } },
    test: {
      name,
      root,
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      // A *.heavy.test.ts file belongs to the `heavy` project below, whichever package it lives in.
      exclude: [...configDefaults.exclude, '**/*.heavy.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...extra,
    },
  });
}

// Two lanes. `pnpm test:fast` runs the first group, the library itself (core, the adapters, upstream logins
// and the stores against the real databases of this machine), on every core: what a developer runs while
// working. `pnpm test` (CI, the README) runs every project: the second group adds the examples as real
// processes (restarts, outages, MCP clients), the browser tests in Chromium, the conformance and docs checks,
// the bench's report, and `heavy`, the *.heavy.test.ts files that the other projects leave out (tests that
// measure in real time or repeat a race many times), so each test runs once. A new package goes into the
// group it belongs to; `test:fast` in package.json names the first.
//
// Measured on a shared 2-core machine: the fast lane takes 52 s (67 s CPU; load average 0.5 at the start)
// and 77 s under a load of 5-6 from other work; before the heavy project and the RSA key pool it took 191 s
// (113 s CPU, load 2.5 falling to 0.5). Each of its 86 files starts a worker of its own (about 0.4 s, two
// at a time). `heavy` takes about 90 s, mostly waiting out poll intervals.
export default [
  // fast lane
  project('core', './packages/core', keyPool),
  project('express', './packages/express', keyPool),
  project('fastify', './packages/fastify', keyPool),
  project('hono', './packages/hono', keyPool),
  project('upstream', './packages/upstream', keyPool),
  project('sql-kit', './packages/stores/sql-kit', keyPool),
  project('store-sqlite', './packages/stores/sqlite', keyPool),
  project('store-postgres', './packages/stores/postgres', { ...keyPool, fileParallelism: false }),
  project('store-mysql', './packages/stores/mysql', { ...keyPool, fileParallelism: false }),
  project('store-redis', './packages/stores/redis', { ...keyPool, fileParallelism: false }),
  project('store-d1', './packages/stores/d1', keyPool),
  // full suite only
  project('example-09', './examples/09-oauth-pkce'),
  project('example-fastify-mcp', './examples/fastify-mcp'),
  project('example-hono-mcp', './examples/hono-mcp'),
  project('example-cloudflare-workers', './examples/cloudflare-workers'),
  project('e2e', './packages/e2e'),
  project('bench', './packages/bench'),
  project('runtimes', './packages/runtimes'),
  // Tests that measure in real time or repeat a race many times, from every package, one file at a time.
  project('heavy', '.', { include: ['packages/**/*.heavy.test.ts', 'examples/**/*.heavy.test.ts'], exclude: configDefaults.exclude, ...keyPool, fileParallelism: false }),
] satisfies TestProjectConfiguration[];
