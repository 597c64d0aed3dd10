// Node side: bundles the Worker with esbuild and runs it in Miniflare (workerd, with a local D1 database),
// as `wrangler dev` would, with no Cloudflare account and no network. Used by `pnpm start` and the tests.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';

export const WORKER_BUNDLE = fileURLToPath(new URL('../dist/worker.js', import.meta.url));
/** Where `wrangler dev` keeps local D1 data too, so `wrangler d1 execute keyward --local` sees the same rows. */
export const LOCAL_STATE = fileURLToPath(new URL('../.wrangler/state/v3/d1', import.meta.url));
/** The compatibility date of wrangler.toml. */
export const COMPATIBILITY_DATE = '2026-07-01';
/**
 * None: Keyward core, the D1 store and the MCP SDK's Web-standard transport run on workerd as they are. (With
 * `nodejs_compat` on, core would sign tokens with workerd's node:crypto, which refuses its key objects.)
 */
export const COMPATIBILITY_FLAGS: string[] = [];

/** Bundles src/worker.ts into dist/worker.js. Workspace packages resolve to their TypeScript sources. */
export async function bundleWorker(): Promise<string> {
  await build({
    entryPoints: [fileURLToPath(new URL('./worker.ts', import.meta.url))],
    outfile: WORKER_BUNDLE,
    bundle: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['@keyward/source', 'workerd', 'worker', 'browser', 'import', 'default'],
    mainFields: ['module', 'main'],
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  return WORKER_BUNDLE;
}

/** A port nobody listens on now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Options of {@link startLocal}. */
export interface LocalWorkerOptions {
  port: number;
  /** Bindings besides DB and OAUTH_ISSUER (OAUTH_DEV_LOGIN, OAUTH_DEMO_PASSWORD, …). */
  vars?: Record<string, string>;
  /** Keep D1 on disk in {@link LOCAL_STATE}; false keeps it in memory for this run only. */
  persist?: boolean;
}

/** Runs the bundled Worker in Miniflare at http://127.0.0.1:<port>; the issuer is that URL. */
export async function startLocal({ port, vars = {}, persist = false }: LocalWorkerOptions): Promise<{ miniflare: Miniflare; url: string }> {
  const url = `http://127.0.0.1:${port}`;
  const miniflare = new Miniflare({
    modules: true,
    scriptPath: WORKER_BUNDLE,
    compatibilityDate: COMPATIBILITY_DATE,
    compatibilityFlags: COMPATIBILITY_FLAGS,
    d1Databases: { DB: 'keyward' },
    d1Persist: persist ? LOCAL_STATE : false,
    bindings: { OAUTH_ISSUER: url, ...vars },
    host: '127.0.0.1',
    port,
  });
  await miniflare.ready;
  return { miniflare, url };
}
