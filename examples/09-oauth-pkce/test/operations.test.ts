// Running example 09 as a service: the suite every example shares (.env, logs, metrics, probes, rate limits,
// proxies, start-up errors), plus what only 09 has: sign-in pages of token identity providers (Firebase,
// Clerk, Supabase) from the environment, tested with tokens signed here and keys served on 127.0.0.1 (no
// network), the client's message when no server runs, and the Inspector's command line.
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calculatePKCECodeChallenge } from '@keyward/core/protocol';
import { describeOperations } from '../../../packages/e2e/src/examples/ops-suite.js';
import { freePort, runToExit, serveExample, type ExampleProcess } from '../../../packages/e2e/src/examples/processes.js';
import { inspectorCommand } from '../src/inspect.js';

const EXAMPLE_DIR = fileURLToPath(new URL('..', import.meta.url));

describeOperations({ name: '09', dir: EXAMPLE_DIR });

/** One RSA key for every provider, its public half served at each provider's JWK Set path. */
interface LocalKeys {
  url: string;
  token(payload: Record<string, unknown>, key?: KeyObject): string;
  close(): Promise<void>;
}

async function startKeys(): Promise<LocalKeys> {
  const kid = 'ops-provider-key';
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] });
  const paths = ['/firebase/jwks', '/.well-known/jwks.json', '/auth/v1/.well-known/jwks.json'];
  const server: Server = createServer((req, res) => {
    if (!paths.includes(req.url ?? '')) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    token: (payload, key = privateKey) => {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const input = `${part({ alg: 'RS256', kid, typ: 'JWT' })}.${part(payload)}`;
      return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Follows Set-Cookie like a browser, and never a redirect by itself. */
class Browser {
  readonly #cookies = new Map<string, string>();
  async request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.#cookies.size) headers.set('cookie', [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual' });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      this.#cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1));
    }
    return response;
  }
}

const hiddenFields = (html: string) => Object.fromEntries([...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [match[1]!, match[2]!]));
const now = () => Math.floor(Date.now() / 1000);

describe('09: identity providers from the environment (FIREBASE_*, CLERK_*, SUPABASE_*)', () => {
  let keys: LocalKeys;
  let example: ExampleProcess;
  const project = 'keyward-ops-test';

  beforeAll(async () => {
    keys = await startKeys();
    // A publishable key names the Clerk Frontend API: here the local key server, over http.
    const clerkKey = `pk_test_${Buffer.from(`${keys.url}$`).toString('base64')}`;
    example = await serveExample(EXAMPLE_DIR, {
      OAUTH_DEMO_PASSWORD: 'ops-provider-test-password',
      FIREBASE_PROJECT_ID: project,
      FIREBASE_API_KEY: 'AIzaSy-test-web-api-key',
      FIREBASE_JWKS_URI: `${keys.url}/firebase/jwks`,
      CLERK_PUBLISHABLE_KEY: clerkKey,
      SUPABASE_URL: keys.url,
      SUPABASE_ANON_KEY: 'supabase-anon-key-for-tests',
    });
  });
  afterAll(async () => {
    await example?.stop();
    await keys?.close();
  });

  const providers = () => ({
    firebase: {
      sdk: 'https://www.gstatic.com/firebasejs/',
      subject: 'firebase:fb-user-1',
      token: () => keys.token({ iss: `https://securetoken.google.com/${project}`, aud: project, sub: 'fb-user-1', iat: now() - 5, auth_time: now() - 30, exp: now() + 3600, email: 'fb@example.test' }),
    },
    clerk: {
      sdk: `${keys.url}/npm/@clerk/clerk-js@5/dist/clerk.browser.js`,
      subject: 'clerk:user_2abc',
      // azp: the page that asked Clerk for the token, which is this server's own sign-in page.
      token: () => keys.token({ iss: keys.url, sub: 'user_2abc', iat: now() - 5, nbf: now() - 5, exp: now() + 60, azp: new URL(example.base).origin }),
    },
    supabase: {
      sdk: 'https://cdn.jsdelivr.net/npm/@supabase/supabase-js@2',
      subject: 'supabase:3f1c-user',
      token: () => keys.token({ iss: `${keys.url}/auth/v1`, aud: 'authenticated', sub: '3f1c-user', role: 'authenticated', iat: now() - 5, exp: now() + 3600, email: 'sb@example.test' }),
    },
  });

  /** The authorization request up to Keyward's login page; returns it and the browser. */
  async function toLoginPage(): Promise<{ browser: Browser; page: string; verifier: string; redirectUri: string }> {
    const browser = new Browser();
    const verifier = randomBytes(32).toString('base64url');
    const redirectUri = 'http://127.0.0.1:49170/callback';
    const authorize = new URL(`${example.base}/oauth/authorize`);
    authorize.search = new URLSearchParams({ response_type: 'code', client_id: 'mcp-public-client', redirect_uri: redirectUri, scope: 'mcp:tools openid email', state: 's', code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' }).toString();
    const toLogin = await browser.request(authorize);
    const page = await (await browser.request(new URL(toLogin.headers.get('location')!, example.base))).text();
    return { browser, page, verifier, redirectUri };
  }

  for (const id of ['firebase', 'clerk', 'supabase'] as const) {
    it(`OPS-EX-13: ${id}: the login page leads to /login/${id}, which loads the vendor's SDK and posts its token to /oauth/login/token → consent → code → subject ${id}:…`, async () => {
      const provider = providers()[id];
      const { browser, page, verifier, redirectUri } = await toLoginPage();
      // Keyward's login page keeps its password form and gains a button per token provider.
      expect(page).toContain('name="password"');
      const button = new RegExp(`<form method="get" action="${example.base}/login/${id}">(.*?)</form>`).exec(page);
      expect(button, `no ${id} button`).not.toBeNull();
      const { interaction, csrf } = hiddenFields(button![1]!);

      const signInURL = new URL(`${example.base}/login/${id}`);
      signInURL.search = new URLSearchParams({ interaction: interaction!, csrf: csrf! }).toString();
      const signInResponse = await browser.request(signInURL);
      expect(signInResponse.status).toBe(200);
      const signInPage = await signInResponse.text();
      expect(signInPage).toContain(provider.sdk);
      expect(signInPage).toContain(`action="${example.base}/oauth/login/token"`);
      const csp = signInResponse.headers.get('content-security-policy')!;
      expect(csp).toContain(`script-src 'nonce-`);
      expect(csp).toContain(new URL(provider.sdk).origin);
      expect(csp).toContain("frame-ancestors 'none'");
      const fields = hiddenFields(signInPage);
      expect(fields).toMatchObject({ interaction, csrf, provider: id, token: '' });

      // A token signed by another key is refused, and nobody is signed in.
      const forged = keys.token({ sub: 'x' }, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
      const refused = await browser.request(`${example.base}/oauth/login/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, token: forged }) });
      expect(refused.status).toBe(401);

      // What the SDK's script does once the user signed in: the token into the form, and submit.
      const signedIn = await browser.request(`${example.base}/oauth/login/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...fields, token: provider.token() }) });
      expect(signedIn.status, await signedIn.clone().text()).toBe(303);
      const consentURL = new URL(signedIn.headers.get('location')!, example.base);
      const consentPage = await (await browser.request(consentURL)).text();
      const allowed = await browser.request(consentURL, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...hiddenFields(consentPage), decision: 'allow' }) });
      const code = new URL(allowed.headers.get('location')!).searchParams.get('code')!;
      const tokens = await (
        await fetch(`${example.base}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'mcp-public-client', redirect_uri: redirectUri }) })
      ).json();
      const userinfo = await (await fetch(`${example.base}/oauth/userinfo`, { headers: { authorization: `Bearer ${tokens.access_token}` } })).json();
      expect(userinfo.sub).toBe(provider.subject);
    });
  }

  it('OPS-EX-13: the start-up banner names each sign-in page', () => {
    for (const name of ['Firebase', 'Clerk', 'Supabase']) expect(example.stdout()).toMatch(new RegExp(`sign in with +${name}, page ${example.base}/login/`));
  });
});

describe('09: a provider variable that is set but cannot work stops the start', () => {
  const cases: [string, Record<string, string>, RegExp][] = [
    ['FIREBASE_PROJECT_ID without the web API key', { FIREBASE_PROJECT_ID: 'my-project' }, /^error: FIREBASE_PROJECT_ID is set but FIREBASE_API_KEY is not/],
    ['an unreadable FIREBASE_SERVICE_ACCOUNT_KEY', { FIREBASE_SERVICE_ACCOUNT_KEY: '/nonexistent/service-account.json', FIREBASE_API_KEY: 'AIza-x' }, /^error: FIREBASE_SERVICE_ACCOUNT_KEY is neither service-account JSON nor a readable JSON file/],
    ['CLERK_SECRET_KEY alone', { CLERK_SECRET_KEY: 'sk_test_abc' }, /^error: CLERK_SECRET_KEY is set but CLERK_PUBLISHABLE_KEY is not/],
    ['a malformed CLERK_PUBLISHABLE_KEY', { CLERK_PUBLISHABLE_KEY: 'pk_test_not-base64-of-a-host!' }, /^error: CLERK_PUBLISHABLE_KEY is malformed/],
    ['a SUPABASE_URL that is not a URL', { SUPABASE_URL: 'abcd.supabase.co', SUPABASE_ANON_KEY: 'anon' }, /^error: SUPABASE_URL must be the project URL/],
    ['SUPABASE_URL without the anon key', { SUPABASE_URL: 'https://abcd.supabase.co' }, /^error: SUPABASE_URL is set but SUPABASE_ANON_KEY is not/],
  ];
  it.each(cases)('OPS-EX-14: %s → one line naming it, exit 1', async (_title, env, expected) => {
    const { code, stdout, stderr } = await runToExit(EXAMPLE_DIR, { PORT: '0', ...env });
    expect(code).toBe(1);
    expect(stderr.split('\n').filter(Boolean), stderr).toHaveLength(1);
    expect(stderr).toMatch(expected);
    expect(stdout).not.toContain('listening');
  });
});

describe('09: the client and the Inspector', () => {
  it('OPS-EX-15: example:client:09 without a server says the server is not reachable at the URL, exit 1, no stack trace', async () => {
    const issuer = `http://127.0.0.1:${await freePort()}`;
    const { code, stderr } = await runToExit(EXAMPLE_DIR, { OAUTH_ISSUER: issuer }, { script: 'src/client.ts' });
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(`error: the server is not reachable at ${issuer} (start it with pnpm example:server:09, or set OAUTH_ISSUER)`);
  });

  it('OPS-EX-16: inspect:09 runs the Inspector from npm with a known proxy token and opens it on the example’s /mcp over Streamable HTTP', () => {
    const command = inspectorCommand({ PORT: '4100' }, 'proxy-token');
    expect([command.command, ...command.args]).toEqual(['npx', '-y', '@modelcontextprotocol/inspector']);
    expect(command.env).toMatchObject({ MCP_PROXY_AUTH_TOKEN: 'proxy-token', MCP_AUTO_OPEN_ENABLED: 'false' });
    const url = new URL(command.url);
    expect(url.origin).toBe('http://localhost:6274');
    expect(Object.fromEntries(url.searchParams)).toEqual({ MCP_PROXY_AUTH_TOKEN: 'proxy-token', transport: 'streamable-http', serverUrl: 'http://localhost:4100/mcp' });
    expect(inspectorCommand({ OAUTH_ISSUER: 'https://mcp.example.com/' }).mcpURL).toBe('https://mcp.example.com/mcp');
  });

  it('OPS-EX-16: inspect:09 without a server says so and exits 1 instead of opening an Inspector that cannot connect', async () => {
    const { code, stderr } = await runToExit(EXAMPLE_DIR, { PORT: String(await freePort()) }, { script: 'src/inspect.ts' });
    expect(code).toBe(1);
    expect(stderr).toMatch(/^error: the server is not reachable at http:\/\/localhost:\d+\/mcp/);
  });
});
