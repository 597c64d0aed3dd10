// Issue 3 against the example as a real process on 127.0.0.1: oauth4webapi drives registration,
// client_credentials, revocation and introspection; the MCP SDK's auth() (v1, and v2 for the document)
// completes with dynamic registration and with a client ID metadata document served by a local HTTPS server
// (its own throwaway CA, trusted only through OAUTH_CIMD_CA_FILE; TLS verification stays on).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as oauth from 'oauth4webapi';
import { auth, type OAuthClientProvider, type OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import * as v2 from '@modelcontextprotocol/client';
import { startDocumentServer, type DocumentServer } from '../../../packages/core/test/clients/https-server.js';
import { CONFIDENTIAL, eventually, INITIALIZE, insecure, PUBLIC_CLIENT_ID, postMcp, startExample, toolJSON, type RunningExample } from './support.js';

const DOCUMENT_PATH = '/clients/keyward-test.json';
const CIMD_REDIRECT = 'http://127.0.0.1:49160/callback';

let example: RunningExample;
let documents: DocumentServer;
let caDir: string;
let as: oauth.AuthorizationServer;
let mcpURL: string;

beforeAll(async () => {
  documents = await startDocumentServer();
  documents.route(DOCUMENT_PATH, {
    body: {
      client_id: documents.url(DOCUMENT_PATH),
      client_name: 'Keyward CIMD test client',
      redirect_uris: [CIMD_REDIRECT],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
    headers: { 'cache-control': 'max-age=60' },
  });
  caDir = mkdtempSync(join(tmpdir(), 'keyward-example-ca-'));
  const caFile = join(caDir, 'ca.pem');
  writeFileSync(caFile, documents.ca);
  example = await startExample({
    OAUTH_DEV_LOGIN: 'demo',
    OAUTH_CLIENT_ID: CONFIDENTIAL.id,
    OAUTH_CLIENT_SECRET: CONFIDENTIAL.secret,
    OAUTH_CIMD_ALLOW_PRIVATE_HOSTS: documents.host,
    OAUTH_CIMD_CA_FILE: caFile,
  });
  mcpURL = `${example.base}/mcp`;
  const issuer = new URL(example.base);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
});

afterAll(async () => {
  await example?.stop();
  await documents?.close();
  if (caDir) rmSync(caDir, { recursive: true, force: true });
});

const confidential: oauth.Client = { client_id: CONFIDENTIAL.id };
const confidentialAuth = oauth.ClientSecretBasic(CONFIDENTIAL.secret);

/** oauth4webapi client authentication that sends `Authorization: Bearer <token>` instead of a client's credentials. */
function bearer(token: string): oauth.ClientAuth {
  return (_as, _client, _body, headers) => void headers.set('authorization', `Bearer ${token}`);
}

/**
 * Authorization code + PKCE through oauth4webapi: the dev login approves at once, so the authorization
 * endpoint redirects straight back, and validateAuthResponse checks state and iss (RFC 9207).
 */
async function codeFlow(client: oauth.Client, clientAuth: oauth.ClientAuth, scope: string, redirectUri = 'http://127.0.0.1:53690/callback') {
  const codeVerifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  const url = new URL(as.authorization_endpoint!);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id,
    redirect_uri: redirectUri,
    scope,
    state,
    code_challenge: await oauth.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
  }).toString();
  const authorization = await fetch(url, { redirect: 'manual' });
  expect(authorization.status).toBe(302);
  const params = oauth.validateAuthResponse(as, client, new URL(authorization.headers.get('location')!), state);
  const response = await oauth.authorizationCodeGrantRequest(as, client, clientAuth, params, redirectUri, codeVerifier, insecure);
  return oauth.processAuthorizationCodeResponse(as, client, response);
}

async function serviceToken(scope: string): Promise<string> {
  const response = await oauth.clientCredentialsGrantRequest(as, confidential, confidentialAuth, { scope }, insecure);
  return (await oauth.processClientCredentialsResponse(as, confidential, response)).access_token;
}

async function registerPublicClient(name: string, extra: Record<string, unknown> = {}) {
  const response = await oauth.dynamicClientRegistrationRequest(
    as,
    { client_name: name, redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra },
    insecure,
  );
  return oauth.processDynamicClientRegistrationResponse(response);
}

