/**
 * Starts each runtime on a bundle from {@link bundle} and collects its report. Node, Deno and Bun run the
 * script bundle as a child process; workerd runs the worker bundle through Miniflare (which starts workerd
 * as its own child process, listening on a free loopback port). Plain `workerd` has no compatibility flags,
 * so `Buffer` and `node:` modules are absent there, as in a Cloudflare Worker by default.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Miniflare } from 'miniflare';
import type { Bundles } from './bundle.js';

/**
 * The runtimes Keyward's core is proved on. `workerd` has no compatibility flags, as a Worker has by default;
 * `workerd+nodejs_compat` is the same with the flag that Workers projects often enable.
 */
export type Runtime = 'node' | 'deno' | 'bun' | 'workerd' | 'workerd+nodejs_compat';

/** What one runtime reported. */
export interface RuntimeReport {
  /** The whole report: one line per test, then the counts. */
  output: string;
  /** The closing line's counts; `undefined` when the runtime never got to print them. */
  counts: { runtime: string; passed: number; failed: number; skipped: number } | undefined;
  /** Wall time from start to exit, in milliseconds, runtime startup included. */
  ms: number;
}

type ScriptRuntime = Exclude<Runtime, `workerd${string}`>;

const require = createRequire(import.meta.url);
const packageDir = (name: string): string => dirname(require.resolve(`${name}/package.json`));
const TIMEOUT_MS = 120_000;
/** The newest date the pinned workerd supports is the release in its version; any earlier one works. */
const WORKERD_COMPATIBILITY_DATE = '2026-07-01';

function commandFor(runtime: ScriptRuntime, script: string): [string, string[]] {
  switch (runtime) {
    case 'node':
      return [process.execPath, [script]];
    // The npm packages' postinstall puts the real binary in the package; calling it skips a Node shim.
    case 'deno':
      // No config or lock file from the working directory. Env access is for the runner's color detection.
      return [join(packageDir('deno'), 'deno'), ['run', '--no-config', '--no-lock', '--no-prompt', '--allow-env', script]];
    case 'bun':
      return [join(packageDir('bun'), 'bin', 'bun.exe'), ['run', script]];
  }
}

/** Plain output, and no runtime phoning home (Deno's update check, Bun's crash reports) from a test run. */
const QUIET_OFFLINE_ENV = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DO_NOT_TRACK: '1' };

function parse(output: string, ms: number): RuntimeReport {
  const match = /^(.+): (\d+) passed, (\d+) failed, (\d+) skipped$/m.exec(output);
  const counts = match
    ? { runtime: match[1]!, passed: Number(match[2]), failed: Number(match[3]), skipped: Number(match[4]) }
    : undefined;
  return { output, counts, ms };
}

function runScript(runtime: ScriptRuntime, script: string): Promise<RuntimeReport> {
  const [file, args] = commandFor(runtime, script);
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(file, args, { timeout: TIMEOUT_MS, env: QUIET_OFFLINE_ENV }, (error, stdout, stderr) => {
      const exit = error ? `\n[exit] ${error.message}` : '';
      resolve(parse(`${stdout}${stderr}${exit}`, performance.now() - started));
    });
  });
}

async function runWorker(worker: string, compatibilityFlags: string[]): Promise<RuntimeReport> {
  const started = performance.now();
  const miniflare = new Miniflare({
    modules: [{ type: 'ESModule', path: 'worker.js', contents: await readFile(worker, 'utf8') }],
    compatibilityDate: WORKERD_COMPATIBILITY_DATE,
    compatibilityFlags,
  });
  let output: string;
  try {
    output = await (await miniflare.dispatchFetch('http://localhost/')).text();
  } catch (error) {
    output = `[workerd] ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    // A worker that failed to load rejects dispose with the same error, already reported above.
    await miniflare.dispose().catch(() => undefined);
  }
  return parse(output, performance.now() - started);
}

/**
 * Runs the suites on one runtime.
 *
 * @example
 * ```ts
 * const report = await runOn('deno', await bundle(outdir));
 * report.counts; // { runtime: 'deno 2.9.6', passed: 61, failed: 0, skipped: 0 }
 * ```
 */
export function runOn(runtime: Runtime, bundles: Bundles): Promise<RuntimeReport> {
  if (runtime === 'workerd') return runWorker(bundles.worker, []);
  if (runtime === 'workerd+nodejs_compat') return runWorker(bundles.worker, ['nodejs_compat']);
  return runScript(runtime, bundles.script);
}
