/**
 * Test harness for the requirement tests: a server with an injectable clock, a set of configured clients
 * covering every client type the requirements talk about, and helpers that drive the flow through
 * `server.request` exactly as an HTTP client would.
 */
import { createHash } from 'node:crypto';
import { expect } from 'vitest';
import {
  AuthorizationServer,
  type AuthorizationServerOptions,
  type GrantRecord,
  type GuardResult,
  type PendingAuthorization,
  type RefreshRotation,
  type RefreshTokenRecord,
  type StaticClientOptions,
} from '@keyward/core';
import { randomToken } from '../src/protocol/crypto.js';
import { MemoryStore } from '@keyward/core/memory';

export const ISSUER = 'http://localhost:3009';
export const RESOURCE = 'http://localhost:3009/mcp';
export const RESOURCE_B = 'https://files.example.com/files/mcp';
export const RESOURCE_C = 'https://calendar.example.com/calendar/mcp';
export const SCOPES = ['mcp:tools', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
/** Far from the wall clock on purpose: nothing may depend on Date.now(). */
export const START = Date.UTC(2030, 0, 1, 12);
export const SUBJECT = 'user-1';

export const PATHS = {
  authorize: '/oauth/authorize',
  token: '/oauth/token',
  jwks: '/oauth/keys',
  userinfo: '/oauth/userinfo',
  asMetadata: '/.well-known/oauth-authorization-server',
} as const;

const secret = (name: string) => `${name}-secret-0123456789abcdef`;

/** Every configured client of the default server, by role. */
export const CLIENTS = {
  /** Confidential, client_secret_basic (the default for a client with a secret). */
  basic: { clientId: 'conf-basic', clientSecret: secret('basic'), redirectUris: ['https://app.example.com/cb'] },
  /** Confidential, client_secret_post. */
  post: {
    clientId: 'conf-post',
    clientSecret: secret('post'),
    tokenEndpointAuthMethod: 'client_secret_post',
    redirectUris: ['https://post.example.com/cb'],
  },
  /** Public (token_endpoint_auth_method none). */
  public: { clientId: 'public-app', redirectUris: ['https://public.example.com/cb'] },
  /** A second public client, for cross-client binding tests. */
  public2: { clientId: 'public-app-2', redirectUris: ['https://public2.example.com/cb'] },
  /** Several redirect URIs registered. */
  multi: { clientId: 'multi-app', redirectUris: ['https://multi.example.com/a', 'https://multi.example.com/b'] },
  /** Native app on IPv4 loopback (RFC 8252 §7.3). */
  loopback: { clientId: 'native-app', redirectUris: ['http://127.0.0.1/cb'] },
  /** Native app on IPv6 loopback. */
  loopback6: { clientId: 'native-app-6', redirectUris: ['http://[::1]/cb'] },
  /** Native app registered with `http://localhost` (MCP Inspector style). */
  localhost: { clientId: 'inspector', redirectUris: ['http://localhost/oauth/callback'] },
  /** A redirect URI with its own query component. */
  query: { clientId: 'query-app', redirectUris: ['https://query.example.com/cb?x=1'] },
  /** Allowed the code grant but not refresh_token. */
  noRefresh: { clientId: 'no-refresh', redirectUris: ['https://norefresh.example.com/cb'], grantTypes: ['authorization_code'] },
  /** Confidential client allowed only client_credentials. */
  machine: { clientId: 'machine', clientSecret: secret('machine'), grantTypes: ['client_credentials'] },
  /** A public client that (wrongly) lists client_credentials. */
  publicMachine: { clientId: 'public-machine', redirectUris: ['https://pm.example.com/cb'], grantTypes: ['authorization_code', 'client_credentials'] },
  /** May request only mcp:tools. */
  limited: { clientId: 'limited', redirectUris: ['https://limited.example.com/cb'], scopes: ['mcp:tools'] },
  /** A client id and secret that need form-urlencoding inside Basic credentials (RFC 6749 §2.3.1). */
  colon: { clientId: 'a:b%', clientSecret: 'p@ss word:%+é-long-enough', redirectUris: ['https://colon.example.com/cb'] },
  /** Private-use schemes: allow-listed `cursor` and reverse-DNS `com.example.app`. */
  privateUse: { clientId: 'cursor-app', redirectUris: ['cursor://anysphere.cursor-mcp/oauth/callback', 'com.example.app:/cb'] },
} satisfies Record<string, StaticClientOptions>;

export type ClientName = keyof typeof CLIENTS;

/** How a token request authenticates its client. */
export type Auth =
  | { method: 'basic'; clientId: string; secret: string }
  | { method: 'post'; clientId: string; secret: string }
  | { method: 'none'; clientId: string }
  | { method: 'omit' };

/** The authentication a configured client uses by default. */
export function authOf(name: ClientName): Auth {
  const client: StaticClientOptions = CLIENTS[name];
  if (!client.clientSecret) return { method: 'none', clientId: client.clientId };
  if (client.tokenEndpointAuthMethod === 'client_secret_post') return { method: 'post', clientId: client.clientId, secret: client.clientSecret };
  return { method: 'basic', clientId: client.clientId, secret: client.clientSecret };
}

/** application/x-www-form-urlencoded encoding of one value (space as '+'), as RFC 6749 §2.3.1 wants. */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

export function basicHeader(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

export type Params = Record<string, string | string[] | undefined>;

export function toSearch(params: Params): URLSearchParams {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    for (const item of Array.isArray(value) ? value : [value]) search.append(name, item);
  }
  return search;
}

/** A PKCE pair computed independently of the library (node:crypto), RFC 7636 §4.1-4.2. */
export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomToken(32);
  return { verifier, challenge: s256(verifier) };
}

