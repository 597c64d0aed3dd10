// The summary that decides .ci/mcp-conformance.sh's exit code, on results laid out as the suite writes them.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const summarize = fileURLToPath(new URL('../src/summarize.mjs', import.meta.url));
const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((dir) => rmSync(dir, { recursive: true, force: true })));

type Check = { id: string; status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'SKIPPED'; errorMessage?: string };

function layout(manifest: string[][], results: Record<string, Check[]>): string {
  const out = mkdtempSync(join(tmpdir(), 'keyward-conformance-'));
  dirs.push(out);
  writeFileSync(join(out, 'manifest.tsv'), manifest.map((row) => `${row.join('\t')}\n`).join(''));
  for (const [path, checks] of Object.entries(results)) {
    mkdirSync(join(out, path), { recursive: true });
    writeFileSync(join(out, path, 'checks.json'), JSON.stringify(checks));
  }
  return out;
}

function run(out: string) {
  const result = spawnSync(process.execPath, [summarize, '--out', out], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout };
}

const ok = (id: string): Check => ({ id, status: 'SUCCESS' });

describe('summarize.mjs', () => {
  it('passes when every gating scenario passed, and prints a "N passed, N failed" closing line', () => {
    const out = layout(
      [
        ['09', 'authorization', 'authorization-server-metadata-endpoint', '1'],
        ['09', 'authorization', 'authorization-code-grant', '1'],
        ['09', 'server', 'ping', '1'],
        ['hono-mcp', 'skipped', 'no examples/hono-mcp/src/server.ts', '0'],
      ],
      {
        '09/authorization/authorization-server-authorization-server-metadata-endpoint-2026-11-27T08-11-41-464Z': [ok('authorization-server-metadata'), { id: 'authorization-server-metadata-cimd', status: 'WARNING' }],
        '09/authorization/authorization-server-authorization-code-grant-2026-11-27T08-11-41-545Z': [ok('authorization-code-grant')],
        '09/server/server-ping-2026-11-27T08-13-31-856Z': [ok('ping'), ok('wire-schema-valid')],
      },
    );
    const { status, stdout } = run(out);
    expect(status).toBe(0);
    expect(stdout).toMatch(/authorization-code-grant\s+PASS/);
    expect(stdout).toMatch(/hono-mcp\s+skipped.*SKIP/);
    expect(stdout.trim().split('\n').at(-1)).toBe('conformance: 3 passed, 0 failed');
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toMatchObject({ passed: 3, failed: 0, gatingFailures: 0 });
  });

  it('fails on a failed check, a skipped code grant, or a scenario that wrote no result, and names the failed check', () => {
    const out = layout(
      [
        ['09', 'authorization', 'authorization-server-metadata-endpoint', '1'],
        ['09', 'authorization', 'authorization-code-grant', '1'],
        ['09', 'server', 'ping', '1'],
      ],
      {
        '09/authorization/authorization-server-authorization-server-metadata-endpoint-2026-11-27T08-11-41-464Z': [
          { id: 'authorization-server-metadata', status: 'FAILURE', errorMessage: 'Invalid issuer: http://127.0.0.1:3009' },
        ],
        '09/authorization/authorization-server-authorization-code-grant-2026-11-27T08-11-41-545Z': [{ id: 'authorization-code-grant', status: 'SKIPPED' }],
      },
    );
    const { status, stdout } = run(out);
    expect(status).toBe(1);
    expect(stdout).toContain('FAILURE authorization-server-metadata: Invalid issuer: http://127.0.0.1:3009');
    expect(stdout).toMatch(/authorization-code-grant\s+FAIL\s+0 ok, 0 failed, 1 skipped/);
    expect(stdout).toMatch(/ping\s+FAIL\s+no result written/);
    expect(stdout.trim().split('\n').at(-1)).toBe('conformance: 0 passed, 3 failed');
  });

  it('reports advisory failures without failing, and fails on an example that broke', () => {
    const advisory = layout([['09', 'server', 'ping', '0']], { '09/server/server-ping-2026-11-27T08-13-31-856Z': [{ id: 'ping', status: 'FAILURE' }] });
    expect(run(advisory)).toMatchObject({ status: 0, stdout: expect.stringContaining('(advisory)') });
    const broken = layout([['fastify-mcp', 'error', 'server did not start', '1']], {});
    expect(run(broken)).toMatchObject({ status: 1, stdout: expect.stringMatching(/fastify-mcp\s+error\s+-\s+ERROR\s+server did not start/) });
  });
});
