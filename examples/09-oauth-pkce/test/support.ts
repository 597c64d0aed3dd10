import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import * as oauth from 'oauth4webapi';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));

export const CONFIDENTIAL = { id: 'demo-client', secret: 'demo-secret-for-tests' };
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
export const LOOPBACK_REDIRECT = 'http://127.0.0.1/callback';
/** oauth4webapi refuses plain http unless told; the example runs on http://localhost. */
export const insecure = { [oauth.allowInsecureRequests]: true } as const;

export interface RunningExample {
  /** Where this process answers: http://localhost:<port>. */
  base: string;
  /** The issuer (and so the audience prefix of its tokens): `base` unless OAUTH_ISSUER was given. */
  issuer: string;
  port: number;
  /** Everything the process printed so far. */
  output(): string;
  /** Whether the process is still running (it must survive a database outage). */
  alive(): boolean;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/**
 * Starts `src/server.ts` as `pnpm example:server:09` does, in its own process on 127.0.0.1, and waits until
 * it serves its metadata. The store is `memory` unless `env` names another, so tests never write into the
 * example's own `data/`. Pass `port` to start a successor on the port of a stopped process (same issuer).
 */
export async function startExample(env: Record<string, string>, options: { port?: number } = {}): Promise<RunningExample> {
  const port = options.port ?? (await freePort());
  const child = spawn(process.execPath, ['--conditions=@keyward/source', '--import', 'tsx', 'src/server.ts'], {
    cwd: EXAMPLE_DIR,
    env: { ...process.env, NODE_OPTIONS: '', OAUTH_STORE: 'memory', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const base = `http://localhost:${port}`;

  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`example server exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${base}/.well-known/oauth-authorization-server`).then((response) => response.ok, () => false);
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`example server did not start within 30 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }

  return {
    base,
    issuer: env.OAUTH_ISSUER ?? base,
    port,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** The authorization request of a PKCE client, and what it must remember for the token request. */
export async function authorizationRequest(
  as: oauth.AuthorizationServer,
  clientId: string,
  options: { scope: string; redirectUri: string },
): Promise<{ url: URL; codeVerifier: string; state: string }> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: options.redirectUri,
    scope: options.scope,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
  }).toString();
  return { url, codeVerifier, state };
}

/** What a client keeps between the authorization response and the token request. */
export interface IssuedCode {
  code: string;
  codeVerifier: string;
  redirectUri: string;
}

/**
 * Runs the authorization request of the public client against a server started with OAUTH_DEV_LOGIN (which
 * approves at once) with plain fetch, and returns the code from the redirect.
 */
export async function devLoginCode(base: string, scope = 'mcp:tools offline_access'): Promise<IssuedCode> {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const redirectUri = 'http://127.0.0.1:49200/callback';
  const query = new URLSearchParams({
    response_type: 'code',
    client_id: PUBLIC_CLIENT_ID,
    redirect_uri: redirectUri,
    scope,
    state: 'state-1',
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  });
  const response = await fetch(`${base}/oauth/authorize?${query}`, { redirect: 'manual' });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) throw new Error(`authorization answered ${response.status}: ${await response.text()}`);
  const code = new URL(location).searchParams.get('code');
  if (!code) throw new Error(`no code in ${location}`);
  return { code, codeVerifier, redirectUri };
}

/** POSTs a form to the token endpoint of `base` for the public client. */
export function tokenRequest(base: string, params: Record<string, string>): Promise<Response> {
  return fetch(`${base}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ client_id: PUBLIC_CLIENT_ID, ...params }),
  });
}

export function redeemCode(base: string, issued: IssuedCode): Promise<Response> {
  return tokenRequest(base, { grant_type: 'authorization_code', code: issued.code, code_verifier: issued.codeVerifier, redirect_uri: issued.redirectUri });
}

export function refresh(base: string, refreshToken: string): Promise<Response> {
  return tokenRequest(base, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

export interface Tokens {
  access_token: string;
  refresh_token: string;
  scope: string;
}

/** Code flow with dev login, up to the tokens; throws unless the token endpoint answers 200. */
export async function devLoginTokens(base: string, scope?: string): Promise<Tokens> {
  const response = await redeemCode(base, await devLoginCode(base, scope));
  const body = await response.json();
  if (response.status !== 200) throw new Error(`token endpoint answered ${response.status}: ${JSON.stringify(body)}`);
  return body as Tokens;
}

/** The text of the first content item of a tool result, parsed as JSON. */
export function toolJSON(result: unknown): Record<string, unknown> {
  const { content } = result as { content: { type: string; text: string }[] };
  return JSON.parse(content[0]!.text);
}

/** A connected MCP SDK v1 client sending `accessToken` (and, when given, resuming `sessionId`). */
export async function mcpClient(base: string, accessToken: string): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } });
  await client.connect(transport);
  return { client, transport };
}

/** Calls `whoami` through a fresh MCP session with `accessToken`. */
export async function whoami(base: string, accessToken: string): Promise<Record<string, unknown>> {
  const { client } = await mcpClient(base, accessToken);
  try {
    return toolJSON(await client.callTool({ name: 'whoami', arguments: {} }));
  } finally {
    await client.close();
  }
}

/** An MCP initialize request, for raw POSTs. */
export const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'keyward-example-test', version: '0.0.0' } },
} as const;

/** One raw JSON-RPC POST to /mcp, for what an SDK client would not send (a foreign session id, say). */
export function postMcp(base: string, accessToken: string, message: unknown, sessionId?: string): Promise<Response> {
  return fetch(`${base}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${accessToken}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      ...(sessionId && { 'mcp-session-id': sessionId }),
    },
    body: JSON.stringify(message),
  });
}

/** Retries `check` until it returns true, or fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