export function s256(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** The Location of a redirect, asserting that the response is one (302, or 303 after a POST). */
export function locationOf(response: Response): URL {
  expect([302, 303], `expected a redirect, got ${response.status}`).toContain(response.status);
  const location = response.headers.get('location');
  expect(location).toBeTruthy();
  return new URL(location!);
}

/** Asserts the response is the error page that must never redirect: 400, HTML, no Location. */
export async function expectErrorPage(response: Response, status = 400): Promise<string> {
  expect(response.status).toBe(status);
  expect(response.headers.get('location')).toBeNull();
  expect(response.headers.get('content-type')).toMatch(/^text\/html/);
  return response.text();
}

/** Asserts an OAuth JSON error response and returns its body. */
export async function expectOAuthError(response: Response, error: string, status = 400): Promise<Record<string, unknown>> {
  const body = (await response.json()) as Record<string, unknown>;
  expect({ status: response.status, error: body.error }, JSON.stringify(body)).toEqual({ status, error });
  expect(response.headers.get('cache-control')).toBe('no-store');
  return body;
}

/** Decodes a JWT's payload or header without verifying it. */
export function decodeJWT(token: string): { header: Record<string, unknown>; payload: Record<string, unknown> } {
  const [header, payload] = token.split('.');
  const decode = (part: string | undefined) => JSON.parse(Buffer.from(part ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
  return { header: decode(header), payload: decode(payload) };
}

/** A MemoryStore that also records what the server did, for white-box checks of black-box tests. */
export class RecordingStore extends MemoryStore {
  readonly grants: GrantRecord[] = [];
  readonly rotations: RefreshRotation['status'][] = [];
  readonly savedRefreshTokens: RefreshTokenRecord[] = [];

  override async saveGrant(grant: GrantRecord): Promise<void> {
    this.grants.push(structuredClone(grant));
    return super.saveGrant(grant);
  }

  override async saveRefreshToken(token: RefreshTokenRecord): Promise<void> {
    this.savedRefreshTokens.push(structuredClone(token));
    return super.saveRefreshToken(token);
  }

  // super's body runs to completion synchronously, so recording here keeps the operation atomic.
  override async rotateRefreshToken(presentedHash: string, successor: RefreshTokenRecord): Promise<RefreshRotation> {
    const result = super.rotateRefreshToken(presentedHash, successor);
    const outcome = await result;
    this.rotations.push(outcome.status);
    return outcome;
  }
}

export interface TokenSet {
  access_token: string;
  token_type: string;
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

export interface AuthorizeOptions {
  client?: ClientName;
  scope?: string | undefined;
  state?: string | undefined;
  redirectUri?: string | undefined;
  resource?: string | string[] | undefined;
  /** Extra or overriding parameters; `undefined` removes a default. */
  extra?: Params;
  method?: 'GET' | 'POST';
}

export type Harness = ReturnType<typeof setup>;

/**
 * A server on a fake clock with every client of {@link CLIENTS}, three resources and devLogin approving as
 * {@link SUBJECT}. Pass `interactive: true` to use the interaction hook instead (pending authorizations
 * land in `pending`).
 */
export function setup(overrides: Partial<AuthorizationServerOptions> & { interactive?: boolean } = {}) {
  const { interactive, ...options } = overrides;
  const clock = { now: START };
  const store = new RecordingStore({ clock: () => clock.now });
  const pending: PendingAuthorization[] = [];
  const server = new AuthorizationServer({
    issuer: ISSUER,
    store,
    clock: () => clock.now,
    scopes: SCOPES,
    resources: [RESOURCE, RESOURCE_B, RESOURCE_C],
    clients: Object.values(CLIENTS),
    redirectUriSchemes: ['cursor'],
    ...(interactive
      ? {
          interaction: (p: PendingAuthorization) => {
            pending.push(p);
            return new Response('<!doctype html><title>login</title>', { status: 200, headers: { 'content-type': 'text/html' } });
          },
        }
      : { devLogin: { subject: SUBJECT, claims: { name: 'Demo User', email: 'demo@example.com' } } }),
    ...options,
  });

  const h = {
    server,
    store,
    pending,
    get now() {
      return clock.now;
    },
    /** Moves the injected clock forward. */
    advance(seconds: number) {
      clock.now += seconds * 1000;
    },

    /** A raw authorization request with exactly these parameters. */
    authorizeRaw(params: Params, method: 'GET' | 'POST' = 'GET'): Promise<Response> {
      const search = toSearch(params);
      if (method === 'POST') {
        return server.request(PATHS.authorize, { method: 'POST', body: search });
      }
      return server.request(`${PATHS.authorize}?${search}`);
    },

    /** A well-formed authorization request (PKCE S256, state) that options can bend. */
    async authorize(opts: AuthorizeOptions = {}): Promise<{ response: Response; verifier: string; challenge: string }> {
      const client: StaticClientOptions = CLIENTS[opts.client ?? 'public'];
      const { verifier, challenge } = pkcePair();
      const params: Params = {
        response_type: 'code',
        client_id: client.clientId,
        redirect_uri: opts.redirectUri,
        code_challenge: challenge,
        code_challenge_method: 'S256',
        scope: 'scope' in opts ? opts.scope : 'mcp:tools',
        state: 'state' in opts ? opts.state : 'st-1',
        resource: opts.resource,
      };
      for (const [name, value] of Object.entries(opts.extra ?? {})) params[name] = value;
      return { response: await h.authorizeRaw(params, opts.method), verifier, challenge };
    },

    /** Runs the authorization request and returns the issued code (asserting a success redirect). */
    async code(opts: AuthorizeOptions = {}): Promise<{ code: string; verifier: string; location: URL }> {
      const { response, verifier } = await h.authorize(opts);
      const location = locationOf(response);
      const code = location.searchParams.get('code');
      expect(code, `no code in ${location.href}`).toBeTruthy();
      return { code: code!, verifier, location };
    },

    /** A token request with these body parameters, authenticated as `auth`. */
    token(params: Params, auth: Auth, init: { json?: boolean; headers?: Record<string, string> } = {}): Promise<Response> {
      const body: Params = { ...params };
      const headers: Record<string, string> = { ...init.headers };
      if (auth.method === 'basic') headers.authorization = basicHeader(auth.clientId, auth.secret);
      if (auth.method === 'post') Object.assign(body, { client_id: auth.clientId, client_secret: auth.secret });
      if (auth.method === 'none') body.client_id = auth.clientId;
      if (init.json) {
        headers['content-type'] = 'application/json';
        return server.request(PATHS.token, { method: 'POST', headers, body: JSON.stringify(body) });
      }
      return server.request(PATHS.token, { method: 'POST', headers, body: toSearch(body) });
    },

    redeem(code: string, verifier: string | undefined, auth: Auth, extra: Params = {}): Promise<Response> {
      return h.token({ grant_type: 'authorization_code', code, code_verifier: verifier, ...extra }, auth);
    },

    refresh(refreshToken: string, auth: Auth, extra: Params = {}): Promise<Response> {
      return h.token({ grant_type: 'refresh_token', refresh_token: refreshToken, ...extra }, auth);
    },

    /** The whole code flow for a client; asserts 200 and returns the token response. */
    async login(opts: AuthorizeOptions & { tokenExtra?: Params } = {}): Promise<TokenSet> {
      const { code, verifier } = await h.code(opts);
      const response = await h.redeem(code, verifier, authOf(opts.client ?? 'public'), opts.tokenExtra);
      const body = (await response.json()) as TokenSet;
      expect(response.status, JSON.stringify(body)).toBe(200);
      return body;
    },

    /** Presents `token` as a bearer to the guard of `resource` (default {@link RESOURCE}). */
    bearer(token: string, opts: { resource?: string; scopes?: string[] } = {}): Promise<GuardResult> {
      const guard = server.createGuard({ resource: opts.resource ?? RESOURCE, scopes: opts.scopes });
      return guard.authenticate(new Request(opts.resource ?? RESOURCE, { headers: { authorization: `Bearer ${token}` } }));
    },
  };
  return h;
}
