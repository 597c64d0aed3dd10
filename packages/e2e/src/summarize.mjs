#!/usr/bin/env node
// Reads what .ci/mcp-conformance.sh ran (manifest.tsv) and what the conformance suite wrote (checks.json per
// scenario), prints one line per scenario with its failed checks under it, writes summary.json, and exits 1
// when a gating scenario failed or left no result.
//
// manifest.tsv rows (tab-separated): example, kind, scenario-or-note, gate (1|0)
//   kind `authorization` | `server` | `server-open`: a scenario the suite was asked to run, under <out>/<example>/<kind>/
//   kind `skipped`: an example not run, with the reason; kind `error`: the run of an example broke, with the reason
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({ options: { out: { type: 'string' } } });
if (!args.out) {
  console.error('usage: summarize.mjs --out DIR');
  process.exit(2);
}
const out = args.out;
const manifest = existsSync(join(out, 'manifest.tsv'))
  ? readFileSync(join(out, 'manifest.tsv'), 'utf8').split('\n').filter(Boolean).map((line) => line.split('\t'))
  : [];

/** checks.json files of one kind of run, by scenario: the suite names each folder <prefix><scenario>-<ISO time>. */
function results(example, kind) {
  const dir = join(out, example, kind);
  const found = new Map();
  if (!existsSync(dir)) return found;
  for (const entry of readdirSync(dir)) {
    const file = join(dir, entry, 'checks.json');
    if (!existsSync(file)) continue;
    const scenario = entry.replace(/^(authorization-server|server)-/, '').replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, '');
    try {
      found.set(scenario, JSON.parse(readFileSync(file, 'utf8')));
    } catch (error) {
      found.set(scenario, [{ id: 'checks.json', status: 'FAILURE', errorMessage: `unreadable: ${error.message}` }]);
    }
  }
  return found;
}

const rows = [];
const cache = new Map();
for (const [example, kind, what, gate] of manifest) {
  if (kind === 'skipped' || kind === 'error') {
    rows.push({ example, kind, scenario: '-', result: kind === 'skipped' ? 'SKIP' : 'ERROR', gate: kind === 'error', note: what, failed: [] });
    continue;
  }
  const key = `${example}/${kind}`;
  if (!cache.has(key)) cache.set(key, results(example, kind));
  const checks = cache.get(key).get(what);
  if (!checks) {
    rows.push({ example, kind, scenario: what, result: 'FAIL', gate: gate === '1', note: 'no result written (see the logs beside it)', failed: [] });
    continue;
  }
  const count = (status) => checks.filter((check) => check.status === status).length;
  const failed = checks.filter((check) => check.status === 'FAILURE');
  const warnings = checks.filter((check) => check.status === 'WARNING');
  // As the suite scores a scenario: passed when no check failed and at least one succeeded (a SKIPPED
  // auth-code grant tested nothing).
  const passed = failed.length === 0 && count('SUCCESS') > 0;
  const note = `${count('SUCCESS')} ok, ${failed.length} failed${warnings.length ? `, ${warnings.length} warning(s)` : ''}${count('SKIPPED') ? `, ${count('SKIPPED')} skipped` : ''}`;
  rows.push({ example, kind, scenario: what, result: passed ? 'PASS' : 'FAIL', gate: gate === '1', note, failed: [...failed, ...warnings] });
}

const width = (key, min) => Math.max(min, ...rows.map((row) => String(row[key]).length));
const [we, wk, ws] = [width('example', 7), width('kind', 4), width('scenario', 8)];
console.log(`\n${'example'.padEnd(we)}  ${'kind'.padEnd(wk)}  ${'scenario'.padEnd(ws)}  result  checks`);
for (const row of rows) {
  const advisory = row.result === 'FAIL' && !row.gate ? ' (advisory)' : '';
  console.log(`${row.example.padEnd(we)}  ${row.kind.padEnd(wk)}  ${row.scenario.padEnd(ws)}  ${row.result.padEnd(6)}  ${row.note}${advisory}`);
  for (const check of row.failed) console.log(`${' '.repeat(we + 2)}${check.status} ${check.id}: ${check.errorMessage ?? check.description ?? ''}`);
}

const passed = rows.filter((row) => row.result === 'PASS').length;
const failed = rows.filter((row) => row.result === 'FAIL' || row.result === 'ERROR').length;
const failing = rows.filter((row) => (row.result === 'FAIL' || row.result === 'ERROR') && row.gate);
writeFileSync(join(out, 'summary.json'), JSON.stringify({ passed, failed, gatingFailures: failing.length, rows }, null, 2));
console.log(`\nresults: ${out}`);
if (failed > failing.length) console.log(`${failed - failing.length} failure(s) are advisory and do not fail the run`);
console.log(`conformance: ${passed} passed, ${failed} failed`);
process.exit(failing.length > 0 ? 1 : 0);
