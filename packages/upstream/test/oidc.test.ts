import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeywardConfigError } from '@keyward/core';
import { UpstreamLoginError, auth0Provider, auth0ProviderFromEnv, clerkOIDCProvider, oidcProvider } from '../src/index.js';
import type { OIDCProviderOptions } from '../src/index.js';
import { CALLBACK_URL, CLIENT_ID, CLIENT_SECRET, browserLogin, profileOf, startIdP } from './idp.js';
import type { TestIdP } from './idp.js';
import { startServer } from './support.js';

let idp: TestIdP;
beforeAll(async () => {
  idp = await startIdP();
});
afterAll(() => idp.close());

function provider(extra: Partial<OIDCProviderOptions> = {}) {
  return oidcProvider({ issuer: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowInsecureRequests: true, ...extra });
}

/** Starts a login, passes the IdP's pages, and returns what the callback would receive. */
async function loginThrough(upstream: ReturnType<typeof provider>, options: Parameters<typeof browserLogin>[1] = {}) {
  const { location, state } = await upstream.start({ callbackUrl: CALLBACK_URL });
  const currentUrl = await browserLogin(location, options);
  return { state, currentUrl, finish: () => upstream.finish({ callbackUrl: CALLBACK_URL, currentUrl, state }) };
}

async function rejection(promise: Promise<unknown>): Promise<UpstreamLoginError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamLoginError);
  return error as UpstreamLoginError;
}

