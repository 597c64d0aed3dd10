import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundle, type Bundles } from '../src/bundle.js';
import { runOn, type Runtime, type RuntimeReport } from '../src/launch.js';

// Core's two conformance suites (the Store contract on MemoryStore, HTTP on server.fetch), bundled once from
// source, run unchanged on each runtime. A runtime passes when its report names it, no test failed or was
// skipped, and it passed as many tests as Node did.

// A runtime's whole suite is one vitest test; on a loaded machine that is seconds, so well above the default.
const RUNTIME_TIMEOUT_MS = 150_000;

describe('RT: core runs on Node, Deno, Bun and workerd', () => {
  let outdir: string;
  let bundles: Bundles;
  let onNode: number | undefined;

  beforeAll(async () => {
    outdir = await mkdtemp(join(tmpdir(), 'keyward-runtimes-'));
    const started = performance.now();
    bundles = await bundle(outdir);
    console.log(`[runtimes] bundle: ${Math.round(performance.now() - started)} ms`);
  });
  afterAll(async () => {
    await rm(outdir, { recursive: true, force: true });
  });

  async function reportOf(runtime: Runtime): Promise<RuntimeReport> {
    const report = await runOn(runtime, bundles);
    const counts = report.counts ? `${report.counts.passed} passed, ${report.counts.failed} failed` : 'no report';
    console.log(`[runtimes] ${runtime}: ${Math.round(report.ms)} ms, ${counts}`);
    return report;
  }

  function expectAllPassed(report: RuntimeReport, reportedAs: RegExp): void {
    const failures = report.output.split('\n').filter((line) => !line.startsWith('ok ')).join('\n');
    expect(report.counts, failures).toBeDefined();
    expect(report.counts!.runtime).toMatch(reportedAs);
    expect(report.counts!.failed, failures).toBe(0);
    expect(report.counts!.skipped, failures).toBe(0);
    expect(report.counts!.passed).toBeGreaterThan(0);
  }

  it('RT-01: the Store and HTTP conformance suites pass on Node', async () => {
    const report = await reportOf('node');
    expectAllPassed(report, /^node \d+\./);
    onNode = report.counts!.passed;
  }, RUNTIME_TIMEOUT_MS);

  const others: Array<[id: string, runtime: Runtime, reportedAs: RegExp]> = [
    ['RT-02', 'deno', /^deno \d+\./],
    ['RT-03', 'bun', /^bun \d+\./],
    // No nodejs_compat: no `Buffer`, no `node:` modules, as a Worker has by default.
    ['RT-04', 'workerd', /^workerd$/],
  ];
  for (const [id, runtime, reportedAs] of others) {
    it(`${id}: the same suites pass on ${runtime}, as many tests as on Node`, async () => {
      const report = await reportOf(runtime);
      expectAllPassed(report, reportedAs);
      if (onNode !== undefined) expect(report.counts!.passed).toBe(onNode);
    }, RUNTIME_TIMEOUT_MS);
  }

  // With nodejs_compat, workerd offers node:crypto through process.getBuiltinModule, so core signs JWTs with it,
  // and workerd's sign() refuses the { key: KeyObject, dsaEncoding } that core passes for ES256: every answer
  // that mints an access token is a 500. Once core signs there (or falls back to Web Crypto), this becomes the
  // same check as RT-04.
  it('RT-05: on workerd with nodejs_compat, core fails only where it mints an access token (500)', async () => {
    const report = await reportOf('workerd+nodejs_compat');
    expect(report.counts, report.output).toBeDefined();
    expect(report.counts!.runtime).toBe('workerd');
    expect(report.counts!.failed, 'workerd with nodejs_compat passes now: make RT-05 the same check as RT-04').toBeGreaterThan(0);
    // The first line of each failure's message: a server_error answer where a token was expected.
    const failures = report.output.split('\n').flatMap((line, i, lines) => (line.startsWith('FAIL ') ? [[line, lines[i + 1]!.trim()]] : []));
    expect(failures.length).toBe(report.counts!.failed);
    for (const [test, reason] of failures) {
      expect(test).toMatch(/^FAIL HTTP conformance: /);
      expect(reason).toMatch(/^AssertionError: expected 500 to be 200|^AssertionError: expected \{ active: false \} to match object \{ active: true/);
    }
  }, RUNTIME_TIMEOUT_MS);
});
