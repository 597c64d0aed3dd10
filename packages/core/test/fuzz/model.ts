/**
 * The endpoint fuzzer shared by the in-process run (`server.fetch`) and the adapter run (real HTTP): a
 * model of what a legitimate client holds (codes with their verifiers, live refresh tokens, client
 * secrets, registrations), generators of valid requests and of one-field mutations of them, random
 * requests, and the properties every response must keep.
 *
 * Properties (SEC-FUZZ-01..04):
 *   01 never a 5xx;
 *   02 never a Location outside this server except to a redirect URI registered for the request's client;
 *   03 never an access token without a valid code (with its verifier), a live refresh token or a
 *      confidential client's real secret, as the model knows them;
 *   04 every error is RFC-shaped: JSON with `error` from the RFC code set and an optional string
 *      `error_description`, an HTML page on browser endpoints, or an empty 405 / WWW-Authenticate answer.
 *
 * No request may leave this machine: client ID metadata documents and jwks_uri key sets go through a stub
 * fetcher (`fetchStub`), which throws if anything else is asked of it.
 */
import fc from 'fast-check';
import { AuthorizationServer, type AuthorizationServerOptions, type OAuthErrorCode } from '@keyward/core';
import { OutboundFetchError } from '../../src/node/safe-fetch.js';
import { timingSafeEqual } from '../../src/protocol/crypto.js';
import { calculatePKCECodeChallenge } from '../../src/protocol/pkce.js';
import { redirectUriMatches } from '../../src/protocol/redirect-uri.js';
import { MemoryStore } from '@keyward/core/memory';

export const ISSUER = 'http://localhost:3009';
export const START = Date.UTC(2030, 0, 1, 12);
export const PUBLIC_CLIENT = { id: 'fuzz-public', redirect: 'http://127.0.0.1/cb' };
export const CONFIDENTIAL_CLIENT = { id: 'fuzz-confidential', secret: 'fuzz-secret-0123456789abcdef', redirect: 'https://app.example/cb' };
/** The one client ID metadata document the stub fetcher serves. */
export const DOCUMENT_CLIENT = 'https://docs.fuzz.test/client.json';
const DOCUMENT_REDIRECT = 'http://127.0.0.1:7777/doc-cb';
const USER = { name: 'demo', password: 'correct horse battery' };

const PATHS = {
  authorize: '/oauth/authorize',
  token: '/oauth/token',
  register: '/oauth/register',
  revoke: '/oauth/revoke',
  introspect: '/oauth/introspect',
  userinfo: '/oauth/userinfo',
  jwks: '/oauth/keys',
  login: '/oauth/login',
  consent: '/oauth/consent',
  tokenLogin: '/oauth/login/token',
  callback: '/oauth/callback',
};
const DISCOVERY = [
  '/.well-known/oauth-authorization-server',
  '/.well-known/openid-configuration',
  '/.well-known/openid_configuration',
  '/.well-known/oauth-protected-resource',
  '/.well-known/oauth-protected-resource/mcp',
];
const BROWSER_PATHS = new Set([PATHS.authorize, PATHS.login, PATHS.consent, PATHS.tokenLogin, PATHS.callback]);

/** Every `error` an endpoint may answer with (RFC 6749, 6750, 7009, 7591, 8707, OIDC), plus the 404 of unknown paths. */
const ERROR_CODES = new Set<OAuthErrorCode | 'not_found'>([
  'invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'unsupported_response_type',
  'invalid_scope', 'access_denied', 'server_error', 'temporarily_unavailable', 'invalid_token', 'insufficient_scope',
  'unsupported_token_type', 'invalid_redirect_uri', 'invalid_client_metadata', 'invalid_software_statement',
  'unapproved_software_statement', 'invalid_target', 'login_required', 'consent_required', 'interaction_required', 'slow_down', 'not_found',
]);

/** A parameter; a list is a JSON array in a JSON body and repeated parameters in a form or query. */
export type Field = [name: string, value: string | string[]];

/** A request as data, so that one field of it can be changed. */
export interface RequestSpec {
  method: string;
  path: string;
  query: Field[];
  headers: [string, string][];
  body: { kind: 'none' } | { kind: 'form' | 'json'; fields: Field[] } | { kind: 'raw'; text: string };
  /** The client whose redirect URIs a Location may name (for pages reached through an interaction). */
  clientId?: string;
  /** Where the request came from, for the server's per-source limits. */
  source: string;
}

/** How the fuzzer reaches the server: in process or over HTTP. */
export interface Target {
  send(request: Request, source: string): Promise<Response>;
}

interface KnownClient {
  secret?: string;
  redirectUris: string[];
  registrationToken?: string;
  confidential: boolean;
}

/** What a legitimate client holds; the token oracle judges every issued token against it. */
export class Model {
  readonly clients = new Map<string, KnownClient>([
    [PUBLIC_CLIENT.id, { redirectUris: [PUBLIC_CLIENT.redirect], confidential: false }],
    [CONFIDENTIAL_CLIENT.id, { secret: CONFIDENTIAL_CLIENT.secret, redirectUris: [CONFIDENTIAL_CLIENT.redirect], confidential: true }],
    [DOCUMENT_CLIENT, { redirectUris: [DOCUMENT_REDIRECT], confidential: false }],
  ]);
  readonly codes = new Map<string, { clientId: string; verifier: string; used: boolean }>();
  readonly refreshTokens = new Map<string, { clientId: string; live: boolean }>();
  readonly accessTokens: string[] = [];
  /**
   * Whether an error answer on `path` is Keyward's to shape. Behind an adapter, paths Keyward does not
   * serve belong to the application (Express's own 404 page); in process every answer is Keyward's.
   */
  ownsPath: (path: string) => boolean = () => true;
  /** Counts, printed at the end of a run. */
  readonly stats = { requests: 0, tokensIssued: 0, redirects: 0, byStatus: new Map<number, number>() };
}