function introspect(caller: oauth.Client, callerAuth: oauth.ClientAuth, token: string) {
  return oauth.introspectionRequest(as, caller, callerAuth, token, insecure).then((response) => oauth.processIntrospectionResponse(as, caller, response));
}

/** The status of an MCP initialize POST with `token`, and the error of its challenge, if any. */
async function mcpStatus(token: string): Promise<{ status: number; error?: string }> {
  const response = await postMcp(example.base, token, INITIALIZE);
  await response.body?.cancel();
  const error = /error="([^"]+)"/.exec(response.headers.get('www-authenticate') ?? '')?.[1];
  return { status: response.status, ...(error && { error }) };
}

describe('oauth4webapi: dynamic client registration (RFC 7591)', () => {
  it('AUTHZ-DCR-03: registers a public PKCE client (201) and runs the code flow with it', async () => {
    const before = Math.floor(Date.now() / 1000) - 1;
    const registered = await registerPublicClient('oauth4webapi public');
    expect(registered).toMatchObject({
      client_name: 'oauth4webapi public',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: ['http://127.0.0.1/callback'],
      registration_client_uri: `${example.base}/oauth/register/${encodeURIComponent(registered.client_id)}`,
    });
    expect(registered.client_secret).toBeUndefined();
    expect(registered.client_secret_expires_at).toBeUndefined();
    expect(registered.client_id_issued_at).toBeGreaterThanOrEqual(before);
    expect(registered.registration_access_token).toBeTypeOf('string');

    const client: oauth.Client = { client_id: registered.client_id, token_endpoint_auth_method: 'none' };
    const tokens = await codeFlow(client, oauth.None(), 'mcp:tools offline_access');
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'mcp:tools offline_access' });
    expect(tokens.refresh_token).toBeTypeOf('string');
    expect((await mcpStatus(tokens.access_token)).status).toBe(200);
  });

  it('AUTHZ-DCR-01: registers a confidential client_secret_basic client with a secret, its expiry and a registration access token', async () => {
    const response = await oauth.dynamicClientRegistrationRequest(
      as,
      { client_name: 'oauth4webapi confidential', redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'client_secret_basic' },
      insecure,
    );
    expect(response.status).toBe(201);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const registered = await oauth.processDynamicClientRegistrationResponse(response);
    expect(registered).toMatchObject({ token_endpoint_auth_method: 'client_secret_basic', grant_types: ['authorization_code'], response_types: ['code'] });
    expect(registered.client_secret).toBeTypeOf('string');
    expect(registered.client_secret_expires_at).toBeTypeOf('number'); // 0 (never) or a time: RFC 7591 requires it with a secret
    expect(registered.client_id_issued_at).toBeTypeOf('number');
    expect(registered.registration_access_token).toBeTypeOf('string');
    expect(registered.registration_client_uri).toMatch(new RegExp(`^${example.base}/oauth/register/`));

    // RFC 7592 read with the registration access token.
    const read = await fetch(String(registered.registration_client_uri), { headers: { authorization: `Bearer ${registered.registration_access_token}` } });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ client_id: registered.client_id, client_name: 'oauth4webapi confidential' });

    const client: oauth.Client = { client_id: registered.client_id };
    const tokens = await codeFlow(client, oauth.ClientSecretBasic(String(registered.client_secret)), 'mcp:tools');
    expect(tokens.scope).toBe('mcp:tools');
    expect(tokens.refresh_token).toBeUndefined(); // no refresh_token grant was registered
    // An anonymous registration cannot use client_credentials.
    const machine = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(String(registered.client_secret)), { scope: 'mcp:tools' }, insecure);
    await expect(oauth.processClientCredentialsResponse(as, client, machine)).rejects.toMatchObject({ error: 'unauthorized_client' });
  });

  it('a self-registered client cannot get mcp:admin: refused at registration, invalid_scope at the authorization endpoint', async () => {
    const asked = oauth.dynamicClientRegistrationRequest(as, { redirect_uris: ['http://127.0.0.1/callback'], token_endpoint_auth_method: 'none', scope: 'mcp:tools mcp:admin' }, insecure);
    await expect(asked.then((response) => oauth.processDynamicClientRegistrationResponse(response))).rejects.toMatchObject({ error: 'invalid_client_metadata' });

    // Registered without naming a scope: it may have every scope but mcp:admin.
    const registered = await registerPublicClient('wants admin');
    const client: oauth.Client = { client_id: registered.client_id };
    const state = oauth.generateRandomState();
    const url = new URL(as.authorization_endpoint!);
    url.search = new URLSearchParams({
      response_type: 'code',
      client_id: client.client_id,
      redirect_uri: 'http://127.0.0.1:53691/callback',
      scope: 'mcp:tools mcp:admin',
      state,
      code_challenge: await oauth.calculatePKCECodeChallenge(oauth.generateRandomCodeVerifier()),
      code_challenge_method: 'S256',
    }).toString();
    const authorization = await fetch(url, { redirect: 'manual' });
    expect(authorization.status).toBe(302);
    const callback = new URL(authorization.headers.get('location')!);
    expect(callback.searchParams.get('code')).toBeNull();
    expect(() => oauth.validateAuthResponse(as, client, callback, state)).toThrow(expect.objectContaining({ error: 'invalid_scope' }));
  });
});

