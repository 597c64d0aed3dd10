import { AuthorizationServer, type AuthorizationServerOptions, type PasswordAuthenticator } from '@keyward/core';
import { D1Store, type D1DatabaseLike } from '@keyward/store-d1';
import { handleMcp, scopesForMessage } from './mcp.js';

/** The Worker's bindings (wrangler.toml `[vars]`, secrets and `[[d1_databases]]`). */
export interface Env {
  /** The D1 database holding Keyward's clients, grants, codes, tokens and signing keys. */
  DB: D1DatabaseLike;
  /** The public URL of the Worker, e.g. https://mcp.example.com, compared byte for byte by MCP clients. */
  OAUTH_ISSUER: string;
  /** Local development only: approve every authorization as this user, with no login page. */
  OAUTH_DEV_LOGIN?: string;
  /** The demo user's password for the login page (a secret: `wrangler secret put OAUTH_DEMO_PASSWORD`). */
  OAUTH_DEMO_PASSWORD?: string;
  /** Comma-separated redirect URIs of the pre-registered public client. */
  OAUTH_REDIRECT_URIS?: string;
}

const SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
/** What clients that register themselves may have: everything but mcp:admin. */
const SELF_REGISTERED_SCOPES = SCOPES.filter((scope) => scope !== 'mcp:admin');
/**
 * The scopes of /mcp advertised in its RFC 9728 metadata: those any client may get (RFC 9728 §2 lets a
 * resource leave scopes out); mcp:admin is asked for by admin_stats's 403 challenge.
 */
const ADVERTISED_SCOPES = ['mcp:tools', 'mcp:resources'];
const PUBLIC_CLIENT_ID = 'mcp-public-client';
const DEFAULT_REDIRECT_URIS = 'http://localhost:8080/callback,http://127.0.0.1/callback,http://localhost:6274/oauth/callback';
const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };
const ADMIN_CLAIMS = { name: 'Admin User', preferred_username: 'admin', email: 'admin@example.com', email_verified: true };
/** Who may be granted mcp:admin: the example's stand-in for a directory Keyward asks at every authorization and refresh. */
const ADMINS = new Set(['admin']);
const MCP_BODY_LIMIT = 1024 * 1024;

/** The one account of the login page: `demo`, whose password is the OAUTH_DEMO_PASSWORD secret. */
function demoUser(password: string): PasswordAuthenticator {
  return {
    // Both sides are hashed first, so the comparison takes the same time whatever was typed.
    verify: async (username, attempt) =>
      username === 'demo' && timingSafeEqual(await digest(attempt), await digest(password)) ? { subject: 'demo', claims: DEMO_CLAIMS } : null,
  };
}

async function digest(value: string): Promise<string> {
  const bytes = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value)));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** Compares two SHA-256 hex digests (always the same length) without stopping at the first difference. */