/** The stub behind client ID metadata documents and jwks_uri: one known document, 404 for the rest, never the network. */
export function fetchStub(url: string): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  if (url === DOCUMENT_CLIENT) {
    const body = JSON.stringify({ client_id: DOCUMENT_CLIENT, client_name: 'Fuzz document client', redirect_uris: [DOCUMENT_REDIRECT], token_endpoint_auth_method: 'none' });
    return Promise.resolve({ status: 200, headers: { 'cache-control': 'max-age=60' }, body });
  }
  return Promise.reject(new OutboundFetchError(url, 'the fuzz stub serves nothing else'));
}

/** The server under test: memory store, injected clock, devLogin or the built-in login pages. */
export function fuzzServer(options: { login?: boolean; onError?: (error: unknown) => void } = {}): {
  server: AuthorizationServer;
  store: MemoryStore;
  /** Moves the injected clock on (lockouts and windows end; nothing sleeps). */
  advance(ms: number): void;
} {
  let time = START;
  const now = () => time;
  const store = new MemoryStore({ clock: now });
  const base: AuthorizationServerOptions = {
    issuer: ISSUER,
    store,
    clock: now,
    scopes: ['mcp:tools', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'],
    resources: [`${ISSUER}/mcp`],
    clients: [
      { clientId: PUBLIC_CLIENT.id, redirectUris: [PUBLIC_CLIENT.redirect], clientName: 'Fuzz public' },
      {
        clientId: CONFIDENTIAL_CLIENT.id,
        clientSecret: CONFIDENTIAL_CLIENT.secret,
        tokenEndpointAuthMethod: ['client_secret_basic', 'client_secret_post'],
        redirectUris: [CONFIDENTIAL_CLIENT.redirect],
        grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
        clientName: 'Fuzz confidential',
      },
    ],
    introspection: { bearerScope: 'mcp:admin' },
    clientIdMetadataDocuments: { fetch: fetchStub },
    onError: (error) => options.onError?.(error),
  };
  const server = new AuthorizationServer(
    options.login
      ? {
          ...base,
          login: {
            users: {
              async verify(username, password) {
                return username === USER.name && timingSafeEqual(password, USER.password) ? { subject: 'local:demo', claims: { name: 'Demo' } } : null;
              },
            },
          },
        }
      : { ...base, devLogin: { subject: 'user-1', claims: { name: 'Fuzz User', email: 'fuzz@example.com' } } },
  );
  return { server, store, advance: (ms) => void (time += ms) };
}

function toRequest(spec: RequestSpec): Request {
  const url = new URL(spec.path, ISSUER);
  for (const [name, value] of flatten(spec.query)) url.searchParams.append(name, value);
  const headers = new Headers();
  for (const [name, value] of spec.headers) {
    try {
      headers.append(name, value);
    } catch {
      // A header the Fetch API cannot carry cannot be sent by any client either.
    }
  }
  let body: string | undefined;
  if (spec.body.kind === 'form') body = new URLSearchParams(flatten(spec.body.fields)).toString();
  else if (spec.body.kind === 'json') {
    // Repeated names stay repeated: the JSON text is written by hand, as an attacker would.
    body = `{${spec.body.fields.map(([name, value]) => `${JSON.stringify(name)}:${JSON.stringify(value)}`).join(',')}}`;
  } else if (spec.body.kind === 'raw') body = spec.body.text;
  const method = spec.method;
  const withBody = body !== undefined && method !== 'GET' && method !== 'HEAD';
  return new Request(url, { method, headers, ...(withBody && { body }), redirect: 'manual' });
}

function flatten(fields: Field[]): [string, string][] {
  return fields.flatMap(([name, value]) => (Array.isArray(value) ? value.map((item): [string, string] => [name, item]) : [[name, value] as [string, string]]));
}

function firstValue(fields: [string, string][], name: string): string | undefined {
  return fields.find(([key]) => key === name)?.[1];
}

function count(fields: [string, string][], name: string): number {
  return fields.filter(([key]) => key === name).length;
}

/** The parameters of a spec as the server would read them (body for POST, query for GET). */
function paramsOf(spec: RequestSpec): [string, string][] {
  if (spec.body.kind === 'form' || spec.body.kind === 'json') return flatten(spec.body.fields).filter(([, value]) => value !== '');
  return flatten(spec.query).filter(([, value]) => value !== '');
}

function basicCredentials(spec: RequestSpec): [string, string] | undefined {
  const header = spec.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1];
  const match = header && /^basic +(\S+)$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    return [decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')), decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '))];
  } catch {
    return undefined;
  }
}

/**
 * SEC-FUZZ-03's oracle: whether the model knows this token request to be legitimate. Strict on purpose:
 * anything odd (a repeated parameter, two authentication methods) is not, so a server that issues a token
 * for it fails the property.
 */