describe('oauth4webapi: client_credentials, revocation (RFC 7009), introspection (RFC 7662)', () => {
  it('AUTHZ-JWT-04: the configured confidential client gets an mcp:admin token with client_credentials', async () => {
    const response = await oauth.clientCredentialsGrantRequest(as, confidential, confidentialAuth, { scope: 'mcp:admin' }, insecure);
    const tokens = await oauth.processClientCredentialsResponse(as, confidential, response);
    expect(tokens).toMatchObject({ token_type: 'bearer', scope: 'mcp:admin' });
    expect(tokens.refresh_token).toBeUndefined();
  });

  it('AUTHZ-REV-03: revoking the refresh token ends the grant: refresh fails and /mcp refuses its access token', async () => {
    const client: oauth.Client = { client_id: PUBLIC_CLIENT_ID, token_endpoint_auth_method: 'none' };
    const tokens = await codeFlow(client, oauth.None(), 'mcp:tools offline_access');
    expect((await mcpStatus(tokens.access_token)).status).toBe(200);

    const revocation = await oauth.revocationRequest(as, client, oauth.None(), tokens.refresh_token!, { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } });
    expect(await oauth.processRevocationResponse(revocation)).toBeUndefined();

    const refresh = await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, insecure);
    await expect(oauth.processRefreshTokenResponse(as, client, refresh)).rejects.toMatchObject({ error: 'invalid_grant' });
    await eventually(async () => (await mcpStatus(tokens.access_token)).status === 401, 5_000, 'the grant’s access token refused');
    expect(await mcpStatus(tokens.access_token)).toEqual({ status: 401, error: 'invalid_token' });
  });

  it('AUTHZ-REV-02: revoking an access token makes /mcp answer 401 invalid_token at once', async () => {
    const token = await serviceToken('mcp:tools');
    expect((await mcpStatus(token)).status).toBe(200);
    expect(await oauth.processRevocationResponse(await oauth.revocationRequest(as, confidential, confidentialAuth, token, insecure))).toBeUndefined();
    // The example's guard shares its server's revocation list: no polling interval to wait for.
    await eventually(async () => (await mcpStatus(token)).status === 401, 5_000, 'the revoked access token refused');
    expect(await mcpStatus(token)).toEqual({ status: 401, error: 'invalid_token' });
    expect(await introspect(confidential, confidentialAuth, token)).toEqual({ active: false });
  });

  it('a client cannot revoke another client’s token: 200, and the token stays active', async () => {
    const token = await serviceToken('mcp:tools');
    const other: oauth.Client = { client_id: PUBLIC_CLIENT_ID };
    expect(await oauth.processRevocationResponse(await oauth.revocationRequest(as, other, oauth.None(), token, insecure))).toBeUndefined();
    expect((await mcpStatus(token)).status).toBe(200);
  });

  it('AUTHZ-INTR-02, SEC-INTRO-05: the confidential client introspects its own tokens and, as the server’s administrative client, any other; a self-registered client only its own', async () => {
    const own = await serviceToken('mcp:tools');
    expect(await introspect(confidential, confidentialAuth, own)).toMatchObject({
      active: true,
      client_id: CONFIDENTIAL.id,
      sub: CONFIDENTIAL.id,
      scope: 'mcp:tools',
      aud: mcpURL,
      iss: example.base,
      token_type: 'Bearer',
    });
    const user = await codeFlow({ client_id: PUBLIC_CLIENT_ID }, oauth.None(), 'mcp:tools offline_access');
    expect(await introspect(confidential, confidentialAuth, user.access_token)).toMatchObject({ active: true, client_id: PUBLIC_CLIENT_ID, sub: 'demo', aud: mcpURL });
    expect(await introspect(confidential, confidentialAuth, user.refresh_token!)).toMatchObject({ active: true, client_id: PUBLIC_CLIENT_ID, token_type: 'refresh_token' });
    expect(await introspect(confidential, confidentialAuth, 'not-a-token')).toEqual({ active: false });
    const registered = await oauth.processDynamicClientRegistrationResponse(
      await oauth.dynamicClientRegistrationRequest(as, { redirect_uris: ['https://other.example.com/cb'] }, insecure),
    );
    const other: oauth.Client = { client_id: registered.client_id };
    const otherAuth = oauth.ClientSecretBasic(registered.client_secret as string);
    expect(await introspect(other, otherAuth, user.access_token)).toEqual({ active: false });
    expect(await introspect(other, otherAuth, user.refresh_token!)).toEqual({ active: false });
  });

  it('AUTHZ-INTR-03: `Authorization: Bearer <mcp:admin token>` introspects any token; without mcp:admin it is refused', async () => {
    const admin = await serviceToken('mcp:admin');
    // The caller is the bearer token, not a client: the client_id here is only oauth4webapi's bookkeeping.
    const caller: oauth.Client = { client_id: 'admin-bearer' };
    const user = await codeFlow({ client_id: PUBLIC_CLIENT_ID }, oauth.None(), 'mcp:tools offline_access');
    expect(await introspect(caller, bearer(admin), user.access_token)).toMatchObject({ active: true, client_id: PUBLIC_CLIENT_ID, sub: 'demo', scope: 'mcp:tools offline_access', aud: mcpURL });
    expect(await introspect(caller, bearer(admin), user.refresh_token!)).toMatchObject({ active: true, client_id: PUBLIC_CLIENT_ID, sub: 'demo', token_type: 'refresh_token' });
    const registered = await registerPublicClient('introspected');
    const theirs = await codeFlow({ client_id: registered.client_id }, oauth.None(), 'mcp:tools');
    expect(await introspect(caller, bearer(admin), theirs.access_token)).toMatchObject({ active: true, client_id: registered.client_id });

    const weak = await serviceToken('mcp:tools');
    const refused = await oauth.introspectionRequest(as, caller, bearer(weak), user.access_token, insecure);
    expect(refused.status).toBe(403);
    expect(refused.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    const revoked = await serviceToken('mcp:admin');
    await oauth.processRevocationResponse(await oauth.revocationRequest(as, confidential, confidentialAuth, revoked, insecure));
    expect((await oauth.introspectionRequest(as, caller, bearer(revoked), user.access_token, insecure)).status).toBe(401);
  });
});

