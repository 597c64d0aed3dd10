/**
 * Security events and the debug trace over a full flow driven through `server.fetch`: registration,
 * sign-in (failed, throttled, succeeded), consent (given, denied), codes (issued, replayed), tokens,
 * refresh rotation and reuse, revocation, client update and deletion, rate limits and a store outage.
 * Every secret the flow sees is collected, and none may appear in any event or log line.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { AuthorizationServer, type KeywardEvent, type PasswordAuthenticator } from '@keyward/core';
import { randomToken, timingSafeEqual } from '../src/protocol/crypto.js';
import { calculatePKCECodeChallenge } from '../src/protocol/pkce.js';
import { MemoryStore } from '@keyward/core/memory';
import { basicHeader } from './support.js';

const issuer = 'http://localhost:3009';
const redirectUri = 'https://app.example.com/cb';
const SOURCE = '203.0.113.7';
const PASSWORD = 'correct horse battery staple';

const users: PasswordAuthenticator = {
  async verify(username, password) {
    return username === 'demo' && timingSafeEqual(password, PASSWORD) ? { subject: 'local:demo', claims: { name: 'Demo' } } : null;
  },
};

/** A store whose every call fails while `failing` is set (a database outage). */
class FlakyStore extends MemoryStore {
  failing = false;
  override async getClient(clientId: string) {
    if (this.failing) throw Object.assign(new Error('connect ECONNREFUSED 10.0.0.5:5432'), { code: 'ECONNREFUSED' });
    return super.getClient(clientId);
  }
}

function hiddenFields(html: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const match of html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[match[1]!] = match[2]!;
  return fields;
}