function legitimateTokenRequest(spec: RequestSpec, model: Model): { clientId: string; grant: string; credential?: string } | null {
  if (spec.method !== 'POST' || spec.path !== PATHS.token) return null;
  const type = spec.headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1].split(';')[0]?.trim().toLowerCase();
  if (!(spec.body.kind === 'form' && type === 'application/x-www-form-urlencoded') && !(spec.body.kind === 'json' && type === 'application/json')) return null;
  const fields = paramsOf(spec);
  for (const name of ['grant_type', 'code', 'code_verifier', 'refresh_token', 'client_id', 'client_secret', 'scope']) if (count(fields, name) > 1) return null;
  const basic = basicCredentials(spec);
  const bodyId = firstValue(fields, 'client_id');
  const bodySecret = firstValue(fields, 'client_secret');
  if (basic && bodySecret !== undefined) return null;
  let clientId: string | undefined;
  if (basic) {
    const known = model.clients.get(basic[0]);
    if (!known?.secret || known.secret !== basic[1] || (bodyId !== undefined && bodyId !== basic[0])) return null;
    clientId = basic[0];
  } else if (bodySecret !== undefined) {
    const known = bodyId === undefined ? undefined : model.clients.get(bodyId);
    if (!known?.secret || known.secret !== bodySecret) return null;
    clientId = bodyId;
  } else {
    const known = bodyId === undefined ? undefined : model.clients.get(bodyId);
    if (!known || known.confidential) return null;
    clientId = bodyId;
  }
  const grant = firstValue(fields, 'grant_type');
  if (grant === 'authorization_code') {
    const code = firstValue(fields, 'code');
    const held = code === undefined ? undefined : model.codes.get(code);
    if (!held || held.used || held.clientId !== clientId || held.verifier !== firstValue(fields, 'code_verifier')) return null;
    return { clientId: clientId!, grant, credential: code };
  }
  if (grant === 'refresh_token') {
    const token = firstValue(fields, 'refresh_token');
    const held = token === undefined ? undefined : model.refreshTokens.get(token);
    if (!held?.live || held.clientId !== clientId) return null;
    return { clientId: clientId!, grant, credential: token };
  }
  if (grant === 'client_credentials') {
    return model.clients.get(clientId!)?.confidential ? { clientId: clientId!, grant } : null;
  }
  return null;
}

/** The client a Location must belong to: the request's `client_id`, or the interaction's client. */
function clientOf(spec: RequestSpec): string | undefined {
  if (spec.path === PATHS.authorize) return count(paramsOf(spec), 'client_id') === 1 ? firstValue(paramsOf(spec), 'client_id') : undefined;
  return spec.clientId;
}

/** Checks SEC-FUZZ-01..04 on one exchange and updates the model; throws with the reason on a violation. */
export async function checkExchange(spec: RequestSpec, response: Response, model: Model): Promise<void> {
  model.stats.requests++;
  model.stats.byStatus.set(response.status, (model.stats.byStatus.get(response.status) ?? 0) + 1);
  const text = await response.text();
  const where = `${spec.method} ${spec.path} → ${response.status} ${text.slice(0, 300)}`;
  if (response.status >= 500) throw new Error(`SEC-FUZZ-01: a 5xx answer: ${where}`);

  const location = response.headers.get('location');
  if (location !== null) {
    model.stats.redirects++;
    const target = new URL(location, ISSUER);
    if (target.origin !== new URL(ISSUER).origin) {
      const clientId = clientOf(spec);
      const client = clientId === undefined ? undefined : model.clients.get(clientId);
      const bare = `${target.origin}${target.pathname}`;
      if (!client || !client.redirectUris.some((registered) => redirectUriMatches([registered.split('?')[0]!], bare))) {
        throw new Error(`SEC-FUZZ-02: redirect to ${location}, not registered for ${clientId ?? 'the request'}: ${where}`);
      }
      const code = target.searchParams.get('code');
      if (code) {
        // A code reaches only a registered redirect URI; it is the client's to redeem, with its verifier.
        const verifier = pendingVerifiers.get(`${clientId} ${target.searchParams.get('state')}`);
        if (verifier) model.codes.set(code, { clientId: clientId!, verifier, used: false });
      }
    }
  }

  const type = response.headers.get('content-type') ?? '';
  let json: Record<string, unknown> | undefined;
  if (type.startsWith('application/json') && text) {
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new Error(`SEC-FUZZ-04: a JSON answer that does not parse: ${where}`);
    }
  }

  if (json && typeof json.access_token === 'string') {
    const legitimate = legitimateTokenRequest(spec, model);
    if (!legitimate) throw new Error(`SEC-FUZZ-03: a token for a request the model holds no valid grant for: ${where} ← ${JSON.stringify(spec)}`);
    model.stats.tokensIssued++;
    if (legitimate.grant === 'authorization_code') model.codes.get(legitimate.credential!)!.used = true;
    if (legitimate.grant === 'refresh_token') model.refreshTokens.get(legitimate.credential!)!.live = false;
    if (typeof json.refresh_token === 'string') model.refreshTokens.set(json.refresh_token, { clientId: legitimate.clientId, live: true });
    model.accessTokens.push(json.access_token);
    if (model.accessTokens.length > 50) model.accessTokens.shift();
  }

  if (response.status >= 400 && spec.path === PATHS.token) {
    // A request the model holds valid was refused (a replayed code revoked the grant, a throttle): the
    // server will not take that credential back, so neither does the model.
    const refused = legitimateTokenRequest(spec, model);
    if (refused?.grant === 'authorization_code') model.codes.get(refused.credential!)!.used = true;
    if (refused?.grant === 'refresh_token') model.refreshTokens.get(refused.credential!)!.live = false;
  }
  if (spec.path === PATHS.revoke && response.status === 200 && spec.method === 'POST') {
    // Its owner revoked it: dead from now on. Nothing else is assumed revoked (RFC 7009 §2.1 ignores others).
    const fields = paramsOf(spec);
    const token = count(fields, 'token') === 1 ? firstValue(fields, 'token') : undefined;
    const held = token === undefined ? undefined : model.refreshTokens.get(token);
    if (held && count(fields, 'client_id') === 1 && firstValue(fields, 'client_id') === held.clientId) held.live = false;
  }
  if (spec.path === PATHS.register && response.status === 201 && json && typeof json.client_id === 'string') {
    model.clients.set(json.client_id, {
      ...(typeof json.client_secret === 'string' && { secret: json.client_secret }),
      redirectUris: Array.isArray(json.redirect_uris) ? (json.redirect_uris as string[]) : [],
      registrationToken: json.registration_access_token as string,
      confidential: json.token_endpoint_auth_method !== 'none',
    });
  }
  if (spec.path.startsWith(`${PATHS.register}/`)) {
    let clientId = '';
    try {
      clientId = decodeURIComponent(spec.path.slice(PATHS.register.length + 1));
    } catch {
      // Not a client id the model could know.
    }
    const known = model.clients.get(clientId);
    if (known && response.status === 204 && spec.method === 'DELETE') model.clients.delete(clientId);
    if (known && response.status === 200 && json) {
      // RFC 7592 rotates the registration access token on every read and update; an update may change all.
      known.registrationToken = json.registration_access_token as string;
      known.redirectUris = Array.isArray(json.redirect_uris) ? (json.redirect_uris as string[]) : [];
      if (typeof json.client_secret === 'string') known.secret = json.client_secret;
      if (typeof json.token_endpoint_auth_method === 'string') known.confidential = json.token_endpoint_auth_method !== 'none';
    }
  }

  if (response.status >= 400 && !(spec.method === 'HEAD' && text === '') && model.ownsPath(spec.path)) {
    if (json) {
      const extra = Object.keys(json).filter((key) => !['error', 'error_description', 'error_uri'].includes(key));
      if (typeof json.error !== 'string' || !ERROR_CODES.has(json.error as OAuthErrorCode)) throw new Error(`SEC-FUZZ-04: error ${String(json.error)} is not an RFC code: ${where}`);
      if (json.error === 'not_found' && response.status !== 404) throw new Error(`SEC-FUZZ-04: not_found with another status: ${where}`);
      if (json.error_description !== undefined && typeof json.error_description !== 'string') throw new Error(`SEC-FUZZ-04: error_description is not a string: ${where}`);
      if (typeof json.error_description === 'string' && /[^\x20-\x21\x23-\x5b\x5d-\x7e]/.test(json.error_description)) {
        throw new Error(`SEC-FUZZ-04: error_description outside the RFC 6749 §5.2 characters: ${where}`);
      }
      if (extra.length) throw new Error(`SEC-FUZZ-04: unexpected members ${extra.join(', ')} in an error: ${where}`);
    } else if (type.startsWith('text/html')) {
      if (!BROWSER_PATHS.has(spec.path)) throw new Error(`SEC-FUZZ-04: an HTML error from a non-browser endpoint: ${where}`);
    } else if (text === '') {
      if (response.status !== 405 && !response.headers.get('www-authenticate')) throw new Error(`SEC-FUZZ-04: an empty error without Allow or WWW-Authenticate: ${where}`);
      if (response.status === 405 && !response.headers.get('allow')) throw new Error(`SEC-FUZZ-04: 405 without Allow: ${where}`);
    } else {
      throw new Error(`SEC-FUZZ-04: an error that is neither JSON nor a page (${type}): ${where}`);
    }
  }
}

