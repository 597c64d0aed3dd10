/**
 * Running an example as a service, the same in every example: `.env`, request and security-event logs, the
 * DEBUG trace (and no secret in any of it), /metrics, /health and /ready, rate limits per address behind a
 * trusted proxy, HTTPS enforcement, and start-up errors a person can act on. Every check drives the example
 * in its own process over HTTP and reads what it printed.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outageProxy } from '../../../stores/test-support/outage.js';
import { exampleCopy, freePort, runToExit, serveExample, spawnExample, untilServing, type ExampleProcess } from './processes.js';

export interface OperationsSuiteOptions {
  /** Short name for titles. */
  name: string;
  /** The example's folder. */
  dir: string;
}

const PUBLIC_CLIENT_ID = 'mcp-public-client';
const form = (params: Record<string, string>) => ({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(params) });
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

/** Retries until `check` holds, for output that arrives through a pipe after the response did. */
async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} not seen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `count` requests, `concurrency` at a time, and returns the responses' statuses and one 429. */
async function burst(count: number, concurrency: number, send: () => Promise<Response>): Promise<{ statuses: number[]; limited?: Response }> {
  const statuses: number[] = [];
  let limited: Response | undefined;
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next++;
        const response = await send();
        statuses.push(response.status);
        if (response.status === 429 && !limited) limited = response;
        else await response.arrayBuffer();
      }
    }),
  );
  return { statuses, ...(limited && { limited }) };
}

/** A browser in miniature that also keeps every cookie value it was ever given (they are secrets too). */
class CookieJar {
  readonly cookies = new Map<string, string>();
  readonly seen: string[] = [];
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookies.size) headers.set('cookie', [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const index = pair.indexOf('=');
      const value = pair.slice(index + 1);
      this.cookies.set(pair.slice(0, index), value);
      if (value) this.seen.push(value);
    }
    return response;
  }
  /** Posts the page's form: its hidden fields plus `fields`. */
  submit(url: string | URL, page: string, fields: Record<string, string>): Promise<Response> {
    const hidden: Record<string, string> = {};
    for (const match of page.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) hidden[match[1]!] = match[2]!;
    return this.request(url, form({ ...hidden, ...fields }));
  }
}

