import { describe, expect, it } from 'vitest';
import { authOf, basicHeader, CLIENTS, decodeJWT, expectOAuthError, ISSUER, PATHS, setup, toSearch, type Auth } from './support.js';

const form = { 'content-type': 'application/x-www-form-urlencoded' };

describe('A7 token endpoint: general behaviour', () => {
  it('AUTHZ-TOK-01: GET is refused and never issues tokens', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const query = toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'public-app' });
    const response = await h.server.request(`${PATHS.token}?${query}`);
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('POST');
    const text = await response.text();
    expect(text).not.toContain('access_token');
    // A GET did not burn the code either: it still redeems once by POST.
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
    for (const method of ['PUT', 'DELETE', 'PATCH']) {
      expect((await h.server.request(PATHS.token, { method })).status).toBe(405);
    }
  });

  it('AUTHZ-TOK-02: a form-urlencoded body (with a charset parameter) is accepted', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const response = await h.server.request(PATHS.token, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' },
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'public-app' }).toString(),
    });
    expect(response.status).toBe(200);
  });

  it('AUTHZ-TOK-02: project decision: an application/json body is accepted as an extension', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const response = await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, authOf('public'), { json: true });
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    const refreshed = await h.token({ grant_type: 'refresh_token', refresh_token: body.refresh_token }, authOf('public'), { json: true });
    expect(refreshed.status).toBe(200);
  });

  it('AUTHZ-TOK-02: any other content type, or no body, → 400 invalid_request', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const body = toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'public-app' }).toString();
    for (const type of ['text/plain', 'multipart/form-data; boundary=x', 'application/xml', 'application/jsonx']) {
      const response = await h.server.request(PATHS.token, { method: 'POST', headers: { 'content-type': type }, body });
      await expectOAuthError(response, 'invalid_request');
    }
    await expectOAuthError(await h.server.request(PATHS.token, { method: 'POST' }), 'invalid_request');
    const badJSON = await h.server.request(PATHS.token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"grant_type":' });
    await expectOAuthError(badJSON, 'invalid_request');
    const array = await h.server.request(PATHS.token, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[]' });
    await expectOAuthError(array, 'invalid_request');
    // None of that consumed the code.
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
  });

  it('AUTHZ-TOK-02: a repeated parameter → invalid_request (form and JSON)', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const twice = await h.token({ grant_type: ['authorization_code', 'authorization_code'], code, code_verifier: verifier }, authOf('public'));
    await expectOAuthError(twice, 'invalid_request');
    const json = await h.token({ grant_type: 'authorization_code', code: [code, code], code_verifier: verifier }, authOf('public'), { json: true });
    await expectOAuthError(json, 'invalid_request');
    const verifierTwice = await h.token({ grant_type: 'authorization_code', code, code_verifier: [verifier, verifier] }, authOf('public'));
    await expectOAuthError(verifierTwice, 'invalid_request');
  });

  it('AUTHZ-TOK-02: unknown parameters are ignored and an empty value counts as absent', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const ok = await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier, foo: 'bar', redirect_uri: '', scope: '' }, authOf('public'));
    expect(ok.status).toBe(200);
    await expectOAuthError(await h.token({ grant_type: '', code }, authOf('public')), 'invalid_request');
  });

  it('AUTHZ-TOK-03: success is 200 JSON with access_token, token_type, expires_in, scope', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ scope: 'mcp:tools mcp:admin' });
    const response = await h.redeem(code, verifier, authOf('public'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await response.json();
    expect(body).toEqual({
      access_token: expect.stringMatching(/^[\w-]+\.[\w-]+\.[\w-]+$/),
      token_type: 'Bearer',
      expires_in: 3600,
      scope: 'mcp:tools mcp:admin',
      refresh_token: expect.stringMatching(/^[A-Za-z0-9_-]{43,}$/),
    });
  });

  it('AUTHZ-TOK-03: a scope narrowed at consent is reported in the token response', async () => {
    const h = setup({ interactive: true });
    const { verifier } = await h.authorize({ scope: 'mcp:tools mcp:admin' });
    const done = await h.server.completeInteraction(h.pending[0]!.interactionId, { subject: 'alice', scopes: ['mcp:tools'] });
    const code = new URL(done.headers.get('location')!).searchParams.get('code')!;
    const body = await (await h.redeem(code, verifier, authOf('public'))).json();
    expect(body.scope).toBe('mcp:tools');
    expect(decodeJWT(body.access_token).payload.scope).toBe('mcp:tools');
  });

  it('AUTHZ-TOK-04: Cache-Control: no-store on success and on errors', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    const ok = await h.redeem(code, verifier, authOf('public'));
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.headers.get('pragma')).toBe('no-cache');
    const bad = await h.redeem(code, verifier, authOf('public'));
    expect(bad.status).toBe(400);
    expect(bad.headers.get('cache-control')).toBe('no-store');
    const unauthenticated = await h.token({ grant_type: 'authorization_code', code }, { method: 'basic', clientId: 'conf-basic', secret: 'wrong' });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get('cache-control')).toBe('no-store');
    const notAllowed = await h.server.request(PATHS.token);
    expect(notAllowed.headers.get('cache-control')).toBe('no-store');
  });

  it('AUTHZ-TOK-05: grant_type=password → 400 unsupported_grant_type, with error_uri (project decision)', async () => {
    const h = setup();
    const body = await expectOAuthError(await h.token({ grant_type: 'password', username: 'u', password: 'p' }, authOf('basic')), 'unsupported_grant_type');
    expect(body.error_uri).toMatch(/^https:\/\//);
    expect(body.error_description).toBeTypeOf('string');
    for (const grantType of ['implicit', 'constructor', '__proto__', 'toString', 'urn:ietf:params:oauth:grant-type:device_code']) {
      await expectOAuthError(await h.token({ grant_type: grantType }, authOf('basic')), 'unsupported_grant_type');
    }
    await expectOAuthError(await h.token({}, authOf('basic')), 'invalid_request');
  });

  it('AUTHZ-TOK-05: every error body is {error, error_description?, error_uri?} with a safe description', async () => {
    const h = setup();
    for (const grantType of ['"quoted"\\', 'ünïcødé', 'a\nb']) {
      const body = await expectOAuthError(await h.token({ grant_type: grantType }, authOf('basic')), 'unsupported_grant_type');
      expect(Object.keys(body).sort()).toEqual(['error', 'error_description', 'error_uri']);
      expect(body.error_description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/);
    }
    const grant = await expectOAuthError(await h.redeem('nope', 'a'.repeat(43), authOf('public')), 'invalid_grant');
    expect(grant.error_uri).toBeTypeOf('string');
  });

  it('AUTHZ-TOK-06: a client without the refresh_token grant → unauthorized_client, and gets no refresh token', async () => {
    const h = setup();
    const tokens = await h.login({ client: 'noRefresh' });
    expect(tokens).not.toHaveProperty('refresh_token');
    const other = await h.login();
    const response = await h.refresh(other.refresh_token!, authOf('noRefresh'));
    await expectOAuthError(response, 'unauthorized_client');
  });

  it('project decision: a refresh token is issued when the client is allowed the refresh_token grant, without offline_access', async () => {
    const h = setup();
    const tokens = await h.login({ scope: 'mcp:tools' });
    expect(tokens.refresh_token).toBeTypeOf('string');
  });

  it('AUTHZ-TOK-06: client_credentials is refused to public clients', async () => {
    const h = setup();
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf('public')), 'unauthorized_client');
    // Even a public client whose configuration lists the grant.
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf('publicMachine')), 'unauthorized_client');
  });

  it('AUTHZ-TOK-06: client_credentials works for a confidential client allowed it, sub = client_id', async () => {
    const h = setup();
    const response = await h.token({ grant_type: 'client_credentials', scope: 'mcp:tools' }, authOf('machine'));
    const body = await response.json();
    expect(response.status, JSON.stringify(body)).toBe(200);
    expect(body).not.toHaveProperty('refresh_token');
    expect(body).not.toHaveProperty('id_token');
    const claims = decodeJWT(body.access_token).payload;
    expect(claims.sub).toBe('machine');
    expect(claims.client_id).toBe('machine');
    // A confidential client not allowed the grant.
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf('basic')), 'unauthorized_client');
    // The machine client is not allowed the code grant.
    await expectOAuthError(await h.token({ grant_type: 'authorization_code', code: 'x', code_verifier: 'a'.repeat(43) }, authOf('machine')), 'unauthorized_client');
  });
});

