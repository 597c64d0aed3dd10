// Runs .ci/mcp-conformance.sh (the MCP conformance suite against the example servers) when CONFORMANCE=1.
// CI calls the script directly; this is for `CONFORMANCE=1 npx vitest run --project e2e`.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../', import.meta.url));

describe.runIf(process.env.CONFORMANCE === '1')('MCP conformance suite (.ci/mcp-conformance.sh)', () => {
  it('passes every authorization scenario and the server scenarios that apply, on every example', async () => {
    const child = spawn('bash', ['.ci/mcp-conformance.sh'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    if (code !== 0) console.log(output);
    expect(code).toBe(0);
    expect(output).toMatch(/^conformance: [1-9]\d* passed, 0 failed$/m);
  }, 300_000);
});