/** Verifiers of authorization requests in flight, by client and state, so a returned code can be redeemed. */
const pendingVerifiers = new Map<string, string>();
let stateCounter = 0;

async function authorizationRequest(clientId: string, redirectUri: string, scope = 'mcp:tools openid'): Promise<Field[]> {
  const verifier = `v${(++stateCounter).toString().padStart(6, '0')}${'x'.repeat(40)}`;
  const state = `s${stateCounter}`;
  pendingVerifiers.set(`${clientId} ${state}`, verifier);
  if (pendingVerifiers.size > 5000) pendingVerifiers.delete(pendingVerifiers.keys().next().value!);
  return [
    ['response_type', 'code'],
    ['client_id', clientId],
    ['redirect_uri', redirectUri],
    ['code_challenge', await calculatePKCECodeChallenge(verifier)],
    ['code_challenge_method', 'S256'],
    ['scope', scope],
    ['state', state],
  ];
}

const FORM: [string, string] = ['content-type', 'application/x-www-form-urlencoded'];
const JSON_TYPE: [string, string] = ['content-type', 'application/json'];
const basic = (id: string, secret: string): [string, string] => [
  'authorization',
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
];

function spec(partial: Partial<RequestSpec> & Pick<RequestSpec, 'method' | 'path'>): RequestSpec {
  return { query: [], headers: [], body: { kind: 'none' }, source: '198.51.100.1', ...partial };
}

/** Runs a spec against the target and checks it; the response is consumed. */
export async function exchange(target: Target, model: Model, request: RequestSpec): Promise<Response> {
  const response = await target.send(toRequest(request), request.source);
  const copy = response.clone();
  await checkExchange(request, response, model);
  return copy;
}

/** A fresh code for a client of the code flow (devLogin approves at once). */
async function freshCode(target: Target, model: Model, clientId: string, redirectUri: string): Promise<string | undefined> {
  const before = new Set(model.codes.keys());
  await exchange(target, model, spec({ method: 'GET', path: PATHS.authorize, query: await authorizationRequest(clientId, redirectUri) }));
  return [...model.codes.keys()].find((code) => !before.has(code));
}

async function liveRefreshToken(target: Target, model: Model): Promise<string | undefined> {
  const live = [...model.refreshTokens].reverse().find(([, held]) => held.live && held.clientId === PUBLIC_CLIENT.id);
  if (live) return live[0];
  const code = await freshCode(target, model, PUBLIC_CLIENT.id, PUBLIC_CLIENT.redirect);
  if (!code) return undefined;
  await exchange(target, model, codeRedemption(code, model));
  return [...model.refreshTokens].reverse().find(([, held]) => held.live && held.clientId === PUBLIC_CLIENT.id)?.[0];
}