/** Registers the operations suite for one example. */
export function describeOperations(options: OperationsSuiteOptions): void {
  const { dir, name } = options;

  describe(`${name}: .env`, () => {
    it('OPS-EX-01: .env in the example folder sets PORT and OAUTH_CLIENT_ID; a variable of the real environment wins over the file', async () => {
      const port = await freePort();
      const copy = exampleCopy(dir, {
        '.env': [
          '# comments and quotes as in .env.example',
          `PORT=${port}`,
          'OAUTH_CLIENT_ID=dotenv-client',
          'OAUTH_CLIENT_SECRET="dotenv-client-secret-0123456789"',
          'OAUTH_STORE=memory',
          'RATE_LIMIT_MCP_MAX=111',
        ].join('\n'),
      });
      const example = spawnExample(copy.dir, { HOST: '127.0.0.1', RATE_LIMIT_MCP_MAX: '222' });
      try {
        await untilServing(example, `http://localhost:${port}`);
        const response = await fetch(`http://localhost:${port}/oauth/token`, {
          ...form({ grant_type: 'client_credentials', scope: 'mcp:tools' }),
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic('dotenv-client', 'dotenv-client-secret-0123456789') },
        });
        expect(response.status, await response.clone().text()).toBe(200);
        expect((await response.json()).access_token).toEqual(expect.any(String));
        expect(example.stdout()).toContain('confidential client   dotenv-client');
        expect(example.stdout()).toContain('222 per 60000 ms on /mcp');
      } finally {
        await example.stop();
        copy.remove();
      }
    });

    it('OPS-EX-01: .env.example lists every variable the example reads, each with a line of explanation, and none it does not', () => {
      const example = readFileSync(join(dir, '.env.example'), 'utf8').split('\n');
      const listed = new Map<string, string>();
      example.forEach((line, index) => {
        const match = /^#?([A-Z][A-Z0-9_]+)=/.exec(line);
        if (match) listed.set(match[1]!, example[index - 1] ?? '');
      });
      const sources = readdirSync(join(dir, 'src')).filter((file) => file.endsWith('.ts')).map((file) => readFileSync(join(dir, 'src', file), 'utf8')).join('\n');
      const read = new Set([...sources.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\(env, '([A-Z][A-Z0-9_]+)'|\benv\[\s*'([A-Z][A-Z0-9_]+)'/g)].map((match) => match[1] ?? match[2] ?? match[3]!));
      read.delete('ENV_FILE'); // names the file itself
      expect([...read].filter((name) => !listed.has(name)), 'read but not in .env.example').toEqual([]);
      expect([...listed.keys()].filter((name) => !sources.includes(name)), 'in .env.example but never read').toEqual([]);
      for (const [variable, explanation] of listed) expect(explanation, variable).toMatch(/^# \S/);
    });

    it('the examples carry the same src/ops.ts, line for line', () => {
      const reference = readFileSync(join(dir, '..', '09-oauth-pkce', 'src', 'ops.ts'), 'utf8');
      expect(readFileSync(join(dir, 'src', 'ops.ts'), 'utf8')).toBe(reference);
    });

    it('OPS-EX-01: ENV_FILE names another file to read instead', async () => {
      const port = await freePort();
      const file = join(tmpdir(), `keyward-${name}-${randomBytes(4).toString('hex')}.env`);
      writeFileSync(file, `PORT=${port}\nOAUTH_CLIENT_ID=env-file-client\nOAUTH_CLIENT_SECRET=env-file-client-secret-0123456789\n`);
      const example = spawnExample(dir, { HOST: '127.0.0.1', OAUTH_STORE: 'memory', ENV_FILE: file });
      try {
        await untilServing(example, `http://localhost:${port}`);
        expect(example.stdout()).toContain('confidential client   env-file-client');
      } finally {
        await example.stop();
      }
    });
  });

  describe(`${name}: logs, events and the DEBUG trace`, () => {
    let example: ExampleProcess;
    const secrets: string[] = [];
    const password = `pw-${randomBytes(12).toString('base64url')}`;
    const staticSecret = `static-${randomBytes(16).toString('base64url')}`;

    beforeAll(async () => {
      example = await serveExample(dir, { DEBUG: 'oauth:*', OAUTH_DEMO_PASSWORD: password, OAUTH_CLIENT_ID: 'ops-static-client', OAUTH_CLIENT_SECRET: staticSecret });
      secrets.push(password, staticSecret);
    });
    afterAll(() => example?.stop());

    it('OPS-EX-02, OPS-EX-03, OPS-EX-05: a full flow with DEBUG=oauth:* logs every request and security event, and no code, token, secret, password or cookie', async () => {
      const { base } = example;
      const redirectUri = 'http://127.0.0.1:49160/callback';

      // Registration: a confidential client, its secret and registration access token.
      const registered = await (
        await fetch(`${base}/oauth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ client_name: 'ops secrets test', redirect_uris: [redirectUri], token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], scope: 'mcp:tools openid offline_access' }),
        })
      ).json();
      expect(registered.client_secret).toEqual(expect.any(String));
      secrets.push(registered.client_secret, registered.registration_access_token);
      const read = await fetch(registered.registration_client_uri, { headers: { authorization: `Bearer ${registered.registration_access_token}` } });
      expect(read.status).toBe(200);
      const auth = basic(registered.client_id, registered.client_secret);

      // The login page: a wrong password, then the right one, consent, and the code.
      const browser = new CookieJar();
      const verifier = randomBytes(32).toString('base64url');
      secrets.push(verifier);
      const authorize = new URL(`${base}/oauth/authorize`);
      authorize.search = new URLSearchParams({
        response_type: 'code',
        client_id: registered.client_id,
        redirect_uri: redirectUri,
        scope: 'mcp:tools openid offline_access',
        state: 'ops-state',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
      }).toString();
      const toLogin = await browser.request(authorize);
      const loginURL = new URL(toLogin.headers.get('location')!, base);
      const loginPage = await (await browser.request(loginURL)).text();
      const wrongPassword = `wrong-${randomBytes(9).toString('base64url')}`;
      secrets.push(wrongPassword);
      expect((await browser.submit(loginURL, loginPage, { username: 'demo', password: wrongPassword })).status).toBe(401);
      const signedIn = await browser.submit(loginURL, loginPage, { username: 'demo', password });
      expect(signedIn.status).toBe(303);
      const consentURL = new URL(signedIn.headers.get('location')!, base);
      const allowed = await browser.submit(consentURL, await (await browser.request(consentURL)).text(), { decision: 'allow' });
      const code = new URL(allowed.headers.get('location')!).searchParams.get('code')!;
      expect(code).toEqual(expect.any(String));
      secrets.push(code, ...browser.seen);

      const tokenHeaders = { 'content-type': 'application/x-www-form-urlencoded', authorization: auth };
      const tokens = await (await fetch(`${base}/oauth/token`, { method: 'POST', headers: tokenHeaders, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }) })).json();
      expect(tokens.access_token).toEqual(expect.any(String));
      secrets.push(tokens.access_token, tokens.refresh_token, tokens.id_token);
      // The same code again: a replay, which revokes the grant.
      const replay = await fetch(`${base}/oauth/token`, { method: 'POST', headers: tokenHeaders, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }) });
      expect(replay.status).toBe(400);

      // A second grant to refresh, introspect and revoke.
      const staticAuth = basic('ops-static-client', staticSecret);
      const cc = await (await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: staticAuth }, body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'mcp:tools mcp:admin' }) })).json();
      secrets.push(cc.access_token);
      const introspected = await (await fetch(`${base}/oauth/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: staticAuth }, body: new URLSearchParams({ token: cc.access_token }) })).json();
      expect(introspected.active).toBe(true);
      const mcp = await fetch(`${base}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${cc.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'ops', version: '0' } } }),
      });
      expect(mcp.status).toBe(200);
      await mcp.body?.cancel();

      // A fresh flow whose refresh token rotates, then is revoked.
      const second = await secondGrant(base, browser, registered.client_id, auth, redirectUri);
      secrets.push(...second.secrets);
      const userinfo = await fetch(`${base}/oauth/userinfo`, { headers: { authorization: `Bearer ${second.accessToken}` } });
      expect(userinfo.status).toBe(200);
      const refreshed = await (await fetch(`${base}/oauth/token`, { method: 'POST', headers: tokenHeaders, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: second.refreshToken }) })).json();
      expect(refreshed.refresh_token).toEqual(expect.any(String));
      secrets.push(refreshed.access_token, refreshed.refresh_token);
      const revoked = await fetch(`${base}/oauth/revoke`, { method: 'POST', headers: tokenHeaders, body: new URLSearchParams({ token: refreshed.refresh_token }) });
      expect(revoked.status).toBe(200);

      await eventually(() => /\[http\] POST \/oauth\/revoke 200 /.test(example.output()), 'the request line of the revocation');
      const output = example.output();
      // The trace is on, the events and request lines are there...
      expect(output).toMatch(/^oauth:token /m);
      expect(output).toMatch(/^oauth:authorize /m);
      expect(output).toMatch(/^oauth:login /m);
      expect(output).toMatch(/^oauth:register /m);
      for (const type of ['client.registered', 'signin.failed', 'signin.succeeded', 'consent.given', 'code.issued', 'token.issued', 'code.replayed', 'refresh.rotated', 'token.revoked']) {
        expect(output, type).toMatch(new RegExp(`^\\[event\\] ${type.replace('.', '\\.')} `, 'm'));
      }
      expect(output).toMatch(new RegExp(`^\\[event\\] token\\.issued client=${registered.client_id} subject=demo grant=\\S+ source=127\\.0\\.0\\.1 endpoint=token`, 'm'));
      expect(output).toMatch(/^\[http\] GET \/oauth\/authorize 303 \d+\.\d+ms endpoint=authorize$/m);
      expect(output).toMatch(/^\[http\] POST \/oauth\/token 200 \d+\.\d+ms endpoint=token$/m);
      expect(output).toMatch(/^\[http\] POST \/mcp 200 \d+\.\d+ms endpoint=mcp$/m);
      // ...the request lines never carry a query string...
      for (const line of output.split('\n').filter((entry) => entry.startsWith('[http]'))) expect(line).not.toContain('?');
      // ...and nothing secret was printed anywhere.
      const leaked = secrets.filter((secret) => typeof secret === 'string' && secret.length >= 8 && output.includes(secret));
      expect(leaked, 'secrets found in the output').toEqual([]);
      expect(secrets.length).toBeGreaterThan(15);
    });
  });

  describe(`${name}: DEBUG namespaces`, () => {
    it('OPS-EX-04: DEBUG=oauth:token traces the token endpoint only; without DEBUG there is no trace', async () => {
      const narrow = await serveExample(dir, { DEBUG: 'oauth:token', OAUTH_DEV_LOGIN: 'demo' });
      const quiet = await serveExample(dir, { OAUTH_DEV_LOGIN: 'demo' });
      try {
        for (const example of [narrow, quiet]) {
          await (await fetch(`${example.base}/oauth/token`, form({ grant_type: 'authorization_code', code: 'nope', client_id: PUBLIC_CLIENT_ID }))).text();
          await (await fetch(`${example.base}/oauth/authorize?client_id=${PUBLIC_CLIENT_ID}`, { redirect: 'manual' })).text();
          await eventually(() => example.output().includes('[http] GET /oauth/authorize'), 'the authorize request line');
        }
        expect(narrow.output()).toMatch(/^oauth:token /m);
        expect(narrow.output()).not.toMatch(/^oauth:(authorize|login|store|register|guard) /m);
        expect(quiet.output()).not.toMatch(/^oauth:/m);
      } finally {
        await Promise.all([narrow.stop(), quiet.stop()]);
      }
    });
  });

  describe(`${name}: /metrics, /health and /ready`, () => {
    it('OPS-EX-06: on a loopback http issuer /metrics is open on the main listener, in Prometheus text', async () => {
      const example = await serveExample(dir, { OAUTH_DEV_LOGIN: 'demo' });
      try {
        await (await fetch(`${example.base}/oauth/token`, form({ grant_type: 'authorization_code', code: 'nope', client_id: PUBLIC_CLIENT_ID }))).text();
        await (await fetch(`${example.base}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).text();
        const metrics = await fetch(`${example.base}/metrics`);
        expect(metrics.status).toBe(200);
        expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
        const text = await metrics.text();
        expect(text).toMatch(/^keyward_requests_total\{endpoint="token",status_class="4xx"\} 1$/m);
        expect(text).toMatch(/^keyward_requests_total\{endpoint="mcp",status_class="4xx"\} 1$/m);
        expect(text).toMatch(/^keyward_request_duration_seconds_bucket\{endpoint="token",le="\+Inf"\} 1$/m);
        expect((await fetch(`${example.base}/health`)).status).toBe(200);
        const ready = await fetch(`${example.base}/ready`);
        expect(ready.status).toBe(200);
        expect(await ready.json()).toEqual({ status: 'ready' });
      } finally {
        await example.stop();
      }
    });

    it('OPS-EX-06: on a public issuer /metrics needs METRICS_TOKEN as a bearer, or is served on METRICS_PORT only', async () => {
      const metricsToken = randomBytes(16).toString('hex');
      const metricsPort = await freePort();
      const withToken = await serveExample(dir, { OAUTH_ISSUER: 'https://mcp.example.test', METRICS_TOKEN: metricsToken, METRICS_PORT: String(metricsPort) });
      const without = await serveExample(dir, { OAUTH_ISSUER: 'https://mcp.example.test' });
      try {
        const url = `${withToken.base}/metrics`;
        expect((await fetch(url)).status).toBe(401);
        expect((await fetch(url, { headers: { authorization: `Bearer ${metricsToken.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}` } })).status).toBe(401);
        const authorized = await fetch(url, { headers: { authorization: `Bearer ${metricsToken}` } });
        expect(authorized.status).toBe(200);
        expect(await authorized.text()).toContain('keyward_requests_total');
        const separate = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
        expect(separate.status).toBe(200);
        expect(await separate.text()).toContain('# TYPE keyward_requests_total counter');
        expect((await fetch(`http://127.0.0.1:${metricsPort}/ready`)).status).toBe(200);
        expect((await fetch(`${without.base}/metrics`)).status).toBe(404);
        expect(withToken.output()).not.toContain(metricsToken);
      } finally {
        await Promise.all([withToken.stop(), without.stop()]);
      }
    });

    it('OPS-EX-07: /ready answers 503 while the store (Redis) is unreachable and 200 again once it is back; /health stays 200', async () => {
      const redis = await fetch('http://127.0.0.1:6379').then(() => true, (error: { cause?: { code?: string } }) => error.cause?.code !== 'ECONNREFUSED');
      if (!redis) return void console.warn('OPS-EX-07 skipped: no Redis on 127.0.0.1:6379');
      const proxy = await outageProxy(6379);
      const example = await serveExample(dir, { OAUTH_STORE: 'redis', REDIS_URL: `redis://127.0.0.1:${proxy.port}`, OAUTH_REDIS_PREFIX: `keyward-ops-${randomBytes(4).toString('hex')}:` });
      try {
        expect((await fetch(`${example.base}/ready`)).status).toBe(200);
        await proxy.stop();
        await eventually(async () => (await fetch(`${example.base}/ready`)).status === 503, '/ready 503', 20_000);
        expect((await fetch(`${example.base}/health`)).status).toBe(200);
        await proxy.start();
        await eventually(async () => (await fetch(`${example.base}/ready`)).status === 200, '/ready 200 again', 20_000);
      } finally {
        await example.stop();
        await proxy.stop().catch(() => undefined);
      }
    });
  });

  describe(`${name}: rate limits from RATE_LIMIT_WINDOW and RATE_LIMIT_MAX`, () => {
    let example: ExampleProcess;
    const max = 100;
    beforeAll(async () => {
      example = await serveExample(dir, { RATE_LIMIT_WINDOW: '600000', RATE_LIMIT_MAX: String(max), RATE_LIMIT_MCP_MAX: String(max), TRUST_PROXY: 'loopback' });
    });
    afterAll(() => example?.stop());

    const endpoints: [string, string, (base: string, headers: Record<string, string>) => Promise<Response>][] = [
      ['token', '/oauth/token', (base, headers) => fetch(`${base}/oauth/token`, { ...form({ grant_type: 'authorization_code', code: 'nope', client_id: PUBLIC_CLIENT_ID }), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } })],
      ['authorize', '/oauth/authorize', (base, headers) => fetch(`${base}/oauth/authorize?client_id=${PUBLIC_CLIENT_ID}`, { headers, redirect: 'manual' })],
      ['register', '/oauth/register', (base, headers) => fetch(`${base}/oauth/register`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' })],
      ['revoke', '/oauth/revoke', (base, headers) => fetch(`${base}/oauth/revoke`, { ...form({ token: 'nope', client_id: PUBLIC_CLIENT_ID }), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } })],
      ['introspect', '/oauth/introspect', (base, headers) => fetch(`${base}/oauth/introspect`, { ...form({ token: 'nope' }), headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' } })],
      ['userinfo', '/oauth/userinfo', (base, headers) => fetch(`${base}/oauth/userinfo`, { headers })],
      ['login', '/oauth/login', (base, headers) => fetch(`${base}/oauth/login?interaction=nope`, { headers })],
      ['mcp', '/mcp', (base, headers) => fetch(`${base}/mcp`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: '{}' })],
    ];

    for (const [endpoint, path, send] of endpoints) {
      it(`OPS-EX-08: 1,000 concurrent requests at ${path} from one address: 429 past ${max}, while a second address is served`, async () => {
        const first = { 'x-forwarded-for': `203.0.113.${endpoints.findIndex(([e]) => e === endpoint) + 1}` };
        const { statuses, limited } = await burst(1000, 25, () => send(example.base, first));
        const refused = statuses.filter((status) => status === 429).length;
        // Registration has a stricter limit of its own besides; every other endpoint serves exactly the limit.
        if (endpoint === 'register') expect(1000 - refused).toBeLessThanOrEqual(max);
        else expect(1000 - refused).toBe(max);
        expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(limited!.headers.get('ratelimit-policy')).toMatch(/q=\d+/);
        // (Registration's own limit, which answers first there, reports the general window's remainder.)
        if (endpoint !== 'register') expect(limited!.headers.get('ratelimit')).toMatch(/r=0/);
        await limited!.arrayBuffer();
        const again = await send(example.base, first);
        expect(again.status).toBe(429);
        await again.arrayBuffer();
        const other = await send(example.base, { 'x-forwarded-for': '198.51.100.200' });
        expect(other.status).not.toBe(429);
        await other.arrayBuffer();
        // A thousand requests on a busy shared machine: the time goes to the machine, not to a wait.
      }, 180_000);
    }

    it('OPS-EX-08: without TRUST_PROXY, X-Forwarded-For is ignored: a new header does not get a client past the limit', async () => {
      const plain = await serveExample(dir, { RATE_LIMIT_MAX: '5', RATE_LIMIT_MCP_MAX: '5' });
      try {
        const statuses: number[] = [];
        for (let i = 0; i < 8; i++) {
          const response = await fetch(`${plain.base}/oauth/userinfo`, { headers: { 'x-forwarded-for': `192.0.2.${i}` } });
          statuses.push(response.status);
          await response.arrayBuffer();
        }
        expect(statuses.filter((status) => status === 429)).toHaveLength(3);
      } finally {
        await plain.stop();
      }
    });
  });

  describe(`${name}: HTTPS and proxies`, () => {
    it('OPS-EX-09: OAUTH_ENFORCE_HTTPS=true behind a trusted proxy refuses requests the proxy received over plain http', async () => {
      const example = await serveExample(dir, { OAUTH_ISSUER: 'https://mcp.example.test', OAUTH_ENFORCE_HTTPS: 'true', TRUST_PROXY: '127.0.0.1' });
      try {
        const metadata = (proto: string) => fetch(`${example.base}/.well-known/oauth-authorization-server`, { headers: { 'x-forwarded-proto': proto } });
        const overHTTP = await metadata('http');
        expect(overHTTP.status).toBe(400);
        expect((await overHTTP.json()).error).toBe('invalid_request');
        const overHTTPS = await metadata('https');
        expect(overHTTPS.status).toBe(200);
        expect(overHTTPS.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
      } finally {
        await example.stop();
      }
    });

    it('OPS-EX-10: CSRF_SECRET is acknowledged at start with a one-line notice, not silently ignored', async () => {
      const example = await serveExample(dir, { CSRF_SECRET: 'some-csrf-secret-of-the-brief' });
      try {
        await eventually(() => example.stderr().includes('CSRF_SECRET'), 'the CSRF_SECRET notice');
        expect(example.stderr()).toMatch(/^warning: CSRF_SECRET is not needed and not used: .*per-browser cookie$/m);
      } finally {
        await example.stop();
      }
    });
  });

  describe(`${name}: start-up errors`, () => {
    const cases: [string, Record<string, string>, RegExp][] = [
      ['the placeholder JWT_SECRET', { JWT_SECRET: 'your-256-bit-secret-here' }, /^error: JWT_SECRET is too short \(24 characters\): use at least 32/],
      ['a PORT that is not a number', { PORT: 'eighty' }, /^error: PORT must be a whole number from 0 to 65535, got "eighty"$/],
      ['an unknown OAUTH_STORE', { OAUTH_STORE: 'mongodb' }, /^error: OAUTH_STORE=mongodb is not one of sqlite, memory, postgres, redis$/],
      ['a RATE_LIMIT_MAX that is not a number', { RATE_LIMIT_MAX: 'lots' }, /^error: RATE_LIMIT_MAX must be a whole number/],
      ['a TRUST_PROXY host name', { TRUST_PROXY: 'proxy.example.com' }, /^error: TRUST_PROXY: .*proxy\.example\.com/],
      ['OAUTH_ENFORCE_HTTPS on an http issuer', { OAUTH_ENFORCE_HTTPS: 'true', OAUTH_ISSUER: 'http://mcp.example.test' }, /^error: OAUTH_ENFORCE_HTTPS: .*http:\/\/mcp\.example\.test/],
      ['OAUTH_ENFORCE_HTTPS=maybe', { OAUTH_ENFORCE_HTTPS: 'maybe' }, /^error: OAUTH_ENFORCE_HTTPS must be true or false, got "maybe"$/],
      ['OAUTH_CLIENT_ID without its secret', { OAUTH_CLIENT_ID: 'half' }, /^error: OAUTH_CLIENT_ID is set but OAUTH_CLIENT_SECRET is not/],
      ['a short METRICS_TOKEN', { METRICS_TOKEN: 'short' }, /^error: METRICS_TOKEN is too short/],
      ['an OAUTH_ISSUER without a scheme', { OAUTH_ISSUER: 'mcp.example.com' }, /^error: OAUTH_ISSUER must be an absolute http\(s\) URL/],
      ['an ENV_FILE that does not exist', { ENV_FILE: '/nonexistent/keyward.env' }, /^error: ENV_FILE names \/nonexistent\/keyward\.env, which does not exist$/],
    ];

    it.each(cases)('OPS-EX-11: %s stops the start with one line naming the variable, exit 1, no stack trace', async (_title, env, expected) => {
      const { code, stdout, stderr } = await runToExit(dir, { PORT: '0', ...env });
      expect(code).toBe(1);
      const lines = stderr.split('\n').filter(Boolean);
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toMatch(expected);
      expect(stderr).not.toMatch(/^\s+at /m);
      expect(stdout).not.toContain('listening');
    });

    it('OPS-EX-12: a PORT already in use says which port, exits 1, and prints no banner', async () => {
      const blocker = createServer();
      const port = await freePort();
      await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
      try {
        const { code, stdout, stderr } = await runToExit(dir, { PORT: String(port) });
        expect(code).toBe(1);
        expect(stderr.trim()).toBe(`error: PORT: port ${port} on 127.0.0.1 is already in use (stop the other server or choose another PORT)`);
        expect(stdout).not.toContain('listening');
        expect(stdout).not.toContain('login ');
      } finally {
        await new Promise((resolve) => blocker.close(resolve));
      }
    });
  });
}

/** Another code flow of the same browser (already signed in): the consent page again, code, tokens. */
async function secondGrant(base: string, browser: CookieJar, clientId: string, auth: string, redirectUri: string): Promise<{ accessToken: string; refreshToken: string; secrets: string[] }> {
  const verifier = randomBytes(32).toString('base64url');
  const authorize = new URL(`${base}/oauth/authorize`);
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: redirectUri,
    scope: 'mcp:tools openid offline_access',
    state: 'second',
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  let response = await browser.request(authorize);
  let location = new URL(response.headers.get('location')!, base);
  if (location.pathname.endsWith('/consent')) {
    response = await browser.submit(location, await (await browser.request(location)).text(), { decision: 'allow' });
    location = new URL(response.headers.get('location')!, base);
  }
  const code = location.searchParams.get('code');
  if (!code) throw new Error(`no code in ${location.origin}${location.pathname}`);
  const tokens = await (
    await fetch(`${base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, redirect_uri: redirectUri }) })
  ).json();
  return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, secrets: [verifier, code, tokens.access_token, tokens.refresh_token, tokens.id_token, ...browser.seen] };
}
