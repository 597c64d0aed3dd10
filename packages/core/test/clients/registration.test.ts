/**
 * A15: dynamic client registration (RFC 7591) and client management (RFC 7592), black-box through
 * `server.request`, plus the project decisions of docs/decisions.md "Clients".
 */
import { describe, expect, it } from 'vitest';
import { sha256 } from '../../src/protocol/crypto.js';
import { authOf, createHarness, expectJSON, expectOAuthError, IAT, ISSUER, PATHS, type ClientInformation } from './harness.js';

const DAY = 24 * 3600;

describe('A15 dynamic client registration (RFC 7591)', () => {
  it('AUTHZ-DCR-01: POST application/json → 201 with client_id and all registered metadata, defaults included, no-store', async () => {
    const h = createHarness();
    const response = await h.register({ redirect_uris: ['https://app.example.com/cb'], client_name: 'App', scope: 'mcp:tools openid' });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await expectJSON<ClientInformation>(response, 201);
    expect(body).toMatchObject({
      client_name: 'App',
      scope: 'mcp:tools openid',
      redirect_uris: ['https://app.example.com/cb'],
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      client_id_issued_at: Math.floor(h.now / 1000),
    });
    expect(body.client_id).toMatch(/^[A-Za-z0-9_-]{16,}$/);
    // The metadata is what the server registered: a read through RFC 7592 returns the same members.
    const read = await expectJSON<ClientInformation>(await h.configure(body, body.registration_access_token));
    for (const member of ['client_id', 'client_name', 'scope', 'redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'client_id_issued_at', 'client_secret_expires_at']) {
      expect(read[member], member).toEqual(body[member]);
    }
  });

  it('AUTHZ-DCR-01: only POST with a JSON object body', async () => {
    const h = createHarness();
    expect((await h.server.request(PATHS.register)).status).toBe(405);
    await expectOAuthError(await h.register('{"redirect_uris":', {}), 'invalid_client_metadata');
    await expectOAuthError(await h.register('["https://app.example.com/cb"]'), 'invalid_client_metadata');
    await expectOAuthError(await h.register('null'), 'invalid_client_metadata');
    await expectOAuthError(
      await h.register(JSON.stringify({ redirect_uris: ['https://app.example.com/cb'] }), { headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      'invalid_client_metadata',
    );
  });

  it('AUTHZ-DCR-02: omitted auth method, grant types and response types get the RFC 7591 §2 defaults', async () => {
    const h = createHarness();
    const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'] });
    expect(body.token_endpoint_auth_method).toBe('client_secret_basic');
    expect(body.grant_types).toEqual(['authorization_code']);
    expect(body.response_types).toEqual(['code']);
    // The defaults are real: the client authenticates with Basic, and only the code grant is allowed.
    const tokens = await h.login(body, authOf(body));
    expect(tokens.refresh_token, 'no refresh_token grant registered').toBeUndefined();
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf(body)), 'unauthorized_client');
  });

  it('AUTHZ-DCR-03: a confidential client gets a secret and a numeric client_secret_expires_at (0 = never)', async () => {
    const h = createHarness();
    for (const method of ['client_secret_basic', 'client_secret_post']) {
      const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'], token_endpoint_auth_method: method });
      expect(body.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(body.client_secret_expires_at).toBe(0);
      await h.login(body, authOf(body));
    }
  });

  it('AUTHZ-DCR-03: token_endpoint_auth_method none → public client, no client_secret (the MCP default)', async () => {
    const h = createHarness();
    const body = await h.publicClient();
    expect(body.token_endpoint_auth_method).toBe('none');
    expect(body).not.toHaveProperty('client_secret');
    expect(body).not.toHaveProperty('client_secret_expires_at');
    await h.login(body, { none: body.client_id });
  });

  it('AUTHZ-DCR-03: with clientSecretLifetime, client_secret_expires_at is the real expiry', async () => {
    const h = createHarness({ registration: { clientSecretLifetime: 7 * DAY } });
    const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'] });
    expect(body.client_secret_expires_at).toBe(Math.floor(h.now / 1000) + 7 * DAY);
  });

  it('AUTHZ-DCR-04: the code grant without redirect_uris → 400 invalid_redirect_uri; other errors are 400 JSON too', async () => {
    const h = createHarness();
    for (const metadata of [{}, { redirect_uris: [] }, { grant_types: ['authorization_code', 'refresh_token'] }]) {
      const body = await expectOAuthError(await h.register(metadata), 'invalid_redirect_uri');
      expect(body.error_description).toMatch(/redirect_uris/);
    }
    await expectOAuthError(await h.register({ redirect_uris: 'https://app.example.com/cb' }), 'invalid_redirect_uri');
    await expectOAuthError(await h.register({ redirect_uris: [42] }), 'invalid_redirect_uri');
    const cases: Record<string, unknown>[] = [
      { token_endpoint_auth_method: 'tls_client_auth' },
      { scope: 'mcp:tools not-a-scope' },
      { grant_types: 'authorization_code' },
      { client_name: 'x'.repeat(201) },
      { application_type: 'desktop' },
      { client_uri: 'not a url' },
    ];
    for (const extra of cases) {
      const body = await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb'], ...extra }), 'invalid_client_metadata');
      expect(body.error_description, JSON.stringify(extra)).toMatch(new RegExp(Object.keys(extra)[0]!));
    }
  });

  it('AUTHZ-DCR-04: software statements are not supported and are ignored (RFC 7591 §3.1.1 allows it)', async () => {
    const h = createHarness();
    const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'], software_statement: 'eyJhbGciOiJub25lIn0.eyJjbGllbnRfbmFtZSI6IkV2aWwifQ.', client_name: 'Honest' });
    expect(body).not.toHaveProperty('software_statement');
    expect(body.client_name).toBe('Honest');
  });

  it('AUTHZ-DCR-05: http non-loopback, fragments, dangerous schemes, userinfo and bare custom schemes → 400 invalid_redirect_uri', async () => {
    const h = createHarness({ registration: { rateLimit: false } });
    const bad = [
      'http://evil/cb',
      'http://evil.example.com/cb',
      'https://a/cb#f',
      'https://a.example/cb#',
      'javascript:x',
      'javascript://app.example.com/%0aalert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'vbscript:msgbox(1)',
      'https://user:pass@app.example.com/cb',
      'http://127.0.0.1.evil.example/cb',
      'http://localhost.evil.example/cb',
      'myapp:/cb',
      '/relative/cb',
    ];
    for (const uri of bad) {
      const body = await expectOAuthError(await h.register({ redirect_uris: [uri], token_endpoint_auth_method: 'none' }), 'invalid_redirect_uri');
      expect(body.error_description, uri).toMatch(/redirect_uris/);
      // One bad URI among good ones spoils the registration.
      await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb', uri], token_endpoint_auth_method: 'none' }), 'invalid_redirect_uri');
    }
  });

  it('AUTHZ-DCR-05: https, loopback http (native) and reverse-DNS private-use schemes → 201', async () => {
    const h = createHarness();
    for (const uri of ['http://127.0.0.1/cb', 'http://[::1]:8080/cb', 'http://localhost/oauth/callback', 'https://app.example.com/cb?x=1', 'com.example.app:/oauth2redirect']) {
      const body = await h.registered({ redirect_uris: [uri], token_endpoint_auth_method: 'none', application_type: uri.startsWith('https') ? 'web' : 'native' });
      expect(body.redirect_uris).toEqual([uri]);
    }
    // A loopback registration accepts the ephemeral port a native client picks at run time (RFC 8252 §7.3).
    const native = await h.registered({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none' });
    const { code } = await h.code(native.client_id, 'http://127.0.0.1:53124/cb');
    expect(code).toBeTruthy();
  });

  it('AUTHZ-DCR-05: informational URLs shown to users (logo_uri, client_uri, policy_uri, tos_uri) and jwks_uri must be https', async () => {
    const h = createHarness({ registration: { rateLimit: false, initialAccessTokens: [IAT] } });
    for (const member of ['logo_uri', 'client_uri', 'policy_uri', 'tos_uri']) {
      for (const url of ['javascript:alert(1)', 'data:image/svg+xml,<svg onload=alert(1)>', 'http://evil.example/x', 'file:///etc/passwd']) {
        await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb'], [member]: url }), 'invalid_client_metadata');
      }
      const ok = await h.registered({ redirect_uris: ['https://app.example.com/cb'], [member]: 'https://app.example.com/about' });
      expect(ok[member]).toBe('https://app.example.com/about');
    }
    await expectOAuthError(
      await h.register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://keys.example/jwks.json' }, { iat: IAT }),
      'invalid_client_metadata',
    );
  });

  it('AUTHZ-DCR-06: unknown metadata is dropped without error', async () => {
    const h = createHarness();
    const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'], foo: 'bar', nested: { a: 1 }, __proto__x: 1, post_logout_redirect_uris: ['https://x'] });
    for (const member of ['foo', 'nested', '__proto__x', 'post_logout_redirect_uris']) expect(body, member).not.toHaveProperty(member);
    const read = await expectJSON<ClientInformation>(await h.configure(body, body.registration_access_token));
    expect(read).not.toHaveProperty('foo');
  });

  it('AUTHZ-DCR-07: inconsistent grant and response types → 400 invalid_client_metadata; what is registered is returned', async () => {
    const h = createHarness();
    const bad: Record<string, unknown>[] = [
      { response_types: ['code'], grant_types: ['client_credentials'] },
      { response_types: ['token'], grant_types: ['authorization_code'] },
      { response_types: ['code id_token'] },
      { response_types: [], grant_types: ['authorization_code'] },
    ];
    for (const metadata of bad) {
      await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb'], ...metadata }, { iat: IAT }), 'invalid_client_metadata');
    }
    // client_credentials alone: response_types defaults to none, and the response says so.
    const machine = await h.registered({ grant_types: ['client_credentials'] }, { iat: IAT });
    expect(machine.response_types).toEqual([]);
    // Duplicates are collapsed.
    const dup = await h.registered({ redirect_uris: ['https://app.example.com/cb'], grant_types: ['authorization_code', 'authorization_code', 'refresh_token'] });
    expect(dup.grant_types).toEqual(['authorization_code', 'refresh_token']);
  });

  it('AUTHZ-DCR-07: unsupported grant types are filtered out (decision), and the response shows the filtered list', async () => {
    const h = createHarness();
    const body = await h.registered({
      redirect_uris: ['http://127.0.0.1/cb'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code', 'refresh_token', 'implicit', 'password'],
    });
    expect(body.grant_types).toEqual(['authorization_code', 'refresh_token']);
    await expectOAuthError(await h.register({ grant_types: ['password', 'implicit'], redirect_uris: ['http://127.0.0.1/cb'] }), 'invalid_client_metadata');
  });

  it('AUTHZ-DCR-08: a client_id (and client_secret) sent by the client are ignored; the server generates them', async () => {
    const h = createHarness();
    const body = await h.registered({ redirect_uris: ['https://app.example.com/cb'], client_id: 'chosen-id', client_secret: 'chosen-secret-0123456789' });
    expect(body.client_id).not.toBe('chosen-id');
    expect(body.client_secret).not.toBe('chosen-secret-0123456789');
    expect(await h.store.getClient('chosen-id')).toBeNull();
    await expectOAuthError(await h.revoke('x', { basic: [body.client_id, 'chosen-secret-0123456789'] }), 'invalid_client', 401);
    // Registering the same id twice cannot take over an existing client either.
    const second = await h.registered({ redirect_uris: ['https://evil.example.com/cb'], client_id: body.client_id });
    expect(second.client_id).not.toBe(body.client_id);
    const first = await h.store.getClient(body.client_id);
    expect(first?.redirectUris).toEqual(['https://app.example.com/cb']);
  });

  it('AUTHZ-DCR-08: scopes are capped to the server scopes', async () => {
    const h = createHarness();
    await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb'], scope: 'mcp:tools root' }), 'invalid_client_metadata');
    await expectOAuthError(await h.register({ redirect_uris: ['https://app.example.com/cb'], scope: 'mcp:tools\u0000' }), 'invalid_client_metadata');
    // A client registered with a scope may not ask for more at the authorization endpoint.
    const limited = await h.registered({ redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'none', scope: 'mcp:tools' });
    const { response } = await h.authorize(limited.client_id, 'http://127.0.0.1/cb', { scope: 'mcp:tools mcp:admin' });
    expect(new URL(response.headers.get('location')!).searchParams.get('error')).toBe('invalid_scope');
  });

  it('AUTHZ-DCR-08: anonymous registration cannot get client_credentials; an initial access token can (decision)', async () => {
    const h = createHarness();
    const body = await expectOAuthError(await h.register({ grant_types: ['client_credentials'] }), 'invalid_client_metadata');
    expect(body.error_description).toMatch(/initial access token/);
    await expectOAuthError(await h.register({ grant_types: ['authorization_code', 'client_credentials'], redirect_uris: ['https://app.example.com/cb'] }), 'invalid_client_metadata');
    const machine = await h.machineClient();
    expect(machine.grant_types).toEqual(['client_credentials']);
    await h.machineToken(authOf(machine), 'mcp:tools');
    // Even with the token, a public client cannot use client_credentials.
    await expectOAuthError(await h.register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'none' }, { iat: IAT }), 'invalid_client_metadata');
  });

  it('AUTHZ-DCR-08: a wrong initial access token → 401 invalid_token; requireInitialAccessToken refuses anonymous registration', async () => {
    const h = createHarness();
    const wrong = await h.register({ redirect_uris: ['https://app.example.com/cb'] }, { iat: 'not-the-initial-access-token' });
    await expectOAuthError(wrong, 'invalid_token', 401);
    expect(wrong.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);

    const closed = createHarness({ registration: { initialAccessTokens: [IAT], requireInitialAccessToken: true } });
    const anonymous = await closed.register({ redirect_uris: ['https://app.example.com/cb'] });
    await expectOAuthError(anonymous, 'invalid_token', 401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await closed.registered({ redirect_uris: ['https://app.example.com/cb'] }, { iat: IAT });
  });

  it('AUTHZ-DCR-08: a registration policy can refuse with a reason, and sees the request', async () => {
    const h = createHarness({
      registration: {
        policy: (metadata, request) => {
          if (request.headers.get('x-test-tenant') === 'blocked') return false;
          return (metadata.redirect_uris ?? []).every((uri) => uri.startsWith('https://allowed.example.com/')) || 'redirect URIs must be on allowed.example.com';
        },
      },
    });
    const body = await expectOAuthError(await h.register({ redirect_uris: ['https://other.example.com/cb'] }), 'invalid_client_metadata');
    expect(body.error_description).toBe('redirect URIs must be on allowed.example.com');
    await expectOAuthError(await h.register({ redirect_uris: ['https://allowed.example.com/cb'] }, { headers: { 'x-test-tenant': 'blocked' } }), 'invalid_client_metadata');
    await h.registered({ redirect_uris: ['https://allowed.example.com/cb'] });
  });

  it('is on by default and advertised; registration: false removes the endpoint and the metadata member', async () => {
    const on = createHarness();
    const metadata = await expectJSON(await on.server.request('/.well-known/oauth-authorization-server'));
    expect(metadata.registration_endpoint).toBe(`${ISSUER}${PATHS.register}`);
    const off = createHarness({ registration: false });
    expect((await off.register({ redirect_uris: ['https://app.example.com/cb'] })).status).toBe(404);
    const offMetadata = await expectJSON(await off.server.request('/.well-known/oauth-authorization-server'));
    expect(offMetadata).not.toHaveProperty('registration_endpoint');
  });
});

describe('A15 client management (RFC 7592)', () => {
  async function registered() {
    const h = createHarness();
    const client = await h.registered({ redirect_uris: ['https://app.example.com/cb'], client_name: 'Managed', grant_types: ['authorization_code', 'refresh_token'] });
    return { h, client };
  }

  /** The registration request body for an update: everything but the read-only members. */
  function updateBody(client: ClientInformation, changes: Record<string, unknown> = {}): Record<string, unknown> {
    const { registration_access_token: _t, registration_client_uri: _u, client_secret_expires_at: _e, client_id_issued_at: _i, client_secret: _s, ...rest } = client;
    return { ...rest, ...changes };
  }

  it('AUTHZ-DCR-09: the response carries registration_access_token and registration_client_uri under the registration endpoint', async () => {
    const { client } = await registered();
    expect(client.registration_access_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(client.registration_client_uri).toBe(`${ISSUER}${PATHS.register}/${encodeURIComponent(client.client_id)}`);
  });

  it('AUTHZ-DCR-09: GET with the RAT → 200 (no-store), and the RAT rotates (decision): the old one is dead', async () => {
    const { h, client } = await registered();
    const response = await h.configure(client, client.registration_access_token);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const read = await expectJSON<ClientInformation>(response);
    expect(read).toMatchObject({ client_id: client.client_id, client_name: 'Managed', registration_client_uri: client.registration_client_uri });
    expect(read).not.toHaveProperty('client_secret');
    expect(read.registration_access_token).not.toBe(client.registration_access_token);
    await expectOAuthError(await h.configure(client, client.registration_access_token), 'invalid_token', 401);
    await expectJSON(await h.configure(client, read.registration_access_token));
    // Only the hash of the current RAT is stored.
    const stored = await h.store.getClient(client.client_id);
    expect(JSON.stringify(stored)).not.toContain(read.registration_access_token);
  });

  it('AUTHZ-DCR-09: a bad, missing or foreign RAT → 401 with a Bearer challenge; unknown clients look the same', async () => {
    const { h, client } = await registered();
    const other = await h.registered({ redirect_uris: ['https://other.example.com/cb'] });
    const missing = await h.configure(client, undefined);
    await expectOAuthError(missing, 'invalid_token', 401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    for (const token of ['wrong', other.registration_access_token, IAT]) {
      const response = await h.configure(client, token);
      await expectOAuthError(response, 'invalid_token', 401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    }
    await expectOAuthError(await h.configure({ registration_client_uri: `${ISSUER}${PATHS.register}/no-such-client` }, client.registration_access_token), 'invalid_token', 401);
    // None of the failures rotated or spent the real RAT.
    await expectJSON(await h.configure(client, client.registration_access_token));
    expect((await h.configure(client, 'x', { method: 'PATCH' })).status).toBe(405);
  });

  it('AUTHZ-DCR-09: PUT replaces the metadata (members left out are gone) and returns what is registered', async () => {
    const { h, client } = await registered();
    const body = updateBody(client, { redirect_uris: ['https://app.example.com/new-cb'], client_name: undefined, scope: 'mcp:tools' });
    delete body.client_name;
    const updated = await expectJSON<ClientInformation>(await h.configure(client, client.registration_access_token, { method: 'PUT', body: JSON.stringify(body) }));
    expect(updated).toMatchObject({ client_id: client.client_id, redirect_uris: ['https://app.example.com/new-cb'], scope: 'mcp:tools' });
    expect(updated).not.toHaveProperty('client_name');
    expect(updated.client_id_issued_at).toBe(client.client_id_issued_at);
    // The secret is kept (not re-issued) and still works; the old redirect URI no longer does.
    expect(updated).not.toHaveProperty('client_secret');
    await h.login(updated, authOf(client));
    const { response } = await h.authorize(client.client_id, 'https://app.example.com/cb');
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
  });

  it('AUTHZ-DCR-09: PUT must carry the client_id and must not carry RAT, RCU, client_secret_expires_at, client_id_issued_at', async () => {
    const { h, client } = await registered();
    const put = (body: Record<string, unknown>) => h.configure(client, client.registration_access_token, { method: 'PUT', body: JSON.stringify(body) });
    const { client_id: _id, ...withoutId } = updateBody(client);
    await expectOAuthError(await put(withoutId), 'invalid_client_metadata');
    await expectOAuthError(await put(updateBody(client, { client_id: 'someone-else' })), 'invalid_client_metadata');
    for (const member of ['registration_access_token', 'registration_client_uri', 'client_secret_expires_at', 'client_id_issued_at']) {
      const body = await expectOAuthError(await put(updateBody(client, { [member]: client[member] })), 'invalid_client_metadata');
      expect(body.error_description).toMatch(member);
    }
    // client_secret may be sent, but only the current one.
    await expectOAuthError(await put(updateBody(client, { client_secret: 'not-the-secret' })), 'invalid_client_metadata');
    // Refused updates neither changed the client nor rotated the RAT.
    const ok = await expectJSON<ClientInformation>(await put(updateBody(client, { client_secret: client.client_secret })));
    expect(ok.client_name).toBe('Managed');
  });

  it('AUTHZ-DCR-09: PUT validates like registration: bad redirect URIs, client_credentials without an initial access token', async () => {
    const { h, client } = await registered();
    let rat = client.registration_access_token;
    const put = (changes: Record<string, unknown>) => h.configure(client, rat, { method: 'PUT', body: JSON.stringify(updateBody(client, changes)) });
    await expectOAuthError(await put({ redirect_uris: ['http://evil.example.com/cb'] }), 'invalid_redirect_uri');
    await expectOAuthError(await put({ grant_types: ['authorization_code', 'client_credentials'] }), 'invalid_client_metadata');
    const ok = await expectJSON<ClientInformation>(await put({ client_name: 'Renamed' }));
    rat = ok.registration_access_token;
    expect(ok.client_name).toBe('Renamed');
  });

  it('AUTHZ-DCR-08/09: the registration policy also applies to updates, so PUT cannot smuggle in what POST refuses', async () => {
    const h = createHarness({
      registration: {
        policy: (metadata) => (metadata.redirect_uris ?? []).every((uri) => uri.startsWith('https://allowed.example.com/')) || 'redirect URIs must be on allowed.example.com',
      },
    });
    const client = await h.registered({ redirect_uris: ['https://allowed.example.com/cb'] });
    const response = await h.configure(client, client.registration_access_token, {
      method: 'PUT',
      body: JSON.stringify(updateBody(client, { redirect_uris: ['https://evil.example.com/cb'] })),
    });
    const body = await expectOAuthError(response, 'invalid_client_metadata');
    expect(body.error_description).toBe('redirect URIs must be on allowed.example.com');
    expect((await h.store.getClient(client.client_id))?.redirectUris).toEqual(['https://allowed.example.com/cb']);
  });

  it('AUTHZ-DCR-09: PUT switching the auth method issues or withdraws the secret', async () => {
    const h = createHarness();
    const pub = await h.publicClient();
    const toConfidential = await expectJSON<ClientInformation>(
      await h.configure(pub, pub.registration_access_token, { method: 'PUT', body: JSON.stringify(updateBody(pub, { token_endpoint_auth_method: 'client_secret_basic' })) }),
    );
    expect(toConfidential.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(toConfidential.client_secret_expires_at).toBe(0);
    await expectOAuthError(await h.token({ grant_type: 'refresh_token', refresh_token: 'x' }, { none: pub.client_id }), 'invalid_client', 401);
    const back = await expectJSON<ClientInformation>(
      await h.configure(toConfidential, toConfidential.registration_access_token, { method: 'PUT', body: JSON.stringify(updateBody(toConfidential, { token_endpoint_auth_method: 'none' })) }),
    );
    expect(back).not.toHaveProperty('client_secret');
    expect(back).not.toHaveProperty('client_secret_expires_at');
    await expectOAuthError(await h.revoke('x', authOf(toConfidential)), 'invalid_client', 401);
    expect((await h.store.getClient(pub.client_id))?.clientSecretHash).toBeUndefined();
  });

  it('AUTHZ-DCR-03/09: an expired client secret is replaced on the next read or update, with its new expiry', async () => {
    const h = createHarness({ registration: { clientSecretLifetime: DAY } });
    const client = await h.registered({ grant_types: ['authorization_code'], redirect_uris: ['https://app.example.com/cb'] });
    // Before expiry a read does not touch the secret.
    const early = await expectJSON<ClientInformation>(await h.configure(client, client.registration_access_token));
    expect(early).not.toHaveProperty('client_secret');
    expect(early.client_secret_expires_at).toBe(client.client_secret_expires_at);
    h.advance(DAY);
    await expectOAuthError(await h.revoke('x', authOf(client)), 'invalid_client', 401);
    // RFC 7592 §2.2 lets the server issue a new secret; without it the client could never authenticate again.
    const renewed = await expectJSON<ClientInformation>(await h.configure(early, early.registration_access_token));
    expect(renewed.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(renewed.client_secret).not.toBe(client.client_secret);
    expect(renewed.client_secret_expires_at).toBe(Math.floor(h.now / 1000) + DAY);
    expect((await h.revoke('x', authOf(renewed))).status).toBe(200);
    await expectOAuthError(await h.revoke('x', authOf(client)), 'invalid_client', 401);
  });

  it('AUTHZ-DCR-09: DELETE → 204; afterwards the RAT is dead and the client is gone everywhere', async () => {
    const { h, client } = await registered();
    const tokens = await h.login(client, authOf(client));
    const deleted = await h.configure(client, client.registration_access_token, { method: 'DELETE' });
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');
    await expectOAuthError(await h.configure(client, client.registration_access_token), 'invalid_token', 401);
    await expectOAuthError(await h.configure(client, client.registration_access_token, { method: 'DELETE' }), 'invalid_token', 401);
    await expectOAuthError(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, authOf(client)), 'invalid_client', 401);
    const { response } = await h.authorize(client.client_id, 'https://app.example.com/cb');
    expect(response.status).toBe(400);
    expect(response.headers.get('location')).toBeNull();
    expect(await h.store.getClient(client.client_id)).toBeNull();
  });

  // RFC 7592 §2.3: after a delete the server SHOULD invalidate the client's grants and active tokens. The
  // refresh token dies with the client (above); its access tokens are put on the revocation list.
  it("AUTHZ-DCR-09: DELETE also ends the client's outstanding access tokens (RFC 7592 §2.3 SHOULD)", async () => {
    const { h, client } = await registered();
    const tokens = await h.login(client, authOf(client));
    expect((await h.configure(client, client.registration_access_token, { method: 'DELETE' })).status).toBe(204);
    expect((await h.bearer(tokens.access_token)).ok).toBe(false);
  });

  it('AUTHZ-DCR-09: a wrong RAT cannot delete', async () => {
    const { h, client } = await registered();
    await expectOAuthError(await h.configure(client, 'wrong', { method: 'DELETE' }), 'invalid_token', 401);
    expect(await h.store.getClient(client.client_id)).not.toBeNull();
  });
});

describe('unused registered clients expire (decision)', () => {
  it('a client unused for 30 days is forgotten', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    expect((await h.store.getClient(client.client_id))?.expiresAt).toBe(h.now + 30 * DAY * 1000);
    h.advance(30 * DAY - 1);
    await h.machineToken(authOf(client)); // renews: more than half the lifetime has passed
    h.advance(30 * DAY - 1);
    await h.machineToken(authOf(client));
    h.advance(30 * DAY);
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf(client)), 'invalid_client', 401);
    await expectOAuthError(await h.configure(client, client.registration_access_token), 'invalid_token', 401);
  });

  it('each use renews the expiry once half of it has passed; uses before that write nothing', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    const registeredAt = h.now;
    h.advance(10 * DAY);
    await h.machineToken(authOf(client));
    expect((await h.store.getClient(client.client_id))?.expiresAt, 'not renewed before half the lifetime').toBe(registeredAt + 30 * DAY * 1000);
    h.advance(6 * DAY);
    await h.machineToken(authOf(client));
    expect((await h.store.getClient(client.client_id))?.expiresAt).toBe(h.now + 30 * DAY * 1000);
  });

  it('the refresh-token flow of a public client renews it too; unusedClientLifetime 0 keeps clients forever', async () => {
    const h = createHarness({ ttl: { refreshToken: 120 * DAY } });
    const client = await h.publicClient();
    let tokens = await h.login(client, { none: client.client_id });
    for (let i = 0; i < 4; i++) {
      h.advance(20 * DAY);
      tokens = await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { none: client.client_id }));
    }
    const forever = createHarness({ registration: { initialAccessTokens: [IAT], unusedClientLifetime: 0 } });
    const kept = await forever.machineClient();
    expect((await forever.store.getClient(kept.client_id))?.expiresAt).toBeNull();
    forever.advance(3650 * DAY);
    await forever.machineToken(authOf(kept));
  });

  it('registration access tokens are stored only as hashes, initial access tokens not at all (white-box)', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    const stored = await h.store.getClient(client.client_id);
    expect(stored?.registrationAccessTokenHash).toBe(await sha256(client.registration_access_token));
    expect(JSON.stringify(stored)).not.toContain(IAT);
  });
});