function codeRedemption(code: string, model: Model): RequestSpec {
  const held = model.codes.get(code)!;
  return spec({
    method: 'POST',
    path: PATHS.token,
    headers: [FORM],
    body: { kind: 'form', fields: [['grant_type', 'authorization_code'], ['code', code], ['code_verifier', held.verifier], ['client_id', held.clientId]] },
  });
}

async function registeredClient(target: Target, model: Model): Promise<[string, KnownClient] | undefined> {
  const found = [...model.clients].reverse().find(([, client]) => client.registrationToken);
  if (found) return found;
  await exchange(target, model, registration(`203.0.113.${(stateCounter++ % 250) + 1}`));
  return [...model.clients].reverse().find(([, client]) => client.registrationToken);
}

/** Redirect URIs of clients the fuzzer registers: a loopback one and an https one. */
const REGISTERED_REDIRECTS = ['http://127.0.0.1/registered-cb', 'https://registered.example/cb'] as const;

function registration(source: string): RequestSpec {
  return spec({
    method: 'POST',
    path: PATHS.register,
    headers: [JSON_TYPE],
    body: { kind: 'json', fields: [['redirect_uris', [...REGISTERED_REDIRECTS]], ['client_name', 'Fuzzed app'], ['token_endpoint_auth_method', 'none'], ['grant_types', ['authorization_code', 'refresh_token']], ['scope', 'mcp:tools']] },
    source,
  });
}

/** Builds one valid request of each kind; some need a code, a refresh token or a registration first. */
export type Template = (target: Target, model: Model) => Promise<RequestSpec | undefined>;

export const TEMPLATES: Record<string, Template> = {
  discovery: async () => spec({ method: 'GET', path: DISCOVERY[stateCounter++ % DISCOVERY.length]! }),
  jwks: async () => spec({ method: 'GET', path: PATHS.jwks }),
  authorizeGet: async () => spec({ method: 'GET', path: PATHS.authorize, query: await authorizationRequest(PUBLIC_CLIENT.id, PUBLIC_CLIENT.redirect) }),
  authorizePost: async () =>
    spec({ method: 'POST', path: PATHS.authorize, headers: [FORM], body: { kind: 'form', fields: await authorizationRequest(CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.redirect, 'mcp:tools') } }),
  authorizeRegisteredClient: async (target, model) => {
    const found = await registeredClient(target, model);
    const redirect = found?.[1].redirectUris[0];
    return found && redirect ? spec({ method: 'GET', path: PATHS.authorize, query: await authorizationRequest(found[0], redirect, 'mcp:tools') }) : undefined;
  },
  tokenRegisteredClient: async (target, model) => {
    const found = await registeredClient(target, model);
    const code = found?.[1].redirectUris[0] && !found[1].confidential ? await freshCode(target, model, found[0], found[1].redirectUris[0]) : undefined;
    return code ? codeRedemption(code, model) : undefined;
  },
  authorizeDocumentClient: async () => spec({ method: 'GET', path: PATHS.authorize, query: await authorizationRequest(DOCUMENT_CLIENT, DOCUMENT_REDIRECT, 'mcp:tools') }),
  tokenCode: async (target, model) => {
    const code = await freshCode(target, model, PUBLIC_CLIENT.id, PUBLIC_CLIENT.redirect);
    return code ? codeRedemption(code, model) : undefined;
  },
  tokenCodeConfidential: async (target, model) => {
    const code = await freshCode(target, model, CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.redirect);
    if (!code) return undefined;
    const held = model.codes.get(code)!;
    return spec({
      method: 'POST',
      path: PATHS.token,
      headers: [FORM, basic(CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.secret)],
      body: { kind: 'form', fields: [['grant_type', 'authorization_code'], ['code', code], ['code_verifier', held.verifier], ['redirect_uri', CONFIDENTIAL_CLIENT.redirect]] },
    });
  },
  tokenRefresh: async (target, model) => {
    const token = await liveRefreshToken(target, model);
    return token
      ? spec({ method: 'POST', path: PATHS.token, headers: [FORM], body: { kind: 'form', fields: [['grant_type', 'refresh_token'], ['refresh_token', token], ['client_id', PUBLIC_CLIENT.id], ['scope', 'mcp:tools']] } })
      : undefined;
  },
  tokenClientCredentials: async () =>
    spec({ method: 'POST', path: PATHS.token, headers: [FORM, basic(CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.secret)], body: { kind: 'form', fields: [['grant_type', 'client_credentials'], ['scope', 'mcp:tools']] } }),
  tokenClientCredentialsJSON: async () =>
    spec({
      method: 'POST',
      path: PATHS.token,
      headers: [JSON_TYPE],
      body: { kind: 'json', fields: [['grant_type', 'client_credentials'], ['client_id', CONFIDENTIAL_CLIENT.id], ['client_secret', CONFIDENTIAL_CLIENT.secret], ['resource', `${ISSUER}/mcp`]] },
    }),
  register: async () => registration(`203.0.113.${(stateCounter++ % 250) + 1}`),
  registrationRead: async (target, model) => {
    const found = await registeredClient(target, model);
    return found && spec({ method: 'GET', path: `${PATHS.register}/${encodeURIComponent(found[0])}`, headers: [['authorization', `Bearer ${found[1].registrationToken}`]] });
  },
  registrationUpdate: async (target, model) => {
    const found = await registeredClient(target, model);
    return (
      found &&
      spec({
        method: 'PUT',
        path: `${PATHS.register}/${encodeURIComponent(found[0])}`,
        headers: [JSON_TYPE, ['authorization', `Bearer ${found[1].registrationToken}`]],
        body: { kind: 'json', fields: [['client_id', found[0]], ['redirect_uris', [REGISTERED_REDIRECTS[1]!]], ['client_name', 'Renamed'], ['token_endpoint_auth_method', 'none'], ['scope', 'mcp:tools']] },
      })
    );
  },
  registrationDelete: async (target, model) => {
    const found = await registeredClient(target, model);
    return found && spec({ method: 'DELETE', path: `${PATHS.register}/${encodeURIComponent(found[0])}`, headers: [['authorization', `Bearer ${found[1].registrationToken}`]] });
  },
  revoke: async (target, model) => {
    const token = (await liveRefreshToken(target, model)) ?? 'unknown';
    return spec({ method: 'POST', path: PATHS.revoke, headers: [FORM], body: { kind: 'form', fields: [['token', token], ['token_type_hint', 'refresh_token'], ['client_id', PUBLIC_CLIENT.id]] } });
  },
  introspect: async (target, model) => {
    if (!model.accessTokens.length) await liveRefreshToken(target, model);
    const token = model.accessTokens.at(-1) ?? 'unknown';
    return spec({ method: 'POST', path: PATHS.introspect, headers: [FORM, basic(CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.secret)], body: { kind: 'form', fields: [['token', token]] } });
  },
  userinfo: async (target, model) => {
    if (!model.accessTokens.length) await liveRefreshToken(target, model);
    return spec({ method: 'GET', path: PATHS.userinfo, headers: [['authorization', `Bearer ${model.accessTokens.at(-1) ?? 'none'}`]] });
  },
};

