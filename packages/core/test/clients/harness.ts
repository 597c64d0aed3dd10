/**
 * Harness of the issue-3 tests (clients and token management): a server on an injected clock over a
 * MemoryStore that shares that clock, and helpers that talk to it only through `server.request`, as an HTTP
 * client would. Nothing here reaches into the server; the few white-box looks go through the store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import { SignJWT, type KeyInput } from 'jose';
import { AuthorizationServer, type AuthorizationServerOptions, type GuardResult } from '@keyward/core';
import { MemoryStore } from '@keyward/core/memory';

export const ISSUER = 'http://localhost:3009';
export const RESOURCE = `${ISSUER}/mcp`;
export const RESOURCE_B = 'https://files.example.com/files/mcp';
export const SCOPES = ['mcp:tools', 'mcp:admin', 'openid', 'offline_access'];
export const SUBJECT = 'user-1';
/** Far from the wall clock on purpose: nothing may depend on Date.now(). */
export const START = Date.UTC(2030, 0, 1, 12);
/** An initial access token the default server accepts (RFC 7591 §3). */
export const IAT = 'initial-access-token-0123456789abcdef';
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export const PATHS = {
  authorize: '/oauth/authorize',
  token: '/oauth/token',
  register: '/oauth/register',
  revoke: '/oauth/revoke',
  introspect: '/oauth/introspect',
} as const;

export const FORM = { 'content-type': 'application/x-www-form-urlencoded' } as const;
export const JSON_TYPE = { 'content-type': 'application/json' } as const;

/** How a request authenticates its client (or the caller, for introspection). */
export type Auth =
  | { basic: [clientId: string, secret: string] }
  | { post: [clientId: string, secret: string] }
  | { none: string }
  | { assertion: string; clientId?: string }
  | { bearer: string }
  | { header: string }
  | 'omit';

/** What a registration answers (RFC 7591 §3.2.1), loosely typed: tests look at the wire members. */
export interface ClientInformation {
  client_id: string;
  client_secret?: string;
  client_secret_expires_at?: number;
  client_id_issued_at?: number;
  registration_access_token: string;
  registration_client_uri: string;
  redirect_uris?: string[];
  grant_types: string[];
  response_types: string[];
  token_endpoint_auth_method: string;
  [member: string]: unknown;
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
}

/** application/x-www-form-urlencoded encoding of one value, as RFC 6749 §2.3.1 wants inside Basic. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

export function basicHeader(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(secret)}`, 'utf8').toString('base64')}`;
}

/** Decodes a JWT's payload without verifying it. */
export function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Asserts an OAuth JSON error with `no-store` and returns its body. */
export async function expectOAuthError(response: Response, error: string, status = 400): Promise<Record<string, unknown>> {
  const text = await response.text();
  const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
  expect({ status: response.status, error: body.error }, text).toEqual({ status, error });
  expect(response.headers.get('cache-control')).toBe('no-store');
  return body;
}

