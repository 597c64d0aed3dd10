/**
 * A8: client authentication, for dynamically registered clients, at every endpoint that authenticates
 * clients (token, revocation, introspection); private_key_jwt with registered `jwks` and with a `jwks_uri`
 * served by a real local HTTPS server.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type KeyInput } from 'jose';
import type { OutboundFetch } from '@keyward/core';
import { sha256 } from '../../src/protocol/crypto.js';
import { safeFetch } from '@keyward/core/node';
import {
  authOf,
  basicHeader,
  clientAssertion,
  createHarness,
  expectJSON,
  expectOAuthError,
  IAT,
  ISSUER,
  PATHS,
  type Auth,
  type ClientInformation,
  type Harness,
} from './harness.js';
import { startDocumentServer, type DocumentServer } from './https-server.js';

const ENDPOINTS = [PATHS.token, PATHS.revoke, PATHS.introspect] as const;

/** A request to `path` that succeeds for a correctly authenticated caller (200), whatever the endpoint. */
function harmless(path: string): Record<string, string> {
  return path === PATHS.token ? { grant_type: 'client_credentials' } : { token: 'not-a-token' };
}

interface KeyPair {
  privateKey: KeyInput;
  publicJwk: JWK;
}

async function keyPair(kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' } };
}

describe('A8 client authentication (registered clients)', () => {
  it('AUTHZ-CAUTH-01: a confidential client without credentials, or with another method than registered → 401 invalid_client', async () => {
    const h = createHarness();
    const basic = await h.machineClient();
    expect(basic.token_endpoint_auth_method).toBe('client_secret_basic');
    const post = await h.machineClient({ token_endpoint_auth_method: 'client_secret_post' });
    for (const path of ENDPOINTS) {
      const params = harmless(path);
      // The registered method works everywhere.
      expect((await h.post(path, params, authOf(basic))).status, path).toBe(200);
      expect((await h.post(path, params, authOf(post))).status, path).toBe(200);
      // No credentials at all, or only the client_id of a confidential client.
      await expectOAuthError(await h.post(path, params, 'omit'), 'invalid_client', 401);
      await expectOAuthError(await h.post(path, params, { none: basic.client_id }), 'invalid_client', 401);
      // The right secret through the wrong method.
      await expectOAuthError(await h.post(path, params, { post: [basic.client_id, basic.client_secret!] }), 'invalid_client', 401);
      await expectOAuthError(await h.post(path, params, { basic: [post.client_id, post.client_secret!] }), 'invalid_client', 401);
      // Unknown client, wrong secret.
      await expectOAuthError(await h.post(path, params, { basic: ['no-such-client', 'whatever'] }), 'invalid_client', 401);
      await expectOAuthError(await h.post(path, params, { basic: [basic.client_id, `${basic.client_secret}x`] }), 'invalid_client', 401);
    }
  });

  it('AUTHZ-CAUTH-01: a public client names itself with client_id; it cannot authenticate with a secret it was never given', async () => {
    const h = createHarness();
    const client = await h.publicClient();
    expect(client.client_secret).toBeUndefined();
    const tokens = await h.login(client, { none: client.client_id });
    await expectJSON(await h.token({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token! }, { none: client.client_id }));
    await expectOAuthError(await h.revoke('x', { basic: [client.client_id, 'guess'] }), 'invalid_client', 401);
    await expectOAuthError(await h.revoke('x', { post: [client.client_id, 'guess'] }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-02: client_secret_post works; credentials in the URI are rejected at every endpoint', async () => {
    const h = createHarness();
    const client = await h.machineClient({ token_endpoint_auth_method: 'client_secret_post' });
    for (const path of ENDPOINTS) {
      const query = new URLSearchParams({ client_id: client.client_id, client_secret: client.client_secret! });
      const response = await h.server.request(`${path}?${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(harmless(path)),
      });
      await expectOAuthError(response, 'invalid_request');
      // The same credentials in the body are fine.
      expect((await h.post(path, harmless(path), authOf(client))).status, path).toBe(200);
    }
  });

  it('AUTHZ-CAUTH-03: Basic credentials are form-urldecoded at revocation and introspection too (client a:b%)', async () => {
    const clientId = 'a:b%';
    const secret = 'p@ss word:%+é-long-enough';
    const h = createHarness({ clients: [{ clientId, clientSecret: secret, grantTypes: ['client_credentials'] }] });
    // basicHeader form-encodes first: "a%3Ab%25:p%40ss+word%3A%25%2B%C3%A9".
    for (const path of ENDPOINTS) {
      expect((await h.post(path, harmless(path), { basic: [clientId, secret] })).status, path).toBe(200);
      const raw = `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`;
      await expectOAuthError(await h.post(path, harmless(path), { header: raw }), 'invalid_client', 401);
    }
    // A registered client's secret (base64url) round-trips through the same encoding.
    const registered = await h.machineClient();
    expect(basicHeader(registered.client_id, registered.client_secret!)).toBe(
      `Basic ${Buffer.from(`${registered.client_id}:${registered.client_secret}`).toString('base64')}`,
    );
    await h.machineToken(authOf(registered));
  });

  it('AUTHZ-CAUTH-04: two authentication methods in one request → 400 invalid_request', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    const { privateKey, publicJwk } = await keyPair('k1');
    const jwtClient = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [publicJwk] } });
    for (const path of ENDPOINTS) {
      const basic = { authorization: basicHeader(client.client_id, client.client_secret!) };
      await expectOAuthError(await h.post(path, { ...harmless(path), client_secret: client.client_secret! }, 'omit', basic), 'invalid_request');
      const assertion = await clientAssertion(privateKey, jwtClient.client_id, h.now);
      await expectOAuthError(
        await h.post(path, { ...harmless(path), client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: assertion }, 'omit', basic),
        'invalid_request',
      );
      await expectOAuthError(
        await h.post(path, { ...harmless(path), client_secret: 'x' }, { assertion: await clientAssertion(privateKey, jwtClient.client_id, h.now) }),
        'invalid_request',
      );
    }
  });

  it('AUTHZ-CAUTH-05: a failed Basic attempt → 401, WWW-Authenticate: Basic, invalid_client, at every endpoint', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    const attempts: Auth[] = [
      { basic: [client.client_id, 'wrong'] },
      { basic: ['unknown-client', 'wrong'] },
      { header: 'Basic !!!not-base64' },
      { header: `Basic ${Buffer.from('no-colon').toString('base64')}` },
      { header: `Basic ${Buffer.from('%zz:secret').toString('base64')}` },
    ];
    for (const path of ENDPOINTS) {
      for (const auth of attempts) {
        const response = await h.post(path, harmless(path), auth);
        await expectOAuthError(response, 'invalid_client', 401);
        expect(response.headers.get('www-authenticate'), `${path} ${JSON.stringify(auth)}`).toMatch(/^Basic realm="/);
      }
    }
  });

  it('AUTHZ-CAUTH-06: registered secrets are high-entropy, kept only as hashes, and compared in constant time', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    // 256 bits of base64url: guessing is hopeless, whatever the request rate.
    expect(client.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stored = await h.store.getClient(client.client_id);
    expect(stored?.clientSecretHash).toBe(await sha256(client.client_secret!));
    expect(JSON.stringify(stored)).not.toContain(client.client_secret!);
    expect(JSON.stringify(stored)).not.toContain(client.registration_access_token);
  });

  it('AUTHZ-CAUTH-06: 50 bad secrets from one source → 429 with Retry-After, the right secret included; other sources unaffected', async () => {
    const h = createHarness();
    const client = await h.machineClient();
    const attacker = '198.51.100.66';
    const statuses: number[] = [];
    for (let i = 0; i < 50; i++) {
      statuses.push((await h.post(PATHS.token, { grant_type: 'client_credentials' }, { basic: [client.client_id, `guess-${i}`] }, {}, attacker)).status);
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(401));
    expect(statuses.slice(20)).toEqual(Array(30).fill(429));
    // Once over the limit, even the right secret is refused from that source, so guessing stops…
    const blocked = await h.post(PATHS.token, { grant_type: 'client_credentials' }, authOf(client), {}, attacker);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0);
    // …while the real client, elsewhere, is not locked out.
    const elsewhere = await h.post(PATHS.token, { grant_type: 'client_credentials' }, authOf(client), {}, '192.0.2.44');
    expect(elsewhere.status).toBe(200);
    // The window closes and the source may try again.
    h.advance(600);
    expect((await h.post(PATHS.token, { grant_type: 'client_credentials' }, authOf(client), {}, attacker)).status).toBe(200);
  });

  it('AUTHZ-CAUTH-06: a secret issued with clientSecretLifetime stops working when it expires', async () => {
    const h = createHarness({ registration: { initialAccessTokens: [IAT], clientSecretLifetime: 3600 } });
    const client = await h.machineClient();
    expect(client.client_secret_expires_at).toBe(Math.floor(h.now / 1000) + 3600);
    await h.machineToken(authOf(client));
    h.advance(3600);
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, authOf(client)), 'invalid_client', 401);
  });
});

describe('A8 private_key_jwt (AUTHZ-CAUTH-07)', () => {
  let h: Harness;
  let keys: KeyPair;
  let client: ClientInformation;
  const token = (auth: Auth) => h.token({ grant_type: 'client_credentials' }, auth);

  beforeAll(async () => {
    h = createHarness();
    keys = await keyPair('client-key-1');
    client = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [keys.publicJwk] } });
  });

  it('AUTHZ-CAUTH-07: a client registered with jwks gets no secret and authenticates with a signed assertion', async () => {
    expect(client.token_endpoint_auth_method).toBe('private_key_jwt');
    expect(client.client_secret).toBeUndefined();
    expect(client.client_secret_expires_at).toBeUndefined();
    const body = await expectJSON<{ access_token: string }>(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) }));
    expect(body.access_token).toBeTruthy();
    // client_id may accompany the assertion when it matches.
    await expectJSON(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now), clientId: client.client_id }));
  });

  it('AUTHZ-CAUTH-07: aud must be the issuer alone (rfc7523bis): the token endpoint URL, or the issuer among others → 401', async () => {
    await expectJSON(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { aud: ISSUER }) }));
    await expectJSON(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { aud: [ISSUER] }) }));
    const refused = [
      `${ISSUER}${PATHS.token}`, // audience injection: a malicious AS can name this token endpoint as its own
      [ISSUER, `${ISSUER}${PATHS.token}`],
      [ISSUER, 'https://other.example'],
      'https://other.example',
      `${ISSUER}/`,
      `${ISSUER}${PATHS.introspect}`,
      ['https://other.example'],
      [],
      undefined,
    ];
    for (const aud of refused) {
      const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now, { aud });
      await expectOAuthError(await token({ assertion }), 'invalid_client', 401);
    }
  });

  it('AUTHZ-CAUTH-07: a replayed assertion (same jti) → 401, at the same endpoint or another', async () => {
    const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now);
    await expectJSON(await token({ assertion }));
    await expectOAuthError(await token({ assertion }), 'invalid_client', 401);
    await expectOAuthError(await h.revoke('x', { assertion }), 'invalid_client', 401);
    await expectOAuthError(await h.introspect('x', { assertion }), 'invalid_client', 401);
    // Same jti, freshly signed: still a replay.
    const jti = 'fixed-jti-1';
    await expectJSON(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { jti }) }));
    await expectOAuthError(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { jti }) }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-07: expired (on the injected clock), or without exp or jti → 401', async () => {
    const late = await clientAssertion(keys.privateKey, client.client_id, h.now, { exp: Math.floor(h.now / 1000) + 60 });
    h.advance(66); // past exp and the 5 s tolerance
    await expectOAuthError(await token({ assertion: late }), 'invalid_client', 401);
    const old = await clientAssertion(keys.privateKey, client.client_id, h.now, { exp: Math.floor(h.now / 1000) - 10, iat: Math.floor(h.now / 1000) - 70 });
    await expectOAuthError(await token({ assertion: old }), 'invalid_client', 401);
    await expectOAuthError(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { exp: undefined }) }), 'invalid_client', 401);
    await expectOAuthError(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { jti: undefined }) }), 'invalid_client', 401);
    // Not yet valid.
    const future = await clientAssertion(keys.privateKey, client.client_id, h.now, { nbf: Math.floor(h.now / 1000) + 120, exp: Math.floor(h.now / 1000) + 180 });
    await expectOAuthError(await token({ assertion: future }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-07: iss or sub other than the client_id, or a client_id parameter that disagrees → 401', async () => {
    const other = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [keys.publicJwk] } });
    const cases: Record<string, unknown>[] = [{ iss: other.client_id }, { iss: 'https://attacker.example' }, { sub: other.client_id }, { iss: undefined }, { sub: undefined }];
    for (const claims of cases) {
      const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now, claims);
      await expectOAuthError(await token({ assertion }), 'invalid_client', 401);
    }
    const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now);
    await expectOAuthError(await token({ assertion, clientId: other.client_id }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-07: alg HS256 and alg none are refused, and so is a key the client did not register', async () => {
    const seconds = Math.floor(h.now / 1000);
    const claims = { iss: client.client_id, sub: client.client_id, aud: ISSUER, exp: seconds + 60, iat: seconds };
    // HMAC with a guessable "secret" (the public key's x coordinate, the classic confusion attack) and with a random one.
    for (const secret of [new TextEncoder().encode(String(keys.publicJwk.x)), new TextEncoder().encode('s'.repeat(32))]) {
      const hs256 = await new SignJWT({ ...claims, jti: crypto.randomUUID() }).setProtectedHeader({ alg: 'HS256', kid: 'client-key-1' }).sign(secret);
      await expectOAuthError(await token({ assertion: hs256 }), 'invalid_client', 401);
    }
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const header of [{ alg: 'none' }, { alg: 'None' }, { alg: 'none', kid: 'client-key-1' }]) {
      const unsecured = `${encode(header)}.${encode({ ...claims, jti: crypto.randomUUID() })}.`;
      await expectOAuthError(await token({ assertion: unsecured }), 'invalid_client', 401);
    }
    const stranger = await keyPair('client-key-1'); // same kid, different key
    await expectOAuthError(await token({ assertion: await clientAssertion(stranger.privateKey, client.client_id, h.now, {}, { kid: 'client-key-1' }) }), 'invalid_client', 401);
    await expectOAuthError(await token({ assertion: 'not.a.jwt' }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-07: the assertion type must be jwt-bearer; the method must be the registered one', async () => {
    const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now);
    const response = await h.token({ grant_type: 'client_credentials', client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer', client_assertion: assertion }, 'omit');
    await expectOAuthError(response, 'invalid_request');
    // A secret client cannot switch to assertions (even signed by a key that another client registered) …
    const secretClient = await h.machineClient();
    await expectOAuthError(await token({ assertion: await clientAssertion(keys.privateKey, secretClient.client_id, h.now) }), 'invalid_client', 401);
    // … and a private_key_jwt client has no secret to fall back to.
    await expectOAuthError(await token({ basic: [client.client_id, ''] }), 'invalid_client', 401);
    await expectOAuthError(await token({ none: client.client_id }), 'invalid_client', 401);
  });

  it('AUTHZ-CAUTH-07: assertions authenticate at revocation and introspection as well', async () => {
    const issued = await expectJSON<{ access_token: string }>(await token({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) }));
    const claims = await expectJSON(await h.introspect(issued.access_token, { assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) }));
    expect(claims).toMatchObject({ active: true, client_id: client.client_id });
    expect((await h.revoke(issued.access_token, { assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) })).status).toBe(200);
    const after = await expectJSON(await h.introspect(issued.access_token, { assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) }));
    expect(after).toEqual({ active: false });
  });

  it('AUTHZ-CAUTH-07: registration refuses private keys, symmetric keys, both jwks and jwks_uri, or no keys at all', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const bad: Record<string, unknown>[] = [
      { jwks: { keys: [privateJwk] } },
      { jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } },
      { jwks: { keys: [keys.publicJwk] }, jwks_uri: 'https://client.example/jwks.json' },
      {},
      { jwks: 'not-an-object' },
    ];
    for (const extra of bad) {
      const response = await h.register({ grant_types: ['client_credentials'], token_endpoint_auth_method: 'private_key_jwt', ...extra }, { iat: IAT });
      await expectOAuthError(response, 'invalid_client_metadata');
    }
  });
});

describe('A8 private_key_jwt with a jwks_uri on a local HTTPS server (AUTHZ-CAUTH-07)', () => {
  let docs: DocumentServer;
  beforeAll(async () => {
    docs = await startDocumentServer();
  });
  afterAll(() => docs.close());

  function allowed(): Harness {
    return createHarness({ clientIdMetadataDocuments: { allowPrivateHosts: [docs.host], ca: docs.ca } });
  }

  it('AUTHZ-CAUTH-07: keys are fetched from the jwks_uri through the SSRF-safe fetcher, and only then trusted', async () => {
    const h = allowed();
    const keys = await keyPair('remote-1');
    docs.route('/keys/a.json', { body: { keys: [keys.publicJwk] } });
    const client = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/a.json') });
    await h.machineToken({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) });
    expect(docs.hits('/keys/a.json')).toBe(1);
    // The same checks apply to remote keys: replay, audience, a key the set does not hold.
    const assertion = await clientAssertion(keys.privateKey, client.client_id, h.now);
    await h.machineToken({ assertion });
    await expectOAuthError(await h.token({ grant_type: 'client_credentials' }, { assertion }), 'invalid_client', 401);
    await expectOAuthError(
      await h.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(keys.privateKey, client.client_id, h.now, { aud: 'https://other.example' }) }),
      'invalid_client',
      401,
    );
    const stranger = await keyPair('remote-1');
    await expectOAuthError(
      await h.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(stranger.privateKey, client.client_id, h.now, {}, { kid: 'remote-1' }) }),
      'invalid_client',
      401,
    );
  });

  it('AUTHZ-CAUTH-07: a jwks_uri that the server may not reach (special-use address, untrusted certificate) authenticates nobody', async () => {
    const keys = await keyPair('remote-2');
    docs.route('/keys/b.json', { body: { keys: [keys.publicJwk] } });
    // No allowPrivateHosts: 127.0.0.1 is a special-use address.
    const strict = createHarness({ clientIdMetadataDocuments: { ca: docs.ca } });
    const a = await strict.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/b.json') });
    await expectOAuthError(await strict.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(keys.privateKey, a.client_id, strict.now) }), 'invalid_client', 401);
    // Allowed host but no `ca`: the certificate does not verify.
    const untrusted = createHarness({ clientIdMetadataDocuments: { allowPrivateHosts: [docs.host] } });
    const b = await untrusted.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/b.json') });
    await expectOAuthError(await untrusted.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(keys.privateKey, b.client_id, untrusted.now) }), 'invalid_client', 401);
    expect(docs.hits('/keys/b.json')).toBe(0);
  });

  it("AUTHZ-CAUTH-07: one server's fetched key set does not let another server skip its own SSRF rules", async () => {
    const keys = await keyPair('remote-3');
    docs.route('/keys/c.json', { body: { keys: [keys.publicJwk] } });
    const permissive = allowed();
    const a = await permissive.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/c.json') });
    await permissive.machineToken({ assertion: await clientAssertion(keys.privateKey, a.client_id, permissive.now) });
    // A second server in the same process, configured without allowPrivateHosts, sees the same jwks_uri.
    const strict = createHarness({ clientIdMetadataDocuments: { ca: docs.ca } });
    const b = await strict.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/c.json') });
    await expectOAuthError(await strict.token({ grant_type: 'client_credentials' }, { assertion: await clientAssertion(keys.privateKey, b.client_id, strict.now) }), 'invalid_client', 401);
  });

  it('OUTBOUND-FETCH-01: the server-level fetch option serves every outbound request: metadata documents and jwks_uri', async () => {
    const seen: string[] = [];
    // An application's fetcher (an egress proxy, say): here it records and goes to the network through safeFetch.
    const fetch: OutboundFetch = (url) => {
      seen.push(url);
      return safeFetch(url, { allowPrivateHosts: [docs.host], ca: docs.ca });
    };
    const h = createHarness({ fetch });
    const keys = await keyPair('outbound-1');
    const url = docs.url('/clients/outbound-client.json');
    docs.route('/keys/outbound.json', { body: { keys: [keys.publicJwk] } });
    docs.route('/clients/outbound-client.json', {
      body: { client_id: url, redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/outbound.json') },
    });
    const { code, verifier } = await h.code(url, 'http://127.0.0.1/cb');
    await expectJSON(await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, { assertion: await clientAssertion(keys.privateKey, url, h.now) }));
    expect(seen).toEqual([url, docs.url('/keys/outbound.json')]);
    // Without allowPrivateHosts of its own, the server would refuse 127.0.0.1: the supplied fetch decided.
  });

  it('OUTBOUND-FETCH-02: with metadata documents turned off, a registered jwks_uri still goes through the server fetch', async () => {
    const seen: string[] = [];
    const h = createHarness({
      clientIdMetadataDocuments: false,
      fetch: (url) => {
        seen.push(url);
        return safeFetch(url, { allowPrivateHosts: [docs.host], ca: docs.ca });
      },
    });
    const keys = await keyPair('outbound-2');
    docs.route('/keys/outbound-2.json', { body: { keys: [keys.publicJwk] } });
    const client = await h.machineClient({ token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/outbound-2.json') });
    await h.machineToken({ assertion: await clientAssertion(keys.privateKey, client.client_id, h.now) });
    expect(seen).toEqual([docs.url('/keys/outbound-2.json')]);
  });

  it('AUTHZ-CAUTH-07: a document client (CIMD) may use private_key_jwt with its jwks_uri', async () => {
    const h = allowed();
    const keys = await keyPair('cimd-1');
    const url = docs.url('/clients/jwt-client.json');
    docs.route('/keys/cimd.json', { body: { keys: [keys.publicJwk] } });
    docs.route('/clients/jwt-client.json', {
      body: { client_id: url, redirect_uris: ['http://127.0.0.1/cb'], token_endpoint_auth_method: 'private_key_jwt', jwks_uri: docs.url('/keys/cimd.json') },
    });
    const { code, verifier } = await h.code(url, 'http://127.0.0.1/cb');
    const params = { grant_type: 'authorization_code', code, code_verifier: verifier };
    // Without the assertion the document client is refused: its metadata says private_key_jwt.
    await expectOAuthError(await h.token(params, { none: url }), 'invalid_client', 401);
    await expectJSON(await h.token(params, { assertion: await clientAssertion(keys.privateKey, url, h.now) }));
  });
});