/** Hidden form fields of a rendered page. */
function hiddenFields(html: string): [string, string][] {
  return [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((match) => [match[1]!, match[2]!.replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>')]);
}

function cookiesOf(response: Response, jar: Map<string, string>): void {
  for (const cookie of response.headers.getSetCookie()) {
    const [pair] = cookie.split(';');
    const index = pair!.indexOf('=');
    jar.set(pair!.slice(0, index), pair!.slice(index + 1));
  }
}

const cookieHeader = (jar: Map<string, string>): [string, string] => ['cookie', [...jar].map(([name, value]) => `${name}=${value}`).join('; ')];

/** Templates for the built-in login and consent pages (a server with `login`). */
export const LOGIN_TEMPLATES: Record<string, Template> = {
  loginPage: async (target, model) => {
    const jar = new Map<string, string>();
    const start = await exchange(target, model, spec({ method: 'GET', path: PATHS.authorize, query: await authorizationRequest(PUBLIC_CLIENT.id, PUBLIC_CLIENT.redirect) }));
    cookiesOf(start, jar);
    const location = start.headers.get('location');
    if (!location) return undefined;
    const url = new URL(location, ISSUER);
    return spec({ method: 'GET', path: url.pathname, query: [...url.searchParams], headers: [cookieHeader(jar)], clientId: PUBLIC_CLIENT.id });
  },
  loginPost: async (target, model) => {
    const page = await LOGIN_TEMPLATES.loginPage!(target, model);
    if (!page) return undefined;
    const html = await (await exchange(target, model, page)).text();
    return spec({ method: 'POST', path: PATHS.login, headers: [FORM, ...page.headers], body: { kind: 'form', fields: [...hiddenFields(html), ['username', USER.name], ['password', USER.password]] }, clientId: PUBLIC_CLIENT.id });
  },
  codeAfterConsent: async (target, model) => {
    const before = new Set(model.codes.keys());
    // Consent once given is remembered: the sign-in itself may then redirect with the code.
    const consent = await LOGIN_TEMPLATES.consentPost!(target, model);
    if (consent) await exchange(target, model, consent);
    const code = [...model.codes.keys()].find((candidate) => !before.has(candidate));
    return code ? codeRedemption(code, model) : undefined;
  },
  consentPost: async (target, model) => {
    const login = await LOGIN_TEMPLATES.loginPost!(target, model);
    if (!login) return undefined;
    const jar = new Map<string, string>(login.headers.filter(([name]) => name === 'cookie').flatMap(([, value]) => value.split('; ').filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] as [string, string])));
    const signedIn = await exchange(target, model, login);
    cookiesOf(signedIn, jar);
    const location = signedIn.headers.get('location');
    if (!location || new URL(location, ISSUER).origin !== new URL(ISSUER).origin) return undefined;
    const url = new URL(location, ISSUER);
    const consent = spec({ method: 'GET', path: url.pathname, query: [...url.searchParams], headers: [cookieHeader(jar)], clientId: PUBLIC_CLIENT.id });
    const html = await (await exchange(target, model, consent)).text();
    return spec({ method: 'POST', path: PATHS.consent, headers: [FORM, cookieHeader(jar)], body: { kind: 'form', fields: [...hiddenFields(html), ['decision', 'allow']] }, clientId: PUBLIC_CLIENT.id });
  },
};

// Values an attacker would try in place of any one field.
const nasty = fc.oneof(
  fc.constantFrom(
    '', ' ', 'null', 'undefined', '__proto__', 'constructor', 'toString', '0', '-1', '1e309', 'NaN', 'true', '[]', '{}',
    'https://evil.example/cb', 'http://127.0.0.1:1/cb', 'http://127.0.0.1/cb#frag', 'http://127.0.0.1/cb?x=1', 'javascript:alert(1)',
    'data:text/html,x', '//evil.example', '/\\evil.example', 'http://localhost:3009/oauth/authorize', 'https://docs.fuzz.test/client.json',
    'https://docs.fuzz.test/other.json', 'https://[::7f00:1]/c.json', 'S256', 'plain', 'code', 'token', 'none', 'client_credentials',
    'authorization_code', 'refresh_token', 'mcp:tools', 'mcp:admin', 'openid', 'mcp:tools mcp:admin openid offline_access', 'a'.repeat(5000),
    '%00', '\u0000', '\r\nSet-Cookie: x=1', '<script>alert(1)</script>', '"\'><img src=x>', '\u202e', '😀', '\ud800', '../../etc/passwd',
    PUBLIC_CLIENT.id, CONFIDENTIAL_CLIENT.id, CONFIDENTIAL_CLIENT.secret, `${CONFIDENTIAL_CLIENT.secret}x`,
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer().map(String),
);
const headerName = fc.constantFrom('content-type', 'authorization', 'cookie', 'origin', 'x-forwarded-for', 'x-forwarded-host', 'accept', 'content-length', 'dpop', 'mcp-protocol-version', 'transfer-encoding', 'host');
const headerValue = fc.oneof(
  fc.constantFrom(
    'application/json', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=utf-8', 'text/plain', 'multipart/form-data; boundary=x',
    'APPLICATION/JSON', 'Basic', 'Basic !!!', 'Basic Og==', `Basic ${Buffer.from('fuzz-confidential').toString('base64')}`, 'Bearer', 'Bearer x y', 'Bearer admin-token',
    'DPoP x', 'Digest x', 'null', '0', '999999999', '-1', 'keyward-browser=x', 'https://evil.example', 'chunked',
    `Basic ${Buffer.from('%zz:%zz').toString('base64')}`, `Basic ${Buffer.from('fuzz-confidential:%E0%A4%A').toString('base64')}`,
    `Basic ${Buffer.from([0xff, 0xfe, 0x3a, 0xc3]).toString('base64')}`, `Basic ${Buffer.from(':').toString('base64')}`,
    `Basic ${Buffer.from(`${CONFIDENTIAL_CLIENT.id}:${CONFIDENTIAL_CLIENT.secret}`).toString('base64')}`, `Basic ${Buffer.from(`${PUBLIC_CLIENT.id}:`).toString('base64')}`,
    'keyward-browser=%zz; keyward-session=%', 'keyward-session=; keyward-session=x', `Bearer ${'a'.repeat(9000)}`, 'bearer  x', 'Bearer eyJhbGciOiJub25lIn0.e30.',
  ),
  fc.string({ maxLength: 60 }),
);
// CONNECT, TRACE and TRACK are forbidden methods of the Fetch API: no Request can carry them.
const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'PROPFIND', 'QUERY');
const anyPath = fc.oneof(
  fc.constantFrom(...Object.values(PATHS), ...DISCOVERY, `${PATHS.register}/fuzz-public`, `${PATHS.register}/%2e%2e`, `${PATHS.register}/%zz`, `${PATHS.register}/a/b`, '/oauth/authorize/', '/OAUTH/TOKEN', '/', '/.well-known/', '/oauth/login/unknown'),
  fc.string({ maxLength: 20 }).map((text) => `/${encodeURIComponent(text)}`),
);
const pairs = fc.array(fc.tuple(fc.oneof(fc.constantFrom('client_id', 'redirect_uri', 'response_type', 'code', 'code_verifier', 'grant_type', 'scope', 'state', 'token', 'resource', 'client_secret', 'refresh_token', 'interaction', 'csrf', 'decision', 'username', 'password', 'prompt', 'nonce', 'code_challenge', 'code_challenge_method', 'client_assertion', 'client_assertion_type', 'redirect_uris', 'token_endpoint_auth_method', 'grant_types', 'jwks_uri', 'jwks'), fc.string({ maxLength: 10 })), nasty), { maxLength: 8 });

/** One change to one field of a valid request. */
export type Mutation =
  | { kind: 'dropField'; index: number }
  | { kind: 'repeatField'; index: number }
  | { kind: 'replaceValue'; index: number; value: string }
  | { kind: 'renameField'; index: number; name: string }
  | { kind: 'addField'; name: string; value: string }
  | { kind: 'method'; value: string }
  | { kind: 'path'; value: string }
  | { kind: 'dropHeader'; index: number }
  | { kind: 'setHeader'; name: string; value: string }
  | { kind: 'bodyKind'; to: 'form' | 'json' | 'raw' | 'none'; text: string }
  | { kind: 'query'; name: string; value: string }
  | { kind: 'none' };

export const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('dropField' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('repeatField' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('replaceValue' as const), index: fc.nat(), value: nasty }),
  fc.record({ kind: fc.constant('replaceValue' as const), index: fc.nat(), value: nasty }),
  fc.record({ kind: fc.constant('renameField' as const), index: fc.nat(), name: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('client_id', 'code', 'scope', 'state', 'resource', '__proto__')) }),
  fc.record({ kind: fc.constant('addField' as const), name: fc.constantFrom('client_id', 'client_secret', 'redirect_uri', 'scope', 'resource', 'code', 'prompt', 'request', 'request_uri', 'response_mode', 'max_age', 'nonce', 'client_assertion', 'redirect_uris', 'grant_types', 'jwks_uri', 'token_type_hint', '__proto__'), value: nasty }),
  fc.record({ kind: fc.constant('method' as const), value: method }),
  fc.record({ kind: fc.constant('path' as const), value: anyPath }),
  fc.record({ kind: fc.constant('dropHeader' as const), index: fc.nat() }),
  fc.record({ kind: fc.constant('setHeader' as const), name: headerName, value: headerValue }),
  fc.record({ kind: fc.constant('bodyKind' as const), to: fc.constantFrom('form' as const, 'json' as const, 'raw' as const, 'none' as const), text: fc.oneof(fc.string({ maxLength: 80 }), fc.json(), fc.constantFrom('{"a":1,"a":2}', '[', '{"grant_type":["a","b"]}', '{"grant_type":{"$ne":1}}', '\u0000', 'a=1&a=2')) }),
  fc.record({ kind: fc.constant('query' as const), name: fc.string({ maxLength: 10 }), value: nasty }),
  fc.constant({ kind: 'none' as const }),
);