/**
 * An OAuthClientProvider with no browser: `redirectToAuthorization` fetches the authorization URL itself
 * (the dev login approves at once) and keeps the callback. Without `clientMetadataUrl` it has no client until
 * the SDK registers one and hands it to `saveClientInformation`.
 */
class HeadlessProvider implements OAuthClientProvider {
  callback?: URL;
  saved: OAuthClientInformationMixed[] = [];
  #client?: OAuthClientInformationMixed;
  #tokens?: OAuthTokens;
  #codeVerifier?: string;
  #discovery?: OAuthDiscoveryState;

  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}

  get clientMetadata(): OAuthClientMetadata {
    return {
      redirect_uris: [this.redirectUrl],
      client_name: 'Keyward example SDK test',
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    };
  }
  clientInformation(): OAuthClientInformationMixed | undefined {
    return this.#client;
  }
  saveClientInformation(information: OAuthClientInformationMixed): void {
    this.saved.push(information);
    this.#client = information;
  }
  tokens(): OAuthTokens | undefined {
    return this.#tokens;
  }
  saveTokens(tokens: OAuthTokens): void {
    this.#tokens = tokens;
  }
  async redirectToAuthorization(url: URL): Promise<void> {
    const response = await fetch(url, { redirect: 'manual' });
    if (response.status !== 302) throw new Error(`authorization answered ${response.status}: ${await response.text()}`);
    this.callback = new URL(response.headers.get('location')!);
  }
  saveCodeVerifier(codeVerifier: string): void {
    this.#codeVerifier = codeVerifier;
  }
  codeVerifier(): string {
    if (!this.#codeVerifier) throw new Error('no code verifier saved');
    return this.#codeVerifier;
  }
  // Kept beside the code verifier, so the callback leg is checked against the authorization server it started at.
  saveDiscoveryState(state: OAuthDiscoveryState): void {
    this.#discovery = state;
  }
  discoveryState(): OAuthDiscoveryState | undefined {
    return this.#discovery;
  }
}

