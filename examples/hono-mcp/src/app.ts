import { Hono, type MiddlewareHandler } from 'hono';
import { cors } from 'hono/cors';
import { AuthorizationServer, keyEncryptionFromSecret, type AuthorizationServerOptions, type StaticClientOptions } from '@keyward/core';
import { randomToken } from '@keyward/core/protocol';
import { keywardRoutes, requireBearerAuth } from '@keyward/hono';
import { localUsers } from '@keyward/upstream';
import { createMcpHandler, jsonRPCBody, scopesForMessage } from './mcp.js';
import { ConfigError, createOperations, integerFrom, operationsConfig, type Operations } from './ops.js';
import { createStore } from './store.js';

export const SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
export const MCP_SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin'];
/**
 * The scopes of /mcp advertised in its RFC 9728 metadata: those any client may get. An MCP client that
 * authorizes before a challenge asks for all of them, and self-registered clients never get mcp:admin,
 * which admin_stats asks for in its 403 challenge instead.
 */
export const ADVERTISED_SCOPES = MCP_SCOPES.filter((scope) => scope !== 'mcp:admin');
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
export const DEMO_CLAIMS = { name: 'Demo User', preferred_username: 'demo', email: 'demo@example.com', email_verified: true };
const DEFAULT_PORT = '3011';
const DEFAULT_REDIRECT_URIS = 'http://localhost:8080/callback,http://127.0.0.1/callback,http://localhost:6274/oauth/callback';
/** Private-use redirect URI schemes of desktop MCP clients: Cursor (`cursor://…`) and VS Code (`vscode://…`). */
const REDIRECT_URI_SCHEMES = ['cursor', 'vscode'];

/** The running example: the Hono app, its authorization server, and what `server.ts` prints at start. */
export interface ExampleApp {
  app: Hono;
  server: AuthorizationServer;
  issuer: string;
  mcpURL: string;
  /** The store in use, e.g. `sqlite /…/data/keyward.db`. */
  store: string;
  /** The demo user's password; null with OAUTH_DEV_LOGIN, which has no login page. */
  demoPassword: { value: string; generated: boolean } | null;
  warnings: string[];
  /** Logs, metrics, probes, rate limits and proxies (see ops.ts). */
  operations: Operations;
  /** Closes the MCP sessions (ending their open streams) and the store; `server.ts` closes the listener. */
  close(): Promise<void>;
}

/**
 * Clients configured in code: the confidential client of OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET (every grant,
 * every scope) and a public PKCE client for MCP clients that do not register. Others register themselves
 * (POST /oauth/register) or use a client ID metadata document URL as their client_id.
 */
function staticClients(env: NodeJS.ProcessEnv, redirectUris: string[]): StaticClientOptions[] {
  const clients: StaticClientOptions[] = [{ clientId: PUBLIC_CLIENT_ID, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris }];
  const { OAUTH_CLIENT_ID: clientId, OAUTH_CLIENT_SECRET: clientSecret } = env;
  if (Boolean(clientId) !== Boolean(clientSecret)) throw new ConfigError(`${clientId ? 'OAUTH_CLIENT_ID is set but OAUTH_CLIENT_SECRET is not' : 'OAUTH_CLIENT_SECRET is set but OAUTH_CLIENT_ID is not'}: set both, or neither`);
  if (clientId && clientSecret) {
    clients.push({
      clientId,
      clientSecret,
      clientName: 'Confidential example client',
      // Basic first: it is what the client's metadata reports, and what clients assume by default (RFC 8414 §2).
      tokenEndpointAuthMethod: ['client_secret_basic', 'client_secret_post'],
      redirectUris,
      grantTypes: ['authorization_code', 'refresh_token', 'client_credentials'],
    });
  }
  return clients;
}

/** Browser-based MCP clients call /mcp cross-origin; they must be able to read the challenge and the session id. */
const mcpCORS = cors({
  origin: '*',
  allowMethods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
  allowHeaders: ['Authorization', 'Content-Type', 'Mcp-Session-Id', 'MCP-Protocol-Version'],
  exposeHeaders: ['WWW-Authenticate', 'Mcp-Session-Id'],
  maxAge: 86400,
});

const MCP_BODY_LIMIT = 1024 * 1024;
/** How much of an oversized body is still read before the 413; a larger one is refused unread. */
const MCP_BODY_DRAIN_LIMIT = 8 * MCP_BODY_LIMIT;