describe('oidcProvider against oidc-provider', () => {
  it('AUTHZ-PKCE-02: start sends an S256 challenge, state and nonce, and keeps their secrets server-side', async () => {
    const { location, state } = await provider().start({ callbackUrl: CALLBACK_URL });
    const url = new URL(location);
    expect(url.origin + url.pathname).toBe(`${idp.issuer}/auth`);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: CLIENT_ID,
      redirect_uri: CALLBACK_URL,
      response_type: 'code',
      scope: 'openid profile email',
      code_challenge_method: 'S256',
      state: state.state,
      nonce: state.nonce,
    });
    expect(url.searchParams.get('code_challenge')).toMatch(/^[\w-]{43}$/);
    expect(location).not.toContain(state.codeVerifier as string);
  });

  it('logs a user in: subject oidc:<sub>, profile claims from UserInfo, upstream tokens kept apart', async () => {
    const identity = await (await loginThrough(provider({ fetchUserinfo: true }), { login: 'alice' })).finish();
    const { groups, sub, ...profile } = profileOf('alice');
    expect(identity.subject).toBe('oidc:alice');
    expect(identity.claims).toEqual(profile);
    expect(identity.upstreamTokens?.access_token).toEqual(expect.any(String));
    expect(identity.upstreamTokens?.expires_at).toBeGreaterThan(Date.now() / 1000);
    expect(JSON.stringify(identity.claims)).not.toContain(identity.upstreamTokens!.access_token);
  });

  it('reads claims from the ID token when UserInfo is not fetched', async () => {
    const richIdP = await startIdP({ conformIdTokenClaims: false });
    try {
      const upstream = oidcProvider({ id: 'corp', issuer: richIdP.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowInsecureRequests: true });
      const identity = await (await loginThrough(upstream, { login: 'bob' })).finish();
      expect(identity.subject).toBe('corp:bob');
      expect(identity.claims).toMatchObject({ name: 'User bob', email: 'bob@idp.example.test', email_verified: true });
      expect(identity.claims).not.toHaveProperty('groups');
    } finally {
      await richIdP.close();
    }
  });

  it('returns the refresh token when offline access is granted', async () => {
    const upstream = provider({ scopes: ['openid', 'offline_access'], authorizationParams: { prompt: 'consent' } });
    const identity = await (await loginThrough(upstream)).finish();
    expect(identity.upstreamTokens?.refresh_token).toEqual(expect.any(String));
  });

  it('AUTHZ-OIDC-02: an ID token whose nonce differs from the one sent is rejected', async () => {
    const login = await loginThrough(provider());
    const error = await rejection(provider().finish({ callbackUrl: CALLBACK_URL, currentUrl: login.currentUrl, state: { ...login.state, nonce: 'another-nonce' } }));
    expect(error.code).toBe('invalid_token');
  });

  it('a callback whose state was tampered with is rejected before the code is used', async () => {
    const upstream = provider();
    const login = await loginThrough(upstream);
    const tampered = new URL(login.currentUrl);
    tampered.searchParams.set('state', 'attacker-state');
    const error = await rejection(upstream.finish({ callbackUrl: CALLBACK_URL, currentUrl: tampered, state: login.state }));
    expect(error.code).toBe('invalid_callback');
    // The code was not spent, so the genuine callback still completes.
    await expect(login.finish()).resolves.toMatchObject({ subject: 'oidc:alice' });
  });

  it('RFC 9207: a missing or foreign iss is rejected when the IdP advertises it', async () => {
    const upstream = provider();
    const login = await loginThrough(upstream);
    expect(login.currentUrl.searchParams.get('iss')).toBe(idp.issuer);
    for (const iss of [undefined, 'https://evil.example.test']) {
      const mixUp = new URL(login.currentUrl);
      if (iss) mixUp.searchParams.set('iss', iss);
      else mixUp.searchParams.delete('iss');
      const error = await rejection(upstream.finish({ callbackUrl: CALLBACK_URL, currentUrl: mixUp, state: login.state }));
      expect(error.code).toBe('invalid_callback');
    }
  });

  it('an error response from the IdP (the user cancels) becomes upstream_error', async () => {
    const login = await loginThrough(provider(), { abort: true });
    expect(login.currentUrl.searchParams.get('error')).toBe('access_denied');
    const error = await rejection(login.finish());
    expect(error).toMatchObject({ code: 'upstream_error', message: 'identity provider answered access_denied' });
  });

  it('a replayed callback fails: the IdP refuses the spent code', async () => {
    const login = await loginThrough(provider());
    await login.finish();
    expect((await rejection(login.finish())).code).toBe('upstream_error');
  });

  it('a wrong code verifier fails at the token endpoint (PKCE is enforced end to end)', async () => {
    const upstream = provider();
    const login = await loginThrough(upstream);
    const state = { ...login.state, codeVerifier: 'x'.repeat(43) };
    expect((await rejection(upstream.finish({ callbackUrl: CALLBACK_URL, currentUrl: login.currentUrl, state }))).code).toBe('upstream_error');
  });

  it('state that Keyward did not keep (missing members) is rejected', async () => {
    const upstream = provider();
    const login = await loginThrough(upstream);
    expect((await rejection(upstream.finish({ callbackUrl: CALLBACK_URL, currentUrl: login.currentUrl, state: {} }))).code).toBe('invalid_callback');
  });

  it('a wrong client secret is a configuration problem, not the user\u2019s', async () => {
    const upstream = provider({ clientSecret: 'wrong' });
    const login = await loginThrough(upstream);
    expect((await rejection(login.finish())).code).toBe('misconfigured');
  });

  it('AUTHZ-DISC-02: discovery must return the configured issuer byte for byte', async () => {
    const slash = provider({ issuer: `${idp.issuer}/` });
    const error = await rejection(slash.start({ callbackUrl: CALLBACK_URL }));
    expect(error).toMatchObject({ code: 'misconfigured', message: 'issuer mismatch' });
  });

  it('refuses a plain-HTTP issuer unless allowInsecureRequests is set', async () => {
    const error = await rejection(provider({ allowInsecureRequests: false }).start({ callbackUrl: CALLBACK_URL }));
    expect(error.code).toBe('misconfigured');
  });

  it('an unreachable IdP is unavailable, and discovery is retried on the next login', async () => {
    const down = await startServer((_req, res) => res.end());
    await down.close();
    const upstream = provider({ issuer: down.url });
    expect((await rejection(upstream.start({ callbackUrl: CALLBACK_URL }))).code).toBe('unavailable');
    expect((await rejection(upstream.start({ callbackUrl: CALLBACK_URL }))).code).toBe('unavailable');
  });

  it('rejects bad configuration at construction', () => {
    expect(() => oidcProvider({ issuer: 'not a url', clientId: CLIENT_ID })).toThrow(KeywardConfigError);
    expect(() => oidcProvider({ issuer: idp.issuer, clientId: '' })).toThrow(KeywardConfigError);
    expect(() => oidcProvider({ id: 'has space', issuer: idp.issuer, clientId: CLIENT_ID })).toThrow(KeywardConfigError);
    expect(() => oidcProvider({ issuer: idp.issuer, clientId: CLIENT_ID, tokenEndpointAuthMethod: 'client_secret_post' })).toThrow(KeywardConfigError);
  });
});

