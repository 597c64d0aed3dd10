/**
 * Bundles the suites from core's TypeScript sources into two plain ES modules: `script.js` for Node, Deno
 * and Bun, and `worker.js` for workerd. `vitest` becomes the runtime-neutral runner, and `node:` imports are
 * left as they are, so a runtime without them fails loudly instead of the bundler hiding the problem.
 *
 * @module
 */
import { build, type Plugin } from 'esbuild';
import { fileURLToPath } from 'node:url';

const runner = fileURLToPath(new URL('./runner.ts', import.meta.url));

const vitestToRunner: Plugin = {
  name: 'vitest-to-runner',
  setup(build) {
    build.onResolve({ filter: /^vitest$/ }, () => ({ path: runner }));
  },
};

/** Where {@link bundle} wrote each entry. */
export interface Bundles {
  script: string;
  worker: string;
}

/**
 * Writes `script.js` and `worker.js` into `outdir`.
 *
 * @example
 * ```ts
 * const { script } = await bundle(await mkdtemp(join(tmpdir(), 'keyward-runtimes-')));
 * ```
 */
export async function bundle(outdir: string): Promise<Bundles> {
  await build({
    entryPoints: {
      script: fileURLToPath(new URL('./script.ts', import.meta.url)),
      worker: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    },
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    // Core's exports are resolved to its sources, as the workspace's tests do.
    conditions: ['@keyward/source'],
    mainFields: ['module', 'main'],
    external: ['node:*'],
    plugins: [vitestToRunner],
    logLevel: 'warning',
  });
  return { script: `${outdir}/script.js`, worker: `${outdir}/worker.js` };
}