describe('security events and the trace over a full flow', () => {
  const events: KeywardEvent[] = [];
  const logLines: string[] = [];
  const secrets = new Set<string>();
  const clock = { now: Date.UTC(2030, 0, 1, 12) };
  const store = new FlakyStore({ clock: () => clock.now });
  const cookies = new Map<string, string>();
  let server: AuthorizationServer;
  let clientId = '';
  let clientSecret = '';

  const keep = (value: unknown) => {
    if (typeof value === 'string' && value.length >= 8) secrets.add(value);
  };

  async function send(path: string, init: RequestInit = {}, source = SOURCE): Promise<Response> {
    const headers = new Headers(init.headers);
    if (cookies.size) headers.set('cookie', [...cookies].map(([k, v]) => `${k}=${v}`).join('; '));
    const response = await server.fetch(new Request(new URL(path, issuer), { ...init, headers, redirect: 'manual' }), { clientAddress: source });
    for (const cookie of response.headers.getSetCookie()) {
      const [pair] = cookie.split(';');
      const index = pair!.indexOf('=');
      const value = pair!.slice(index + 1);
      if (value) {
        cookies.set(pair!.slice(0, index), value);
        keep(value);
      }
    }
    const location = response.headers.get('location');
    if (location?.startsWith(redirectUri)) keep(new URL(location).searchParams.get('code'));
    return response;
  }
  const form = (path: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    send(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(fields) });
  const token = async (fields: Record<string, string>) => {
    const response = await form('/oauth/token', fields, { authorization: basicHeader(clientId, clientSecret) });
    const body = (await response.clone().json()) as Record<string, unknown>;
    for (const name of ['access_token', 'refresh_token', 'id_token']) keep(body[name]);
    return { response, body };
  };

  /** Authorization through the pages; returns the code (or the final response when none). */
  async function authorize(options: { prompt?: string; password?: string; decision?: string } = {}) {
    const verifier = randomToken();
    keep(verifier);
    const query = new URLSearchParams({
      response_type: 'code',
      client_id: clientId,
      redirect_uri: redirectUri,
      code_challenge: await calculatePKCECodeChallenge(verifier),
      code_challenge_method: 'S256',
      scope: 'mcp:tools openid',
      state: 'st',
      ...(options.prompt && { prompt: options.prompt }),
    });
    let response = await send(`/oauth/authorize?${query}`);
    let location = response.headers.get('location')!;
    if (location.includes('/oauth/login')) {
      const page = await send(location);
      const fields = hiddenFields(await page.text());
      keep(fields.csrf);
      response = await form('/oauth/login', { ...fields, username: 'demo', password: options.password ?? PASSWORD });
      location = response.headers.get('location') ?? '';
    }
    if (location.includes('/oauth/consent')) {
      const page = await send(location);
      response = await form('/oauth/consent', { ...hiddenFields(await page.text()), decision: options.decision ?? 'allow' });
      location = response.headers.get('location') ?? '';
    }
    const code = location.startsWith(redirectUri) ? new URL(location).searchParams.get('code') : null;
    return { code, verifier, response };
  }

  beforeAll(async () => {
    keep(PASSWORD);
    server = new AuthorizationServer({
      issuer,
      store,
      clock: () => clock.now,
      scopes: ['mcp:tools', 'openid'],
      // Two failures per username and address: the third attempt for one account from SOURCE is refused.
      // (`perUser` no longer refuses anyone: it only starts slowing the sources that have failed.)
      login: { users, attemptLimits: { perUserAndSource: 2, perSource: 50 } },
      rateLimits: { introspect: { windowMs: 60_000, max: 2 } },
      onEvent: (event) => events.push(event),
      logger: { debug: (namespace, message, fields) => logLines.push(`${namespace} ${message} ${JSON.stringify(fields ?? {})}`) },
    });

    // Registration (RFC 7591), a confidential client.
    const registered = await send('/oauth/register', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ redirect_uris: [redirectUri], client_name: 'Events App', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], scope: 'mcp:tools openid' }),
    });
    expect(registered.status).toBe(201);
    const info = (await registered.json()) as Record<string, string>;
    clientId = info.client_id!;
    clientSecret = info.client_secret!;
    keep(clientSecret);
    keep(info.registration_access_token);
    let registrationToken = info.registration_access_token!;

    // Throttled sign-in: another account, failed past its limit.
    {
      const verifier = randomToken();
      const query = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: await calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', scope: 'mcp:tools', state: 's' });
      const start = await send(`/oauth/authorize?${query}`);
      const page = await send(start.headers.get('location')!);
      const fields = hiddenFields(await page.text());
      const statuses: number[] = [];
      for (const attempt of ['guess-one-123', 'guess-two-456', 'guess-three-789']) {
        keep(attempt);
        statuses.push((await form('/oauth/login', { ...fields, username: 'mallory', password: attempt })).status);
      }
      expect(statuses).toEqual([401, 401, 429]);
    }

    // Flow A: a failed then a good sign-in, consent, code, tokens, a refresh, then reuse of the old refresh token.
    const failed = await authorize({ password: 'wrong password 1' });
    keep('wrong password 1');
    expect(failed.code).toBeNull();
    const a = await authorize();
    expect(a.code).toBeTruthy();
    const first = await token({ grant_type: 'authorization_code', code: a.code!, code_verifier: a.verifier, redirect_uri: redirectUri });
    expect(first.response.status).toBe(200);
    const rotated = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    expect(rotated.response.status).toBe(200);
    clock.now += 5_000;
    const reused = await token({ grant_type: 'refresh_token', refresh_token: first.body.refresh_token as string });
    expect(reused.response.status).toBe(400);

    // Flow B: remembered consent, a code redeemed twice.
    const b = await authorize();
    expect(b.code).toBeTruthy();
    expect((await token({ grant_type: 'authorization_code', code: b.code!, code_verifier: b.verifier })).response.status).toBe(200);
    expect((await token({ grant_type: 'authorization_code', code: b.code!, code_verifier: b.verifier })).response.status).toBe(400);

    // Flow C: tokens, then the refresh token revoked, then the access token of a fresh grant revoked.
    const c = await authorize();
    const tokensC = await token({ grant_type: 'authorization_code', code: c.code!, code_verifier: c.verifier });
    const revoke = (value: string) => form('/oauth/revoke', { token: value }, { authorization: basicHeader(clientId, clientSecret) });
    expect((await revoke(tokensC.body.refresh_token as string)).status).toBe(200);
    const d = await authorize();
    const tokensD = await token({ grant_type: 'authorization_code', code: d.code!, code_verifier: d.verifier });
    expect((await revoke(tokensD.body.access_token as string)).status).toBe(200);

    // The guard sees the revoked tokens (its refusals are traced too).
    const guard = server.createGuard({ scopes: ['mcp:tools'] });
    for (const accessToken of [tokensC.body.access_token, tokensD.body.access_token]) {
      const result = await guard.authenticate(new Request(`${issuer}/mcp`, { headers: { authorization: `Bearer ${accessToken as string}` } }), { clientAddress: SOURCE });
      expect(result.ok).toBe(false);
    }

    // Consent denied.
    const denied = await authorize({ prompt: 'consent', decision: 'deny' });
    expect(denied.response.headers.get('location')).toContain('error=access_denied');

    // Introspection past its (small) limit.
    for (let i = 0; i < 3; i++) await form('/oauth/introspect', { token: tokensD.body.access_token as string }, { authorization: basicHeader(clientId, clientSecret) });

    // A store outage at the token endpoint.
    store.failing = true;
    const outage = await token({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43) });
    expect(outage.response.status).toBe(503);
    store.failing = false;

    // Client update and deletion (RFC 7592).
    const configuration = `/oauth/register/${encodeURIComponent(clientId)}`;
    const updated = await send(configuration, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${registrationToken}` },
      body: JSON.stringify({ client_id: clientId, redirect_uris: [redirectUri], client_name: 'Events App 2', token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code', 'refresh_token'], scope: 'mcp:tools openid' }),
    });
    expect(updated.status).toBe(200);
    registrationToken = ((await updated.json()) as Record<string, string>).registration_access_token!;
    keep(registrationToken);
    expect((await send(configuration, { method: 'DELETE', headers: { authorization: `Bearer ${registrationToken}` } })).status).toBe(204);
  });

  const ofType = <T extends KeywardEvent['type']>(type: T) => events.filter((event): event is Extract<KeywardEvent, { type: T }> => event.type === type);

  it('OPS-EVT-01: every event type of the flow is reported, stamped with the injected clock', () => {
    const types = new Set(events.map((event) => event.type));
    for (const type of [
      'client.registered', 'signin.failed', 'signin.throttled', 'signin.succeeded', 'consent.given', 'consent.denied', 'code.issued',
      'code.replayed', 'token.issued', 'refresh.rotated', 'refresh.reused', 'token.revoked', 'client.updated', 'client.deleted',
      'rate_limited', 'store.unavailable',
    ] as const) {
      expect(types, type).toContain(type);
    }
    const start = Date.UTC(2030, 0, 1, 12);
    for (const event of events) expect(event.at).toBeGreaterThanOrEqual(start);
  });

  it('OPS-EVT-02: sign-in events name the client, the source address and (on success) the subject', () => {
    expect(ofType('signin.failed')[0]).toMatchObject({ method: 'password', clientId, sourceAddress: SOURCE, endpoint: 'login' });
    expect(ofType('signin.failed')[0]!.subject).toBeUndefined();
    expect(ofType('signin.throttled')[0]).toMatchObject({ method: 'password', clientId, sourceAddress: SOURCE });
    expect(ofType('signin.succeeded')[0]).toMatchObject({ method: 'password', clientId, subject: 'local:demo', sourceAddress: SOURCE, endpoint: 'login' });
    expect(ofType('consent.given')[0]).toMatchObject({ clientId, subject: 'local:demo', scopes: ['mcp:tools', 'openid'], sourceAddress: SOURCE, endpoint: 'consent' });
    expect(ofType('consent.denied')[0]).toMatchObject({ clientId });
  });

  it('OPS-EVT-03: code and token events carry client, subject, grant, grant type and scopes', () => {
    const codes = ofType('code.issued');
    expect(codes.length).toBeGreaterThanOrEqual(4);
    expect(codes[0]).toMatchObject({ clientId, subject: 'local:demo', scopes: ['mcp:tools', 'openid'] });
    expect(codes[0]!.grantId).toMatch(/^[A-Za-z0-9_-]+$/);
    const issued = ofType('token.issued');
    expect(issued[0]).toMatchObject({ grantType: 'authorization_code', clientId, subject: 'local:demo', grantId: codes[0]!.grantId, sourceAddress: SOURCE, endpoint: 'token' });
    expect(issued.some((event) => event.grantType === 'refresh_token' && event.grantId === codes[0]!.grantId)).toBe(true);
    expect(ofType('refresh.rotated')[0]).toMatchObject({ clientId, subject: 'local:demo', grantId: codes[0]!.grantId, sourceAddress: SOURCE });
  });

  it('OPS-EVT-04: refresh reuse and code replay report the revoked grant', () => {
    const codes = ofType('code.issued');
    expect(ofType('refresh.reused')[0]).toMatchObject({ grantRevoked: true, clientId, grantId: codes[0]!.grantId, sourceAddress: SOURCE, endpoint: 'token' });
    expect(ofType('code.replayed')[0]).toMatchObject({ clientId, subject: 'local:demo', grantId: codes[1]!.grantId, sourceAddress: SOURCE });
  });

  it('OPS-EVT-05: revocations, registrations, rate limits and outages are reported', () => {
    const revoked = ofType('token.revoked');
    expect(revoked.map((event) => event.tokenType)).toEqual(['refresh_token', 'access_token']);
    expect(revoked[0]).toMatchObject({ clientId, subject: 'local:demo', endpoint: 'revoke', sourceAddress: SOURCE });
    expect(revoked[1]!.grantId).toBeTruthy();
    expect(ofType('client.registered')[0]).toMatchObject({ clientId, authMethod: 'client_secret_basic', sourceAddress: SOURCE, endpoint: 'register' });
    expect(ofType('client.updated')[0]).toMatchObject({ clientId, sourceAddress: SOURCE, endpoint: 'register' });
    expect(ofType('client.deleted')[0]).toMatchObject({ clientId, sourceAddress: SOURCE, endpoint: 'register' });
    expect(ofType('rate_limited')).toEqual([expect.objectContaining({ endpoint: 'introspect', limit: 2, windowMs: 60_000, sourceAddress: SOURCE })]);
    expect(ofType('store.unavailable')[0]).toMatchObject({ operation: 'getClient', endpoint: 'token', sourceAddress: SOURCE });
  });

  it('OPS-LOG-01: the trace covers the token, authorize, login, register, revoke, introspect and store namespaces', () => {
    const namespaces = new Set(logLines.map((line) => line.split(' ')[0]));
    for (const namespace of ['oauth:token', 'oauth:authorize', 'oauth:login', 'oauth:register', 'oauth:revoke', 'oauth:introspect', 'oauth:store', 'oauth:guard']) {
      expect(namespaces, namespace).toContain(namespace);
    }
    expect(logLines.some((line) => line.startsWith('oauth:token refused') && line.includes('invalid_grant'))).toBe(true);
  });

  it('OPS-SEC-01: no secret of the flow appears in any event or log line', () => {
    // Codes, tokens (access, refresh, ID), client secret, registration access tokens, passwords, cookies, CSRF tokens, PKCE verifiers.
    expect(secrets.size).toBeGreaterThan(25);
    const haystack = `${JSON.stringify(events)}\n${logLines.join('\n')}`;
    const leaked = [...secrets].filter((secret) => haystack.includes(secret));
    expect(leaked).toEqual([]);
    // The outage's internal detail stays out as well.
    expect(haystack).not.toContain('10.0.0.5');
  });
});

describe('the event hook cannot change an answer', () => {
  it('OPS-EVT-06: an onEvent, logger or onResponse that throws leaves responses as they were', async () => {
    const boom = () => {
      throw new Error('observer failed');
    };
    const server = new AuthorizationServer({
      issuer,
      store: new MemoryStore(),
      scopes: ['mcp:tools'],
      clients: [{ clientId: 'machine', clientSecret: 'machine-secret-0123456789', grantTypes: ['client_credentials'] }],
      onEvent: boom,
      logger: { debug: boom },
      onResponse: boom,
    });
    const response = await server.request('/oauth/token', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader('machine', 'machine-secret-0123456789') },
      body: 'grant_type=client_credentials&scope=mcp%3Atools',
    }, { clientAddress: SOURCE });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Record<string, unknown>).access_token).toBeTruthy();
  });
});