describe('client_credentials keeps nothing per token', () => {
  it('PERF-TOK-01: no grant is stored per token, and revoking a token still ends it at the guard and at introspection', async () => {
    const h = setup();
    const post = (path: string, token: string) =>
      h.server.request(path, { method: 'POST', headers: { ...form, authorization: basicHeader('machine', CLIENTS.machine.clientSecret!) }, body: toSearch({ token }) });
    const introspect = async (token: string) => (await (await post('/oauth/introspect', token)).json()) as { active: boolean; sub?: string };
    const tokens: string[] = [];
    for (let i = 0; i < 5; i++) {
      const response = await h.token({ grant_type: 'client_credentials', scope: 'mcp:tools' }, authOf('machine'));
      expect(response.status).toBe(200);
      tokens.push(((await response.json()) as { access_token: string }).access_token);
    }
    // The store grows by nothing per request, which is what keeps a busy server's memory flat.
    expect(h.store.grants).toEqual([]);
    expect(decodeJWT(tokens[0]!).payload).not.toHaveProperty('grant_id');
    for (const token of tokens) expect((await h.bearer(token)).ok).toBe(true);
    expect(await introspect(tokens[0]!)).toMatchObject({ active: true, sub: 'machine' });

    expect((await post('/oauth/revoke', tokens[0]!)).status).toBe(200);
    expect((await h.bearer(tokens[0]!)).ok).toBe(false);
    expect((await introspect(tokens[0]!)).active).toBe(false);
    // The others were not revoked with it.
    expect((await h.bearer(tokens[1]!)).ok).toBe(true);
  });
});