export async function expectJSON<T = Record<string, unknown>>(response: Response, status = 200): Promise<T> {
  const text = await response.text();
  expect(response.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** A private_key_jwt client assertion (RFC 7523 §3); `claims` override or (as undefined) remove the defaults. */
export async function clientAssertion(
  key: KeyInput,
  clientId: string,
  now: number,
  claims: Record<string, unknown> = {},
  header: { alg?: string; kid?: string } = {},
): Promise<string> {
  const seconds = Math.floor(now / 1000);
  const payload: Record<string, unknown> = {
    iss: clientId,
    sub: clientId,
    aud: ISSUER,
    iat: seconds,
    exp: seconds + 60,
    jti: randomBytes(16).toString('base64url'),
    ...claims,
  };
  for (const [name, value] of Object.entries(payload)) if (value === undefined) delete payload[name];
  return new SignJWT(payload).setProtectedHeader({ alg: header.alg ?? 'ES256', ...(header.kid && { kid: header.kid }) }).sign(key);
}

/**
 * A server on a fake clock. The MemoryStore gets the same clock, so counter windows, expiries and
 * `markUsed` markers all follow `advance()`; devLogin approves every authorization as {@link SUBJECT}.
 */
export function createHarness(overrides: Partial<AuthorizationServerOptions> = {}) {
  const clock = { now: START };
  const now = () => clock.now;
  const store = new MemoryStore({ clock: now });
  const server = new AuthorizationServer({
    issuer: ISSUER,
    store,
    clock: now,
    scopes: SCOPES,
    resources: [RESOURCE, RESOURCE_B],
    devLogin: { subject: SUBJECT },
    registration: { initialAccessTokens: [IAT] },
    ...overrides,
  });

  const h = {
    server,
    store,
    get now() {
      return clock.now;
    },
    advance(seconds: number) {
      clock.now += seconds * 1000;
    },

    /** POST /oauth/register with a JSON body (or raw text), optionally with an initial access token. */
    register(metadata: unknown, opts: { iat?: string; source?: string; headers?: Record<string, string> } = {}): Promise<Response> {
      const headers: Record<string, string> = { ...JSON_TYPE, ...opts.headers };
      if (opts.iat) headers.authorization = `Bearer ${opts.iat}`;
      const body = typeof metadata === 'string' ? metadata : JSON.stringify(metadata);
      return server.request(PATHS.register, { method: 'POST', headers, body }, { clientAddress: opts.source ?? '192.0.2.10' });
    },

    /** Registers and asserts 201. */
    async registered(metadata: Record<string, unknown>, opts: { iat?: string; source?: string } = {}): Promise<ClientInformation> {
      return expectJSON<ClientInformation>(await h.register(metadata, opts), 201);
    },

    /** A public native client (the MCP default) with a loopback redirect URI and refresh tokens. */
    publicClient(extra: Record<string, unknown> = {}): Promise<ClientInformation> {
      return h.registered({
        redirect_uris: ['http://127.0.0.1/cb'],
        token_endpoint_auth_method: 'none',
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'Public MCP client',
        ...extra,
      });
    },

    /** A confidential client (client_secret_basic unless `extra` says otherwise) for the code flow. */
    confidentialClient(extra: Record<string, unknown> = {}): Promise<ClientInformation> {
      return h.registered({
        redirect_uris: ['https://app.example.com/cb'],
        grant_types: ['authorization_code', 'refresh_token'],
        client_name: 'Confidential client',
        ...extra,
      });
    },

    /** A confidential client_credentials client, registered with the initial access token. */
    machineClient(extra: Record<string, unknown> = {}): Promise<ClientInformation> {
      return h.registered({ grant_types: ['client_credentials'], client_name: 'Machine', ...extra }, { iat: IAT });
    },

    /** The RFC 7592 client configuration endpoint, with a registration access token. */
    configure(info: Pick<ClientInformation, 'registration_client_uri'>, token: string | undefined, init: RequestInit = {}): Promise<Response> {
      const headers = new Headers(init.headers);
      if (token !== undefined) headers.set('authorization', `Bearer ${token}`);
      if (init.body !== undefined) headers.set('content-type', 'application/json');
      return server.request(new URL(info.registration_client_uri).pathname, { ...init, headers });
    },

    /** A form POST to `path`, authenticated as `auth`. */
    post(path: string, params: Record<string, string | undefined>, auth: Auth, headers: Record<string, string> = {}, source?: string): Promise<Response> {
      const body = new URLSearchParams();
      for (const [name, value] of Object.entries(params)) if (value !== undefined) body.append(name, value);
      const all: Record<string, string> = { ...FORM, ...headers };
      if (auth !== 'omit') {
        if ('basic' in auth) all.authorization = basicHeader(...auth.basic);
        if ('post' in auth) (body.append('client_id', auth.post[0]), body.append('client_secret', auth.post[1]));
        if ('none' in auth) body.append('client_id', auth.none);
        if ('assertion' in auth) {
          body.append('client_assertion_type', JWT_BEARER);
          body.append('client_assertion', auth.assertion);
          if (auth.clientId) body.append('client_id', auth.clientId);
        }
        if ('bearer' in auth) all.authorization = `Bearer ${auth.bearer}`;
        if ('header' in auth) all.authorization = auth.header;
      }
      return server.request(path, { method: 'POST', headers: all, body }, source ? { clientAddress: source } : undefined);
    },

    token(params: Record<string, string | undefined>, auth: Auth): Promise<Response> {
      return h.post(PATHS.token, params, auth);
    },
    revoke(token: string | undefined, auth: Auth, extra: Record<string, string> = {}): Promise<Response> {
      return h.post(PATHS.revoke, { token, ...extra }, auth);
    },
    introspect(token: string | undefined, auth: Auth, extra: Record<string, string> = {}): Promise<Response> {
      return h.post(PATHS.introspect, { token, ...extra }, auth);
    },
    /** Introspects and returns the JSON body, asserting 200 and no-store. */
    async introspection(token: string, auth: Auth): Promise<Record<string, unknown>> {
      const response = await h.introspect(token, auth);
      expect(response.headers.get('cache-control')).toBe('no-store');
      return expectJSON(response);
    },

    /** A well-formed authorization request (PKCE S256, state); the raw response and the verifier. */
    async authorize(clientId: string, redirectUri: string, opts: { scope?: string; resource?: string } = {}): Promise<{ response: Response; verifier: string }> {
      const verifier = randomBytes(32).toString('base64url');
      const query = new URLSearchParams({
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        scope: opts.scope ?? 'mcp:tools',
        state: 'st-1',
      });
      if (opts.resource) query.set('resource', opts.resource);
      return { response: await server.request(`${PATHS.authorize}?${query}`), verifier };
    },

    /** Runs the authorization request (devLogin approves it) and returns the code. */
    async code(clientId: string, redirectUri: string, opts: { scope?: string; resource?: string } = {}): Promise<{ code: string; verifier: string }> {
      const { response, verifier } = await h.authorize(clientId, redirectUri, opts);
      const location = response.headers.get('location');
      expect(location, `authorization answered ${response.status}: ${await response.clone().text()}`).toBeTruthy();
      const code = new URL(location!).searchParams.get('code');
      expect(code, `no code in ${location}`).toBeTruthy();
      return { code: code!, verifier };
    },

    /** The whole code flow; asserts 200 and returns the token response. */
    async login(client: { client_id: string; redirect_uris?: string[] }, auth: Auth, opts: { scope?: string; resource?: string } = {}): Promise<TokenSet> {
      const { code, verifier } = await h.code(client.client_id, client.redirect_uris![0]!, opts);
      return expectJSON<TokenSet>(await h.token({ grant_type: 'authorization_code', code, code_verifier: verifier }, auth));
    },

    /** A client_credentials token; asserts 200. */
    async machineToken(auth: Auth, scope?: string): Promise<TokenSet> {
      return expectJSON<TokenSet>(await h.token({ grant_type: 'client_credentials', scope }, auth));
    },

    /** Presents `token` to the server's own resource-server guard for `resource`. */
    bearer(token: string, resource = RESOURCE): Promise<GuardResult> {
      return server.createGuard({ resource }).authenticate(new Request(resource, { headers: { authorization: `Bearer ${token}` } }));
    },
  };
  return h;
}

export type Harness = ReturnType<typeof createHarness>;

/** The auth a registered client uses according to its `token_endpoint_auth_method`. */
export function authOf(info: ClientInformation): Auth {
  switch (info.token_endpoint_auth_method) {
    case 'none':
      return { none: info.client_id };
    case 'client_secret_post':
      return { post: [info.client_id, info.client_secret!] };
    case 'client_secret_basic':
      return { basic: [info.client_id, info.client_secret!] };
    default:
      throw new Error(`authOf: no automatic credentials for ${info.token_endpoint_auth_method}`);
  }
}
