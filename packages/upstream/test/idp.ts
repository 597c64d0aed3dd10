import Provider from 'oidc-provider';
import { startServer } from './support.js';

export const CLIENT_ID = 'keyward';
export const CLIENT_SECRET = 'keyward-test-secret';
export const CALLBACK_URL = 'https://mcp.example.test/oauth/callback/oidc';

export interface TestIdP {
  issuer: string;
  close(): Promise<void>;
}

export interface TestIdPOptions {
  /** `/` makes an Auth0-style issuer that ends in a slash. */
  issuerSuffix?: '' | '/';
  /** oidc-provider's default (true) keeps profile claims out of the ID token when UserInfo can serve them. */
  conformIdTokenClaims?: boolean;
}

/** The profile every account of the test provider has. */
export function profileOf(sub: string): Record<string, unknown> {
  return {
    sub,
    name: `User ${sub}`,
    email: `${sub}@idp.example.test`,
    email_verified: true,
    picture: `https://idp.example.test/${sub}.png`,
    preferred_username: sub,
    // Not a profile claim: must not be passed on.
    groups: ['admins'],
  };
}

/** A real OpenID provider (oidc-provider 9) on 127.0.0.1 with its development login and consent pages. */
export async function startIdP(options: TestIdPOptions = {}): Promise<TestIdP> {
  let handler: ReturnType<Provider['callback']> | undefined;
  const server = await startServer((req, res) => handler!(req, res));
  const issuer = `${server.url}${options.issuerSuffix ?? ''}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: CLIENT_ID,
        client_secret: CLIENT_SECRET,
        token_endpoint_auth_method: 'client_secret_basic',
        redirect_uris: [CALLBACK_URL],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
      },
    ],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    conformIdTokenClaims: options.conformIdTokenClaims ?? true,
    scopes: ['openid', 'offline_access', 'profile', 'email'],
    claims: { openid: ['sub'], profile: ['name', 'picture', 'preferred_username', 'groups'], email: ['email', 'email_verified'] },
    findAccount: (_ctx: unknown, sub: string) => ({ accountId: sub, claims: () => profileOf(sub) }),
    cookies: { keys: ['test-only-cookie-key'] },
  });
  handler = provider.callback();
  return { issuer, close: server.close };
}

/** Cookies by name, enough for one login through oidc-provider's pages (it names every cookie differently). */
class CookieJar {
  #cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=/i.test(a) && Date.parse(a.split('=')[1] ?? '') < Date.now());
      if (value === '' || expired) this.#cookies.delete(name);
      else this.#cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/**
 * Plays the browser: follows redirects from the authorization URL, fills the login form with `login` (any
 * password works in devInteractions), confirms consent, and returns the URL the IdP sends back to the
 * callback. With `abort`, the user cancels on the login page instead.
 */
export async function browserLogin(location: string, options: { login?: string; abort?: boolean } = {}): Promise<URL> {
  const jar = new CookieJar();
  let request: { url: string; form?: URLSearchParams } = { url: location };
  for (let hop = 0; hop < 20; hop++) {
    if (request.url.startsWith(CALLBACK_URL)) return new URL(request.url);
    const response = await fetch(request.url, {
      method: request.form ? 'POST' : 'GET',
      headers: { cookie: jar.header(), ...(request.form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
      body: request.form?.toString(),
      redirect: 'manual',
    });
    jar.store(response);
    const redirect = response.headers.get('location');
    if (redirect) {
      request = { url: new URL(redirect, request.url).href };
      continue;
    }
    const html = await response.text();
    const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
    const prompt = /name="prompt" value="([^"]+)"/.exec(html)?.[1];
    if (response.status !== 200 || !action || !prompt) throw new Error(`unexpected IdP page (${response.status}): ${html.slice(0, 300)}`);
    const submit = new URL(action.replaceAll('&amp;', '&'), request.url);
    if (options.abort) {
      request = { url: `${submit.href}/abort` };
      continue;
    }
    const form: Record<string, string> = prompt === 'login' ? { prompt, login: options.login ?? 'alice', password: 'any password' } : { prompt };
    request = { url: submit.href, form: new URLSearchParams(form) };
  }
  throw new Error('too many redirects');
}