describe('A8 client authentication at the token endpoint', () => {
  const wrongSecret = (auth: Auth): Auth => (auth.method === 'basic' || auth.method === 'post' ? { ...auth, secret: `${auth.secret}x` } : auth);

  it('AUTHZ-CAUTH-01: a confidential client without credentials → 401 invalid_client', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    // Only client_id, as a public client would.
    await expectOAuthError(await h.redeem(code, verifier, { method: 'none', clientId: 'conf-basic' }), 'invalid_client', 401);
    // Nothing at all.
    await expectOAuthError(await h.redeem(code, verifier, { method: 'omit' }), 'invalid_client', 401);
    // The failed attempts did not consume the code.
    expect((await h.redeem(code, verifier, authOf('basic'))).status).toBe(200);
  });

  it('AUTHZ-CAUTH-01: a method other than the registered one → 401 invalid_client', async () => {
    const h = setup();
    const basic = CLIENTS.basic;
    const { code, verifier } = await h.code({ client: 'basic' });
    await expectOAuthError(await h.redeem(code, verifier, { method: 'post', clientId: basic.clientId, secret: basic.clientSecret }), 'invalid_client', 401);
    const post = CLIENTS.post;
    const second = await h.code({ client: 'post' });
    await expectOAuthError(await h.redeem(second.code, second.verifier, { method: 'basic', clientId: post.clientId, secret: post.clientSecret }), 'invalid_client', 401);
    // A public client presenting a secret.
    const third = await h.code();
    await expectOAuthError(await h.redeem(third.code, third.verifier, { method: 'post', clientId: 'public-app', secret: 'anything' }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-01: unknown clients and wrong secrets → 401 invalid_client', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    await expectOAuthError(await h.redeem(code, verifier, { method: 'none', clientId: 'who' }), 'invalid_client', 401);
    await expectOAuthError(await h.redeem(code, verifier, { method: 'basic', clientId: 'who', secret: 's' }), 'invalid_client', 401);
    await expectOAuthError(await h.redeem(code, verifier, wrongSecret(authOf('basic'))), 'invalid_client', 401);
    const post = await h.code({ client: 'post' });
    await expectOAuthError(await h.redeem(post.code, post.verifier, wrongSecret(authOf('post'))), 'invalid_client', 401);
    expect((await h.redeem(post.code, post.verifier, authOf('post'))).status).toBe(200);
  });

  it('AUTHZ-CAUTH-01: a public client authenticates by client_id alone', async () => {
    const h = setup();
    const { code, verifier } = await h.code();
    expect((await h.redeem(code, verifier, authOf('public'))).status).toBe(200);
  });

  it('AUTHZ-CAUTH-02: client_secret_post works, and credentials in the URI are rejected', async () => {
    const h = setup();
    const post = CLIENTS.post;
    const { code, verifier } = await h.code({ client: 'post' });
    const inQuery = await h.server.request(`${PATHS.token}?client_secret=${encodeURIComponent(post.clientSecret)}`, {
      method: 'POST',
      headers: form,
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: post.clientId }),
    });
    const body = await expectOAuthError(inQuery, 'invalid_request');
    expect(body).not.toHaveProperty('access_token');
    expect((await h.redeem(code, verifier, authOf('post'))).status).toBe(200);
  });

  it('AUTHZ-CAUTH-03: Basic credentials are form-urldecoded: client_id a:b% as a%3Ab%25', async () => {
    const h = setup();
    const colon = CLIENTS.colon;
    const { code, verifier } = await h.code({ client: 'colon' });
    const header = `Basic ${Buffer.from(`a%3Ab%25:${encodeURIComponent(colon.clientSecret)}`).toString('base64')}`;
    const response = await h.server.request(PATHS.token, {
      method: 'POST',
      headers: { ...form, authorization: header },
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier }),
    });
    const tokens = await response.json();
    expect(response.status, JSON.stringify(tokens)).toBe(200);
    expect(decodeJWT(tokens.access_token).payload.client_id).toBe('a:b%');
  });

  it('AUTHZ-CAUTH-03: undecoded or malformed Basic credentials are refused, strictly', async () => {
    const h = setup();
    const colon = CLIENTS.colon;
    const { code, verifier } = await h.code({ client: 'colon' });
    for (const raw of [`a:b%:${colon.clientSecret}`, `a%3Ab%25:${colon.clientSecret}`, 'a%3Ab%25:p%ZZ', 'a%3Ab%2:x', 'no-colon']) {
      const response = await h.server.request(PATHS.token, {
        method: 'POST',
        headers: { ...form, authorization: `Basic ${Buffer.from(raw).toString('base64')}` },
        body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier }),
      });
      await expectOAuthError(response, 'invalid_client', 401);
    }
    // Plus signs are spaces: a secret containing a space sent form-encoded works.
    const secretWithSpace = basicHeader(colon.clientId, colon.clientSecret);
    expect(Buffer.from(secretWithSpace.slice(6), 'base64').toString()).toContain('+');
    const ok = await h.server.request(PATHS.token, {
      method: 'POST',
      headers: { ...form, authorization: secretWithSpace },
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier }),
    });
    expect(ok.status).toBe(200);
  });

  it('AUTHZ-CAUTH-03: the Basic scheme name is case-insensitive', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    const header = basicHeader(CLIENTS.basic.clientId, CLIENTS.basic.clientSecret).replace(/^Basic/, 'bAsIc');
    const response = await h.server.request(PATHS.token, {
      method: 'POST',
      headers: { ...form, authorization: header },
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier }),
    });
    expect(response.status).toBe(200);
  });

  it('AUTHZ-CAUTH-04: more than one authentication method → 400 invalid_request', async () => {
    const h = setup();
    const basic = CLIENTS.basic;
    const { code, verifier } = await h.code({ client: 'basic' });
    const response = await h.token(
      { grant_type: 'authorization_code', code, code_verifier: verifier, client_secret: basic.clientSecret },
      authOf('basic'),
    );
    await expectOAuthError(response, 'invalid_request');
    // A client_id in the body that contradicts the Basic header.
    const mismatch = await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier, client_id: 'conf-post' }, authOf('basic'));
    await expectOAuthError(mismatch, 'invalid_request');
    expect((await h.redeem(code, verifier, authOf('basic'))).status).toBe(200);
  });

  it('AUTHZ-CAUTH-05: a failed Basic attempt → 401 with WWW-Authenticate: Basic and invalid_client', async () => {
    const h = setup();
    const { code, verifier } = await h.code({ client: 'basic' });
    for (const auth of [wrongSecret(authOf('basic')), { method: 'basic', clientId: 'unknown', secret: 'x' } as Auth]) {
      const response = await h.redeem(code, verifier, auth);
      const body = await expectOAuthError(response, 'invalid_client', 401);
      expect(body.error_uri).toBeTypeOf('string');
      expect(response.headers.get('www-authenticate')).toBe(`Basic realm="${ISSUER}"`);
    }
    const garbage = await h.server.request(PATHS.token, {
      method: 'POST',
      headers: { ...form, authorization: 'Basic !!!not-base64!!!' },
      body: toSearch({ grant_type: 'authorization_code', code, code_verifier: verifier }),
    });
    await expectOAuthError(garbage, 'invalid_client', 401);
    expect(garbage.headers.get('www-authenticate')).toMatch(/^Basic /);
  });
});
