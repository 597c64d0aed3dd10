/**
 * The entry for runtimes that run a script: Node, Deno and Bun. Prints one line per test and the counts, and
 * exits non-zero when a test failed or none ran.
 *
 * @module
 */
import { runtimeName } from './suites.js';
import { formatSummary, run } from './runner.js';

const summary = await run(runtimeName());
console.log(formatSummary(summary));
const code = summary.failed > 0 || summary.passed === 0 ? 1 : 0;
const g = globalThis as { Deno?: { exit(code: number): never }; process?: { exitCode?: number } };
// Deno has no `process` global in a script; Node and Bun set the exit code without cutting stdout short.
if (g.Deno) g.Deno.exit(code);
else if (g.process) g.process.exitCode = code;