/** Applies one mutation; a request keeps its model-relevant parts unless the mutation targets them. */
export function mutate(original: RequestSpec, change: Mutation): RequestSpec {
  const next: RequestSpec = structuredClone(original);
  const fields = next.body.kind === 'form' || next.body.kind === 'json' ? next.body.fields : next.query;
  const at = (index: number) => index % Math.max(fields.length, 1);
  switch (change.kind) {
    case 'dropField':
      if (fields.length) fields.splice(at(change.index), 1);
      break;
    case 'repeatField':
      if (fields.length) fields.push(structuredClone(fields[at(change.index)]!));
      break;
    case 'replaceValue':
      if (fields.length) fields[at(change.index)]![1] = change.value;
      break;
    case 'renameField':
      if (fields.length) fields[at(change.index)]![0] = change.name;
      break;
    case 'addField':
      fields.push([change.name, change.value]);
      break;
    case 'method':
      next.method = change.value;
      break;
    case 'path':
      next.path = change.value;
      break;
    case 'dropHeader':
      if (next.headers.length) next.headers.splice(change.index % next.headers.length, 1);
      break;
    case 'setHeader':
      next.headers = [...next.headers.filter(([name]) => name !== change.name), [change.name, change.value]];
      break;
    case 'bodyKind':
      if (change.to === 'raw') next.body = { kind: 'raw', text: change.text };
      else if (change.to === 'none') next.body = { kind: 'none' };
      else next.body = { kind: change.to, fields: next.body.kind === 'form' || next.body.kind === 'json' ? next.body.fields : next.query };
      break;
    case 'query':
      next.query.push([change.name, change.value]);
      break;
    case 'none':
      break;
  }
  return next;
}