/**
 * The JSON-RPC bodies of /mcp are read (by the guard's scopesFor) before anything else; bound them first.
 *
 * An oversized body is read to its end (up to 8 MiB) before the 413 is sent, as Express's body-parser does.
 * Answering first and closing while the client is still sending makes this machine's TCP stack answer the
 * rest with a reset, and a reset can erase the 413 from the client's buffers before it is read
 * (RFC 9112 §9.6); Node closes at once whenever the client sent `Connection: close`.
 */
const mcpBodyLimit: MiddlewareHandler = async (c, next) => {
  const body = c.req.raw.body;
  if (!body) return next();
  const tooLarge = () => c.json({ jsonrpc: '2.0', error: { code: -32700, message: 'request body too large' }, id: null }, 413);
  if (Number(c.req.header('content-length')) > MCP_BODY_DRAIN_LIMIT) return tooLarge();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MCP_BODY_DRAIN_LIMIT) {
      await reader.cancel();
      break;
    }
    if (size <= MCP_BODY_LIMIT) chunks.push(value);
  }
  if (size > MCP_BODY_LIMIT) return tooLarge();
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  c.req.raw = new Request(c.req.raw, { body: bytes });
  return next();
};

/**
 * Builds the example MCP server from environment variables (see README.md) without listening, so tests
 * and `server.ts` share it.
 */
export async function createApp(env: NodeJS.ProcessEnv = process.env): Promise<ExampleApp> {
  // The issuer is used exactly as given (MCP clients compare it byte for byte); only derived URLs drop a
  // trailing slash, as core does for its endpoints.
  const issuer = env.OAUTH_ISSUER || `http://localhost:${env.PORT || DEFAULT_PORT}`;
  if (!/^https?:\/\//.test(issuer) || !URL.canParse(issuer)) throw new ConfigError(`OAUTH_ISSUER must be an absolute http(s) URL such as https://mcp.example.com, got "${issuer}"`);
  const mcpURL = `${issuer.replace(/\/$/, '')}/mcp`;
  const redirectUris = (env.OAUTH_REDIRECT_URIS || DEFAULT_REDIRECT_URIS).split(',').map((uri) => uri.trim()).filter(Boolean);
  const warnings: string[] = [];
  const operations = operationsFromEnv(env, issuer, mcpURL, warnings);
  const sessionTimeout = integerFrom(env, 'OAUTH_SESSION_TIMEOUT', 3600);

  const { store, description } = await createStore(env);
  try {
    const options: AuthorizationServerOptions = {
      issuer,
      store: operations.serverStore(store),
      scopes: SCOPES,
      defaultScopes: ['mcp:tools'],
      resources: [{ resource: mcpURL, resourceName: 'Keyward Hono example MCP server', scopes: ADVERTISED_SCOPES }],
      clients: staticClients(env, redirectUris),
      redirectUriSchemes: REDIRECT_URI_SCHEMES,
      // Self-registered clients never get mcp:admin: administration needs a client configured here.
      registration: { allowedScopes: SCOPES.filter((scope) => scope !== 'mcp:admin') },
      // An access token with mcp:admin may introspect any token.
      introspection: { bearerScope: 'mcp:admin' },
      onError: (error, request) => console.error(`[keyward] ${request.method} ${new URL(request.url).pathname} failed:`, error),
      ...operations.serverOptions(),
    };
    let demoPassword: ExampleApp['demoPassword'] = null;
    if (env.OAUTH_DEV_LOGIN) {
      const subject = env.OAUTH_DEV_LOGIN;
      options.devLogin = { subject, claims: subject === 'demo' ? DEMO_CLAIMS : { preferred_username: subject } };
      warnings.push(`OAUTH_DEV_LOGIN: every authorization request is approved as "${subject}" without a login page`);
    } else {
      demoPassword = { value: env.OAUTH_DEMO_PASSWORD || randomToken(12), generated: !env.OAUTH_DEMO_PASSWORD };
      // Core's login and consent pages (/oauth/login, /oauth/consent) with the one local account.
      options.login = { users: localUsers([{ username: 'demo', password: demoPassword.value, subject: 'demo', claims: DEMO_CLAIMS }]), sessionTimeout };
    }
    if (env.JWT_SECRET) {
      if (env.JWT_SECRET.length < 32) throw new ConfigError(`JWT_SECRET is too short (${env.JWT_SECRET.length} characters): use at least 32, e.g. openssl rand -base64 32`);
      options.signing = { hmacSecret: env.JWT_SECRET };
      warnings.push('JWT_SECRET: access tokens are signed with HS256, so only this server can verify them; asymmetric keys (ES256, published at the JWKS endpoint) are the default and recommended');
    }
    // KEYWARD_ENCRYPTION_SECRET seals the private signing keys before they reach the store; during a change
    // of secret, KEYWARD_PREVIOUS_ENCRYPTION_SECRET still opens the keys sealed with the old one.
    if (env.KEYWARD_ENCRYPTION_SECRET) {
      if (env.KEYWARD_ENCRYPTION_SECRET.length < 32) throw new ConfigError(`KEYWARD_ENCRYPTION_SECRET is too short (${env.KEYWARD_ENCRYPTION_SECRET.length} characters): use at least 32, e.g. openssl rand -base64 32`);
      const previousSecrets = env.KEYWARD_PREVIOUS_ENCRYPTION_SECRET ? [env.KEYWARD_PREVIOUS_ENCRYPTION_SECRET] : [];
      options.signing = { ...options.signing, keyEncryption: await keyEncryptionFromSecret(env.KEYWARD_ENCRYPTION_SECRET, { previousSecrets }) };
    }
    const server = new AuthorizationServer(options);
    // Loads (or, on the first start, creates) the signing keys: fails here if the store is unreachable.
    await server.ready();
    operations.attach(server);

    const mcp = createMcpHandler();
    const app = new Hono();
    mountOperations(app, operations);
    const { trustProxy } = operations.config;
    // Keyward's endpoints as routes of their own: requests for /mcp never pass through them.
    app.route('/', keywardRoutes(server, { trustProxy }));
    const guard = requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'], ...operations.guardOptions() }), {
      scopesFor: async (c) => scopesForMessage(await jsonRPCBody(c)),
      trustProxy,
    });
    const mcpPath = new URL(mcpURL).pathname;
    app.use(mcpPath, mcpCORS, mcpBodyLimit);
    app.on(['GET', 'POST', 'DELETE'], mcpPath, guard, mcp.handle);

    return {
      app,
      server,
      issuer,
      mcpURL,
      store: description,
      demoPassword,
      warnings,
      operations,
      close: async () => {
        await mcp.close();
        await store.close?.();
      },
    };
  } catch (error) {
    await store.close?.();
    throw error;
  }
}

