/**
 * `pnpm bench`: throughput of the token endpoint and of a bearer-guarded MCP request on each example
 * (Express, Fastify, Hono), beside raw jose ES256 sign/verify and the bare framework measured in the same
 * run on the same core, then the stores' consume and rotate operations. The machine is shared and
 * noisy, so the ratios are the figures to compare between runs, not the absolute numbers.
 *
 * The server runs pinned to core 0 (taskset) and the load generator on the other core.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { calculatePKCECodeChallenge, randomToken } from '@keyward/core';
import { benchStores } from './stores.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const here = 'packages/bench/src';
const SERVER_CORE = '0';
const CODES = Number(process.env.BENCH_CODES ?? 4000);
const DURATION_SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 16;
const NODE_ARGS = ['--conditions=@keyward/source', '--import', 'tsx'];
const EXAMPLES = { express: 'examples/09-oauth-pkce', fastify: 'examples/fastify-mcp', hono: 'examples/hono-mcp' } as const;
type Framework = keyof typeof EXAMPLES;

function pinned(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
  const hasTaskset = process.platform === 'linux';
  return spawn(hasTaskset ? 'taskset' : command, hasTaskset ? ['-c', SERVER_CORE, command, ...args] : args, {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** jose ES256 sign and verify, in a child on the server's core, so both figures share a CPU. */
async function joseBaseline(): Promise<{ signPerSec: number; verifyPerSec: number; guardPerSec: number }> {
  const child = pinned(process.execPath, [...NODE_ARGS, `${here}/jose-baseline.ts`]);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`jose baseline exited with ${code}`);
  return JSON.parse(output.trim().split('\n').pop()!);
}

async function waitForServer(url: string, init?: RequestInit): Promise<void> {
  for (let attempt = 0; attempt < 300; attempt++) {
    try {
      await fetch(url, init);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${url} did not answer`);
}

function stopper(child: ChildProcess): () => Promise<void> {
  return async () => {
    if (child.exitCode !== null) return;
    child.kill('SIGTERM');
    await once(child, 'exit');
  };
}

async function startExample(framework: Framework): Promise<{ base: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child = pinned(process.execPath, [...NODE_ARGS, `${EXAMPLES[framework]}/src/server.ts`], {
    PORT: String(port),
    OAUTH_DEV_LOGIN: 'demo',
    OAUTH_STORE: process.env.BENCH_STORE ?? 'memory',
    OAUTH_CLIENT_ID: 'bench-client',
    OAUTH_CLIENT_SECRET: 'bench-secret-bench-secret',
  });
  const base = `http://127.0.0.1:${port}`;
  await waitForServer(`${base}/.well-known/oauth-authorization-server`);
  return { base, stop: stopper(child) };
}

async function bareFramework(framework: Framework) {
  const port = await freePort();
  const child = pinned(process.execPath, [...NODE_ARGS, `${here}/bare-server.ts`, framework, String(port)]);
  const base = `http://127.0.0.1:${port}`;
  await waitForServer(`${base}/bare`, { method: 'POST' });
  try {
    return await load({
      url: `${base}/bare`,
      duration: DURATION_SECONDS,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
    });
  } finally {
    await stopper(child)();
  }
}

async function inParallel<T>(count: number, concurrency: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const index = next++;
        results[index] = await task(index);
      }
    }),
  );
  return results;
}

/** Authorization codes made ahead of the measurement, since each code works once. */
async function issueCodes(base: string, count: number): Promise<{ code: string; verifier: string }[]> {
  return inParallel(count, CONNECTIONS, async () => {
    const verifier = randomToken();
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: 'mcp-public-client',
      redirect_uri: 'http://127.0.0.1/callback',
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      scope: 'mcp:tools',
    });
    const response = await fetch(`${base}/oauth/authorize?${query}`, { redirect: 'manual' });
    const code = new URL(response.headers.get('location')!).searchParams.get('code');
    if (!code) throw new Error(`authorize failed: ${response.status}`);
    return { code, verifier };
  });
}

async function load(options: autocannon.Options): Promise<{ perSec: number; errors: number; non2xx: number; p99: number }> {
  const started = performance.now();
  let lastResponse = started;
  // Without a callback autocannon returns its instance, which is also a promise of the result.
  const instance = autocannon({ connections: CONNECTIONS, pipelining: 1, ...options }) as unknown as autocannon.Instance & PromiseLike<autocannon.Result>;
  instance.on('response', () => void (lastResponse = performance.now()));
  const result = await instance;
  // Timed to the last response ourselves: autocannon's own duration is counted in whole sample ticks (1 s),
  // which overstates a fixed-amount run (the token endpoint's) by up to a second.
  return { perSec: result.requests.total / ((lastResponse - started) / 1000), errors: result.errors, non2xx: result.non2xx, p99: result.latency.p99 };
}

