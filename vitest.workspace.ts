import { defineProject, type TestProjectConfiguration } from 'vitest/config';

// Workspace packages are resolved to their TypeScript sources (the `@keyward/source` export condition), so tests
// need no build step and a stack trace points at the file you edit.
//
// Vitest hands ssr.resolve.conditions to the worker's Node as --conditions, and Node applies those to
// require() too: with `import` (or `module`) listed, express's router require()s is-promise's ESM build and
// gets a namespace object instead of a function. So the list names only what Node does not add by itself.
const conditions = ['@keyward/source', 'node', 'default'];

function project(name: string, root: string, extra: Record<string, unknown> = {}): TestProjectConfiguration {
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@keyward/source'] } },
    test: {
      name,
      root,
      include: ['test/**/*.test.ts', 'src/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 60_000,
      ...extra,
    },
  });
}

export default [
  project('core', './packages/core'),
  project('express', './packages/express'),
  project('fastify', './packages/fastify'),
  project('hono', './packages/hono'),
  project('upstream', './packages/upstream'),
  project('sql-kit', './packages/stores/sql-kit'),
  project('store-sqlite', './packages/stores/sqlite'),
  project('store-postgres', './packages/stores/postgres', { fileParallelism: false }),
  project('store-mysql', './packages/stores/mysql', { fileParallelism: false }),
  project('store-redis', './packages/stores/redis', { fileParallelism: false }),
  project('example-09', './examples/09-oauth-pkce'),
  project('example-fastify-mcp', './examples/fastify-mcp'),
  project('example-hono-mcp', './examples/hono-mcp'),
  project('e2e', './packages/e2e'),
  project('bench', './packages/bench'),
  project('runtimes', './packages/runtimes'),
] satisfies TestProjectConfiguration[];