function timingSafeEqual(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A JSON answer that no cache keeps. */
function jsonResponse(body: unknown, init: { status?: number; headers?: Record<string, string> } = {}): Response {
  return Response.json(body, { status: init.status ?? 200, headers: { 'cache-control': 'no-store', ...init.headers } });
}

/** The authorization server of this isolate, configured from the bindings. Throws on a configuration error. */
async function createServer(env: Env): Promise<AuthorizationServer> {
  const issuer = env.OAUTH_ISSUER;
  if (!issuer || !/^https?:\/\//.test(issuer) || !URL.canParse(issuer)) throw new Error(`OAUTH_ISSUER must be the Worker's absolute URL, e.g. https://mcp.example.com, got "${issuer ?? ''}"`);
  const mcpURL = `${issuer.replace(/\/$/, '')}/mcp`;
  const redirectUris = (env.OAUTH_REDIRECT_URIS || DEFAULT_REDIRECT_URIS).split(',').map((uri) => uri.trim()).filter(Boolean);
  const options: AuthorizationServerOptions = {
    issuer,
    store: new D1Store({ database: env.DB }),
    scopes: SCOPES,
    defaultScopes: ['mcp:tools'],
    // mcp:admin only for administrators, whatever the client asks; asked again at every refresh.
    grantableScopes: ({ subject, scopes }) => (ADMINS.has(subject) ? scopes : scopes.filter((scope) => scope !== 'mcp:admin')),
    resources: [{ resource: mcpURL, resourceName: 'Keyward example MCP server on Cloudflare Workers', scopes: ADVERTISED_SCOPES }],
    // Not `trusted`: any program can pose as a public native client on a loopback port, so the user is asked.
    clients: [{ clientId: PUBLIC_CLIENT_ID, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris }],
    redirectUriSchemes: ['cursor', 'vscode'],
    // Dynamic client registration is on; self-registered clients never get mcp:admin.
    registration: { allowedScopes: SELF_REGISTERED_SCOPES },
    introspection: { bearerScope: 'mcp:admin' },
    onError: (error, request) => console.error(`[keyward] ${request.method} ${new URL(request.url).pathname} failed:`, error),
  };
  if (env.OAUTH_DEV_LOGIN) {
    const subject = env.OAUTH_DEV_LOGIN;
    // Keyward refuses this unless the issuer is a loopback http URL: it cannot reach a deployed Worker.
    options.devLogin = { subject, claims: subject === 'demo' ? DEMO_CLAIMS : subject === 'admin' ? ADMIN_CLAIMS : { preferred_username: subject } };
  } else if (env.OAUTH_DEMO_PASSWORD) {
    options.login = { users: demoUser(env.OAUTH_DEMO_PASSWORD) };
  } else {
    throw new Error('set OAUTH_DEMO_PASSWORD (wrangler secret put OAUTH_DEMO_PASSWORD) for the login page, or OAUTH_DEV_LOGIN for local development');
  }
  const server = new AuthorizationServer(options);
  // Loads the signing keys from D1 (creating them on the very first request): once per isolate.
  await server.ready();
  return server;
}

let serverOfIsolate: Promise<AuthorizationServer> | undefined;

/** One server per isolate, built on its first request; a failure is retried by the next request. */
function serverFor(env: Env): Promise<AuthorizationServer> {
  serverOfIsolate ??= createServer(env).catch((error: unknown) => {
    serverOfIsolate = undefined;
    throw error;
  });
  return serverOfIsolate;
}

/** Browser-based MCP clients call /mcp cross-origin; they must be able to read the challenge and the session id. */
const MCP_CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id' };

function withCORS(response: Response): Response {
  const answer = new Response(response.body, response);
  for (const [name, value] of Object.entries(MCP_CORS)) answer.headers.set(name, value);
  return answer;
}

function jsonRPCError(status: number, code: number, message: string): Response {
  return jsonResponse({ jsonrpc: '2.0', error: { code, message }, id: null }, { status });
}

/** /mcp: the bearer guard (with the scopes the called tool needs), then the MCP server. */
async function mcp(request: Request, server: AuthorizationServer, clientAddress: string | undefined): Promise<Response> {
  if (request.method === 'OPTIONS') {
    return new Response(null, {
      status: 204,
      headers: {
        ...MCP_CORS,
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers': 'Authorization, Content-Type, Mcp-Session-Id, MCP-Protocol-Version',
        'access-control-max-age': '86400',
      },
    });
  }
  // The body is read before the guard only so that the guard can demand the scopes of the tool called.
  if (Number(request.headers.get('content-length')) > MCP_BODY_LIMIT) return withCORS(jsonRPCError(413, -32700, 'request body too large'));
  const text = request.method === 'POST' ? await request.text() : '';
  if (text.length > MCP_BODY_LIMIT) return withCORS(jsonRPCError(413, -32700, 'request body too large'));
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const replay = (): Request => new Request(request.url, { method: request.method, headers: request.headers, ...(request.method === 'POST' && { body: text }) });
  const guard = server.createGuard({ scopes: ['mcp:tools'] });
  const result = await guard.authenticate(replay(), { scopes: scopesForMessage(body), clientAddress });
  if (!result.ok) return withCORS(result.response);
  // The guard ran first, so an unauthenticated client gets its 401 even for a body that is not JSON.
  if (request.method === 'POST' && body === undefined) return withCORS(jsonRPCError(400, -32700, 'parse error'));
  return withCORS(await handleMcp(replay(), result.auth, body));
}

/**
 * The Worker: Keyward's OAuth endpoints (`server.fetch`), and the MCP server at /mcp behind the bearer guard.
 * A Cron Trigger purges expired rows from D1.
 */
export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    let server: AuthorizationServer;
    try {
      server = await serverFor(env);
    } catch (error) {
      console.error('[example] the authorization server could not start:', error);
      return jsonResponse({ error: 'temporarily_unavailable', error_description: 'the server is not configured or its database is unreachable' }, { status: 503, headers: { 'retry-after': '5' } });
    }
    // Set by Cloudflare's edge (and by Miniflare), never by the client: the address per-source limits count.
    const clientAddress = request.headers.get('cf-connecting-ip') ?? undefined;
    const { pathname } = new URL(request.url);
    if (pathname === new URL(server.issuer).pathname.replace(/\/$/, '') + '/mcp') return mcp(request, server, clientAddress);
    return server.fetch(request, { clientAddress });
  },

  async scheduled(_controller: unknown, env: Env): Promise<void> {
    await new D1Store({ database: env.DB }).purgeExpired();
  },
};