async function tokenEndpoint(base: string) {
  const codes = await issueCodes(base, CODES);
  let next = 0;
  return load({
    url: `${base}/oauth/token`,
    amount: CODES,
    requests: [
      {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        setupRequest: (request) => {
          const { code, verifier } = codes[next++ % codes.length]!;
          request.body = new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'mcp-public-client' }).toString();
          return request;
        },
      },
    ],
  });
}

async function mcpSession(base: string): Promise<{ token: string; sessionId: string }> {
  const [{ code, verifier }] = (await issueCodes(base, 1)) as [{ code: string; verifier: string }];
  const tokenResponse = await fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'mcp-public-client' }),
  });
  const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  const init = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
  });
  const sessionId = init.headers.get('mcp-session-id')!;
  await init.text();
  await fetch(`${base}/mcp`, { method: 'POST', headers: { ...headers, 'mcp-session-id': sessionId }, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
  return { token, sessionId };
}

async function guardedMcp(base: string) {
  const { token, sessionId } = await mcpSession(base);
  return load({
    url: `${base}/mcp`,
    duration: DURATION_SECONDS,
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sessionId,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'whoami', arguments: {} } }),
  });
}

async function unauthenticatedMcp(base: string) {
  return load({ url: `${base}/mcp`, duration: DURATION_SECONDS, method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
}

function row(name: string, perSec: number, baseline: number | undefined, note = ''): string {
  const ratio = baseline ? `${(perSec / baseline).toFixed(3)}` : '';
  return `| ${name} | ${Math.round(perSec).toLocaleString('en-US')} | ${ratio} | ${note} |`;
}

const jose = await joseBaseline();
const lines = [
  `Server pinned to core ${SERVER_CORE}; ${CONNECTIONS} connections; Node ${process.version}; store ${process.env.BENCH_STORE ?? 'memory'}.`,
  '',
  '| measurement | per second | ratio | note |',
  '|---|---|---|---|',
  row('jose ES256 sign (baseline)', jose.signPerSec, undefined, 'one core, in-process loop'),
  row('jose ES256 verify (baseline)', jose.verifyPerSec, undefined, 'one core, in-process loop'),
  row('guard.authenticate in-process (no HTTP)', jose.guardPerSec, jose.verifyPerSec, "ratio to jose verify: the guard's own overhead"),
];

const express09 = await startExample('express');
try {
  const token = await tokenEndpoint(express09.base);
  lines.push(row('token endpoint (express): authorization_code + PKCE, ES256 JWT', token.perSec, jose.signPerSec, `ratio to jose sign; p99 ${token.p99} ms; ${token.non2xx} non-2xx`));
  const challenge = await unauthenticatedMcp(express09.base);
  lines.push(row('MCP request without a token (express, 401 challenge)', challenge.perSec, jose.verifyPerSec, "ratio to jose verify; the guard's cheapest path"));
} finally {
  await express09.stop();
}

for (const framework of Object.keys(EXAMPLES) as Framework[]) {
  const bare = await bareFramework(framework);
  const example = await startExample(framework);
  try {
    const guarded = await guardedMcp(example.base);
    lines.push(row(`bare ${framework}: POST JSON route (baseline)`, bare.perSec, undefined, `p99 ${bare.p99} ms`));
    lines.push(
      row(`bearer-guarded MCP tools/call whoami (${framework})`, guarded.perSec, bare.perSec, `ratio to bare ${framework}; ${(guarded.perSec / jose.verifyPerSec).toFixed(3)} of jose verify; p99 ${guarded.p99} ms; ${guarded.non2xx} non-2xx`),
    );
  } finally {
    await example.stop();
  }
}
console.log(lines.join('\n'));

const stores = await benchStores();
const memory = stores.find((result) => result.store === 'memory');
const ratio = (value: number, base: number | undefined) => (base ? (value / base).toFixed(3) : '');
console.log('\n| store | consume codes/s | rotate refresh/s | consume ratio to memory | rotate ratio to memory |');
console.log('|---|---|---|---|---|');
for (const result of stores) {
  console.log(`| ${result.store} | ${Math.round(result.consumePerSec)} | ${Math.round(result.rotatePerSec)} | ${ratio(result.consumePerSec, memory?.consumePerSec)} | ${ratio(result.rotatePerSec, memory?.rotatePerSec)} |`);
}