describe('auth0Provider', () => {
  it('builds the issuer https://<domain>/ from AUTH0_DOMAIN (auth0ProviderFromEnv), trailing slash included', () => {
    const env = { AUTH0_DOMAIN: 'tenant.us.auth0.com', AUTH0_CLIENT_ID: 'abc', AUTH0_CLIENT_SECRET: 's' };
    const auth0 = auth0ProviderFromEnv({}, env);
    expect(auth0).toMatchObject({ id: 'auth0', displayName: 'Auth0', issuer: 'https://tenant.us.auth0.com/' });
    expect(auth0ProviderFromEnv({ domain: 'https://login.example.com/' }, env).issuer).toBe('https://login.example.com/');
    expect(auth0Provider({ domain: 'https://login.example.com/', clientId: 'abc' }).issuer).toBe('https://login.example.com/');
    expect(() => auth0ProviderFromEnv({}, {})).toThrow(/AUTH0_DOMAIN/);
    expect(() => auth0ProviderFromEnv({}, { AUTH0_DOMAIN: 'tenant.us.auth0.com' })).toThrow(/AUTH0_CLIENT_ID/);
  });

  it('UPS-ENV-01: auth0Provider reads nothing from process.env', () => {
    withEnv({ AUTH0_DOMAIN: 'tenant.us.auth0.com', AUTH0_CLIENT_ID: 'abc', AUTH0_CLIENT_SECRET: 's' }, () => {
      expect(() => auth0Provider()).toThrow(KeywardConfigError);
      expect(() => auth0Provider({ domain: 'tenant.us.auth0.com' })).toThrow(KeywardConfigError);
    });
  });

  it('logs in through an issuer that ends in a slash, as Auth0\u2019s does', async () => {
    const slashIdP = await startIdP({ issuerSuffix: '/', conformIdTokenClaims: false });
    try {
      const auth0 = auth0Provider({ issuer: slashIdP.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowInsecureRequests: true, audience: 'https://api.example.test' });
      const { location, state } = await auth0.start({ callbackUrl: CALLBACK_URL });
      expect(new URL(location).searchParams.get('audience')).toBe('https://api.example.test');
      const currentUrl = await browserLogin(location, { login: 'google-oauth2|42' });
      const identity = await auth0.finish({ callbackUrl: CALLBACK_URL, currentUrl, state });
      expect(identity.subject).toBe('auth0:google-oauth2|42');
    } finally {
      await slashIdP.close();
    }
  });
});

describe('clerkOIDCProvider', () => {
  it('uses the Frontend API as issuer and clerk as id', () => {
    const clerk = clerkOIDCProvider({ frontendApi: 'clerk.example.com', clientId: 'c', clientSecret: 's' });
    expect(clerk).toMatchObject({ id: 'clerk', issuer: 'https://clerk.example.com' });
  });

  it('logs in against a local issuer', async () => {
    const clerk = clerkOIDCProvider({ frontendApi: idp.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, allowInsecureRequests: true });
    const { location, state } = await clerk.start({ callbackUrl: CALLBACK_URL });
    const identity = await clerk.finish({ callbackUrl: CALLBACK_URL, currentUrl: await browserLogin(location, { login: 'user_2abc' }), state });
    expect(identity.subject).toBe('clerk:user_2abc');
  });
});

function withEnv(values: Record<string, string>, run: () => void): void {
  const names = ['AUTH0_DOMAIN', 'AUTH0_CLIENT_ID', 'AUTH0_CLIENT_SECRET'];
  const saved = names.map((name) => [name, process.env[name]] as const);
  for (const name of names) delete process.env[name];
  Object.assign(process.env, values);
  try {
    run();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
