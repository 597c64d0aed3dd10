/**
 * The behaviour every example MCP server shares, driven over HTTP against the example running in its own
 * process, the way MCP hosts and browsers drive it: discovery, the MCP SDK client's authorization flow,
 * session binding, step-up to mcp:admin, and core's login pages. Each example's test calls it once.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auth, UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Browser, HeadlessProvider, PUBLIC_CLIENT_ID, startExample, type RunningExample } from './harness.js';

/** Which example to run: its folder and a short name for temporary files. */
export interface ExampleSuiteOptions {
  name: string;
  dir: string;
  /** More checks that need the running example (framework-specific behaviour). */
  extra?: (example: () => RunningExample) => void;
}

/** Registers the shared suite for one example. */
export function describeExample(options: ExampleSuiteOptions): void {
  let example: RunningExample;
  let mcpURL: string;

  beforeAll(async () => {
    example = await startExample(options.dir, { OAUTH_DEV_LOGIN: 'demo', OAUTH_STORE: 'memory' });
    mcpURL = `${example.base}/mcp`;
  });

  afterAll(async () => {
    await example?.stop();
  });

  function toolJSON(result: unknown): Record<string, unknown> {
    const { content } = result as { content: { type: string; text: string }[] };
    return JSON.parse(content[0]!.text);
  }

  /** An MCP client session with the provider's token. */
  async function connect(provider: HeadlessProvider): Promise<Client> {
    const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    return client;
  }

  /** Authorizes a fresh public client for `scope` with auth(), as an MCP host does after a challenge. */
  async function authorized(scope: string): Promise<HeadlessProvider> {
    const provider = new HeadlessProvider();
    expect(await auth(provider, { serverUrl: mcpURL, scope })).toBe('REDIRECT');
    const authorizationCode = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: mcpURL, scope, authorizationCode })).toBe('AUTHORIZED');
    return provider;
  }

  function challengeParams(response: Response): Record<string, string> {
    const header = response.headers.get('www-authenticate') ?? '';
    return Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((match) => [match[1]!, match[2]!]));
  }

  describe('discovery', () => {
    it('AUTHZ-DISC-02/03: RFC 8414 metadata with the exact issuer and S256', async () => {
      const metadata = await (await fetch(`${example.base}/.well-known/oauth-authorization-server`)).json();
      expect(metadata.issuer).toBe(example.base);
      expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
      expect(metadata.token_endpoint).toBe(`${example.base}/oauth/token`);
    });

    it('AUTHZ-RS-04: RFC 9728 metadata of /mcp, path-inserted', async () => {
      const metadata = await (await fetch(`${example.base}/.well-known/oauth-protected-resource/mcp`)).json();
      expect(metadata).toMatchObject({ resource: mcpURL, authorization_servers: [example.base], scopes_supported: ['mcp:tools', 'mcp:resources'] });
    });
  });

  describe('/mcp before authorization', () => {
    it('AUTHZ-RS-02, AUTHZ-RS-05: 401 with resource_metadata, no error, readable by browser clients', async () => {
      const response = await fetch(mcpURL, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://inspector.example' }, body: '{}' });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe(`Bearer resource_metadata="${example.base}/.well-known/oauth-protected-resource/mcp", scope="mcp:tools"`);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      expect(response.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/i);
    });

    it('answers the CORS preflight of browser-based MCP clients', async () => {
      const response = await fetch(mcpURL, { method: 'OPTIONS', headers: { origin: 'https://inspector.example', 'access-control-request-method': 'POST' } });
      expect(response.status).toBe(204);
      expect(response.headers.get('access-control-allow-origin')).toBe('*');
      // Frameworks join the list differently (hono/cors with bare commas), so compare the names.
      expect(response.headers.get('access-control-allow-headers')?.split(/,\s*/)).toEqual(['Authorization', 'Content-Type', 'Mcp-Session-Id', 'MCP-Protocol-Version']);
    });
  });

  describe('MCP SDK v1 client', () => {
    it('AUTHZ-RURI-03, AUTHZ-ARESP-02: the 401 starts auth(); after the callback, whoami answers', async () => {
      const provider = new HeadlessProvider();
      const transport = new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider });
      await expect(new Client({ name: 'keyward-example-test', version: '0.0.0' }).connect(transport)).rejects.toThrow(UnauthorizedError);
      // The "browser" came back to the client's redirect URI with a code and, RFC 9207, the issuer.
      expect(provider.callback?.searchParams.get('iss')).toBe(example.base);
      await transport.finishAuth(provider.callback!.searchParams.get('code')!);

      const client = await connect(provider);
      const identity = toolJSON(await client.callTool({ name: 'whoami', arguments: {} }));
      await client.close();
      // The scope came from the 401's challenge: mcp:tools only.
      expect(identity).toEqual({ sub: 'demo', client_id: PUBLIC_CLIENT_ID, scopes: ['mcp:tools'] });
    });
  });

  describe('MCP sessions', () => {
    it('are bound to the grant that opened them: another grant\'s token gets 404, as for an unknown session', async () => {
      const owner = await authorized('mcp:tools');
      const transport = new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: owner });
      const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
      await client.connect(transport);
      const other = await authorized('mcp:tools');
      const ping = (token: string, sessionId: string) =>
        fetch(mcpURL, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'mcp-session-id': sessionId, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
          body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
        });
      expect((await ping(owner.tokens()!.access_token, transport.sessionId!)).status).toBe(200);
      expect((await ping(other.tokens()!.access_token, transport.sessionId!)).status).toBe(404);
      expect((await ping(owner.tokens()!.access_token, 'no-such-session')).status).toBe(404);
      await client.close();
    });
  });

  describe('admin_stats step-up', () => {
    let provider: HeadlessProvider;
    beforeAll(async () => {
      provider = await authorized('mcp:tools');
    });

    it('AUTHZ-RS-02: calling admin_stats without mcp:admin → 403 insufficient_scope naming mcp:tools mcp:admin', async () => {
      const response = await fetch(mcpURL, {
        method: 'POST',
        headers: { authorization: `Bearer ${provider.tokens()!.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'admin_stats', arguments: {} } }),
      });
      expect(response.status).toBe(403);
      expect(challengeParams(response)).toMatchObject({
        error: 'insufficient_scope',
        scope: 'mcp:tools mcp:admin',
        resource_metadata: `${example.base}/.well-known/oauth-protected-resource/mcp`,
      });
      expect(response.headers.get('access-control-expose-headers')).toMatch(/WWW-Authenticate/i);
    });

    it('the session keeps working for whoami; admin_stats is refused at the HTTP layer, not by the tool', async () => {
      const client = await connect(provider);
      expect(toolJSON(await client.callTool({ name: 'whoami', arguments: {} })).scopes).toEqual(['mcp:tools']);
      // The SDK (v1) retries once with a refreshed token, which cannot carry more scope, and gives up with the 403.
      await expect(client.callTool({ name: 'admin_stats', arguments: {} })).rejects.toThrow(/403/);
      await client.close();
    });

    it('re-authorized with the scope of the challenge, admin_stats answers', async () => {
      const stepUp = await authorized('mcp:tools mcp:admin');
      const client = await connect(stepUp);
      const stats = toolJSON(await client.callTool({ name: 'admin_stats', arguments: {} }));
      await client.close();
      expect(stats).toMatchObject({ activeSessions: expect.any(Number), uptimeSeconds: expect.any(Number) });
    });
  });

  describe('core login and consent pages (no OAUTH_DEV_LOGIN), with the default SQLite store', () => {
    let withLogin: RunningExample;
    const dataDir = mkdtempSync(join(tmpdir(), `keyward-${options.name}-example-`));
    beforeAll(async () => {
      withLogin = await startExample(options.dir, { OAUTH_DEMO_PASSWORD: 'correct horse battery staple', OAUTH_SQLITE_FILE: join(dataDir, 'keyward.db') });
    });
    afterAll(async () => {
      await withLogin?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    it('prints the store and the demo login at start', () => {
      expect(withLogin.output()).toContain(`store                 sqlite ${join(dataDir, 'keyward.db')}`);
      expect(withLogin.output()).toContain('login                 demo / the password in OAUTH_DEMO_PASSWORD');
      expect(withLogin.output()).not.toContain('correct horse battery staple');
    });

    it('AUTHZ-AZ-06: sign in as demo, allow, and redeem the code', async () => {
      const { base } = withLogin;
      const browser = new Browser();
      const verifier = randomBytes(32).toString('base64url');
      const redirectUri = 'http://127.0.0.1:49154/callback';
      const authorize = new URL(`${base}/oauth/authorize`);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id: PUBLIC_CLIENT_ID,
        redirect_uri: redirectUri,
        scope: 'mcp:tools openid',
        state: 'st',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();

      const toLogin = await browser.request(authorize);
      expect(toLogin.status).toBe(303);
      const loginURL = new URL(toLogin.headers.get('location')!, base);
      const loginPage = await (await browser.request(loginURL)).text();
      expect(loginPage).toContain('name="password"');

      const wrong = await browser.submit(loginURL, loginPage, { username: 'demo', password: 'wrong' });
      expect(wrong.status).toBe(401);
      const signedIn = await browser.submit(loginURL, loginPage, { username: 'demo', password: 'correct horse battery staple' });
      expect(signedIn.status).toBe(303);
      const consentURL = new URL(signedIn.headers.get('location')!, base);
      const consentPage = await (await browser.request(consentURL)).text();
      const allowed = await browser.submit(consentURL, consentPage, { decision: 'allow' });
      expect(allowed.status).toBe(303);

      const callback = new URL(allowed.headers.get('location')!);
      expect(callback.origin + callback.pathname).toBe(redirectUri);
      expect(callback.searchParams.get('iss')).toBe(base);
      expect(callback.searchParams.get('state')).toBe('st');
      const token = await fetch(`${base}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, code_verifier: verifier, client_id: PUBLIC_CLIENT_ID, redirect_uri: redirectUri }),
      });
      expect(token.status).toBe(200);
      const { access_token: accessToken } = await token.json();
      const userinfo = await (await fetch(`${base}/oauth/userinfo`, { headers: { authorization: `Bearer ${accessToken}` } })).json();
      expect(userinfo).toMatchObject({ sub: 'demo' });
    });
  });

  options.extra?.(() => example);
}