/** whoami through a real MCP client session whose transport takes the token from `provider`. */
async function whoamiWith(provider: OAuthClientProvider): Promise<Record<string, unknown>> {
  const client = new Client({ name: 'keyward-example-test', version: '0.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
  try {
    return toolJSON(await client.callTool({ name: 'whoami', arguments: {} }));
  } finally {
    await client.close();
  }
}

describe('MCP SDK v1 auth() with dynamic client registration', () => {
  it('AUTHZ-DCR-03: registers itself, authorizes, and whoami names the registered client', async () => {
    const provider = new HeadlessProvider('http://127.0.0.1:49158/callback');
    // No scope given, as when a host authorizes before any 401: the SDK registers with, and asks for, the
    // resource metadata's scopes_supported, all of which a self-registered client may have.
    expect(await auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    const registered = provider.clientInformation();
    expect(registered?.client_id).toBeTypeOf('string');
    expect(registered?.client_id).not.toBe(PUBLIC_CLIENT_ID);
    expect(provider.callback?.searchParams.get('iss')).toBe(example.base);

    const authorizationCode = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: mcpURL, authorizationCode })).toBe('AUTHORIZED');
    expect(provider.tokens()).toMatchObject({ scope: 'mcp:tools mcp:resources', refresh_token: expect.any(String) });

    expect(await whoamiWith(provider)).toMatchObject({ sub: 'demo', client_id: registered!.client_id, scopes: ['mcp:tools', 'mcp:resources'] });
  });
});

describe('MCP SDK v1 auth() with a client ID metadata document', () => {
  it('AUTHZ-CIMD-01: uses the document URL as client_id without registering, and whoami names the URL', async () => {
    const clientId = documents.url(DOCUMENT_PATH);
    expect(as.client_id_metadata_document_supported).toBe(true);

    const provider = new HeadlessProvider(CIMD_REDIRECT, clientId);
    expect(await auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    expect(provider.saved.map((information) => information.client_id)).toEqual([clientId]);
    expect(provider.callback?.searchParams.get('iss')).toBe(example.base);
    expect(documents.hits(DOCUMENT_PATH)).toBeGreaterThanOrEqual(1);

    const authorizationCode = provider.callback!.searchParams.get('code')!;
    expect(await auth(provider, { serverUrl: mcpURL, authorizationCode })).toBe('AUTHORIZED');
    expect(await whoamiWith(provider)).toMatchObject({ sub: 'demo', client_id: clientId, scopes: ['mcp:tools', 'mcp:resources'] });
  });
});

describe('MCP SDK v2 (@modelcontextprotocol/client) auth() with a client ID metadata document', () => {
  it('AUTHZ-CIMD-01: the same document, with the RFC 9207 iss check of v2', async () => {
    const clientId = documents.url(DOCUMENT_PATH);
    const provider = new HeadlessProvider(CIMD_REDIRECT, clientId);
    expect(await v2.auth(provider, { serverUrl: mcpURL })).toBe('REDIRECT');
    expect(provider.clientInformation()?.client_id).toBe(clientId);
    const callback = provider.callback!;
    const result = await v2.auth(provider, { serverUrl: mcpURL, authorizationCode: callback.searchParams.get('code')!, iss: callback.searchParams.get('iss')! });
    expect(result).toBe('AUTHORIZED');
    // v2 adds offline_access when the client may refresh and the server offers it.
    expect(provider.tokens()).toMatchObject({ scope: 'mcp:tools mcp:resources offline_access', refresh_token: expect.any(String) });

    const client = new v2.Client({ name: 'keyward-example-test', version: '0.0.0' });
    await client.connect(new v2.StreamableHTTPClientTransport(new URL(mcpURL), { authProvider: provider }));
    const identity = toolJSON(await client.callTool({ name: 'whoami', arguments: {} }));
    await client.close();
    expect(identity).toMatchObject({ sub: 'demo', client_id: clientId });
  });
});