/** A request with no valid request behind it. */
export const randomRequest: fc.Arbitrary<RequestSpec> = fc.record({
  method,
  path: anyPath,
  query: pairs,
  headers: fc.array(fc.tuple(headerName.filter((name) => name !== 'host' && name !== 'content-length' && name !== 'transfer-encoding'), headerValue), { maxLength: 4 }),
  body: fc.oneof(
    fc.constant({ kind: 'none' as const }),
    fc.record({ kind: fc.constantFrom('form' as const, 'json' as const), fields: pairs }),
    fc.record({ kind: fc.constant('raw' as const), text: fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 })) }),
  ),
  source: fc.constantFrom('198.51.100.7', '203.0.113.9', '2001:db8::1'),
});

/**
 * Seed and run counts. `pnpm test` runs a fixed seed, so CI is deterministic; FUZZ_SEED and FUZZ_RUNS
 * override both (`pnpm fuzz` draws a new seed for every release check).
 */
export function fuzzSettings(defaultRuns: number): { seed: number; runs: number; timeout: number } {
  const seed = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : 20261204;
  const runs = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : defaultRuns;
  // Generous per run (HTTP runs are the slow ones), never below the suite's usual limit.
  return { seed, runs, timeout: Math.max(60_000, runs * 150) };
}

/** Runs (a) valid-then-mutated, (b) random and (c) concurrent requests against `target`, asserting the properties. */
export async function fuzzEndpoints(
  target: Target,
  model: Model,
  options: { seed: number; runs: number; templates: Record<string, Template>; label: string },
): Promise<void> {
  const names = Object.keys(options.templates);
  const started = performance.now();
  console.log(
    `[fuzz ${options.label}] seed=${options.seed} runs=${options.runs} mutated + ${options.runs} random + ${Math.max(1, Math.floor(options.runs / 4))} concurrent bursts; ` +
      `replay with FUZZ_SEED=${options.seed} FUZZ_RUNS=${options.runs}`,
  );
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...names), mutation, fc.integer({ min: 1, max: 254 }).map((n) => `198.51.100.${n}`), async (name, change, source) => {
      const valid = await options.templates[name]!(target, model);
      if (!valid) return;
      await exchange(target, model, { ...mutate(valid, change), source });
    }),
    { seed: options.seed, numRuns: options.runs, endOnFailure: true },
  );
  await fc.assert(
    fc.asyncProperty(randomRequest, async (request) => {
      await exchange(target, model, request);
    }),
    { seed: options.seed + 1, numRuns: options.runs, endOnFailure: true },
  );
  // (c) Bursts: one valid request sent several times at once, some copies changed. Of concurrent
  // redemptions of one code or one refresh token at most one may earn a token; successes are checked
  // first, so a second success is what fails SEC-FUZZ-03 (not the order the answers happened to arrive in).
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...names), fc.array(fc.option(mutation, { freq: 2 }), { minLength: 2, maxLength: 8 }), async (name, changes) => {
      const valid = await options.templates[name]!(target, model);
      if (!valid) return;
      const requests = changes.map((change, index) => ({ ...(change ? mutate(valid, change) : valid), source: `192.0.2.${(index % 250) + 1}` }));
      const responses = await Promise.all(requests.map((request) => target.send(toRequest(request), request.source)));
      const order = responses.map((_, index) => index).sort((a, b) => Number(responses[a]!.status >= 400) - Number(responses[b]!.status >= 400));
      for (const index of order) await checkExchange(requests[index]!, responses[index]!, model);
    }),
    { seed: options.seed + 2, numRuns: Math.max(1, Math.floor(options.runs / 4)), endOnFailure: true },
  );
  const statuses = [...model.stats.byStatus].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(' ');
  console.log(
    `[fuzz ${options.label}] done: ${model.stats.requests} requests, ${model.stats.tokensIssued} tokens issued, ${model.stats.redirects} redirects, statuses ${statuses}; ${Math.round(performance.now() - started)} ms`,
  );
}