// ---- Operations (logs, metrics, probes, rate limits, proxies): see ops.ts ----

/** Variables read by example 09 only: said at start rather than silently ignored. */
const PROVIDER_VARIABLES = ['FIREBASE_PROJECT_ID', 'FIREBASE_SERVICE_ACCOUNT_KEY', 'CLERK_PUBLISHABLE_KEY', 'CLERK_SECRET_KEY', 'SUPABASE_URL', 'AUTH0_DOMAIN', 'OIDC_ISSUER'];

/** Reads the operations variables; their notices join the start-up warnings. */
function operationsFromEnv(env: NodeJS.ProcessEnv, issuer: string, mcpURL: string, warnings: string[]): Operations {
  const config = operationsConfig(env, issuer);
  warnings.push(...config.notices);
  const providers = PROVIDER_VARIABLES.filter((name) => env[name]);
  if (providers.length) warnings.push(`${providers.join(', ')}: identity providers are wired in examples/09-oauth-pkce; this example signs in the demo user only`);
  return createOperations(env, config, new URL(mcpURL).pathname);
}

/**
 * First in the app: the request log (one line per request, path without its query string, where codes and
 * tokens travel) and /health, /ready, /metrics. For a stream the time is that of its headers.
 */
function mountOperations(app: Hono, operations: Operations): void {
  app.use(async (c, next) => {
    const started = performance.now();
    await next();
    operations.logRequest({ method: c.req.method, path: c.req.path, status: c.res.status, durationMs: performance.now() - started });
  });
  app.on(['GET', 'HEAD'], ['/health', '/ready', '/metrics'], async (c) => {
    const answer = await operations.handle(c.req.method, c.req.path, c.req.header('authorization'));
    if (!answer) return c.notFound();
    return c.body(answer.body, answer.status as 200, answer.headers);
  });
}
