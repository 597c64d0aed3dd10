import { readFileSync } from 'node:fs';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import { AuthorizationServer, keyEncryptionFromSecret, type AuthInfo, type AuthorizationServerOptions, type StaticClientOptions } from '@keyward/core';
import { keyward, requireBearerAuth } from '@keyward/express';
import { createMcpHandler, scopesForToolCall } from './mcp.js';
import { localhostHostValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import { ConfigError, createOperations, operationsConfig, type Operations } from './ops.js';
import { createStore } from './store.js';
import { loginPagesWith, signInPage, type TokenSignInPage } from './sign-in.js';
import { upstreamLogin, type UpstreamLogin } from './upstream.js';
import { ADMIN_CLAIMS, ADMIN_ROLE, DEMO_CLAIMS, exampleRoles, exampleUsers, type ExamplePassword } from './users.js';

export const SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
export const MCP_SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin'];
/** What clients that register themselves (or publish a metadata document) may have: everything but mcp:admin. */
export const SELF_REGISTERED_SCOPES = SCOPES.filter((scope) => scope !== 'mcp:admin');
/**
 * The scopes of /mcp advertised in its RFC 9728 metadata: those any client may get. An MCP client that
 * authorizes before any challenge asks for all of `scopes_supported` (MCP scope selection strategy; the SDK's
 * `auth()` also registers with them), so advertising mcp:admin would make every self-registered client fail.
 * RFC 9728 §2 lets a resource leave scopes out; mcp:admin is asked for by admin_stats's 403 challenge.
 */
export const ADVERTISED_SCOPES = MCP_SCOPES.filter((scope) => SELF_REGISTERED_SCOPES.includes(scope));
/** Scopes a user may grant only with the admin role. */
export const ADMIN_SCOPES = ['mcp:admin'];
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
const DEFAULT_REDIRECT_URIS = 'http://localhost:8080/callback,http://127.0.0.1/callback,http://localhost:6274/oauth/callback';
/** Private-use redirect URI schemes of desktop MCP clients: Cursor (`cursor://…`) and VS Code (`vscode://…`). */
const REDIRECT_URI_SCHEMES = ['cursor', 'vscode'];

/** The running example: the Express app, its authorization server, and what `server.ts` prints at start. */
export interface ExampleApp {
  app: Express;
  server: AuthorizationServer;
  issuer: string;
  mcpURL: string;
  /** The store in use, e.g. `sqlite /…/data/keyward.db`. */
  store: string;
  /** The demo user's password; null with OAUTH_DEV_LOGIN, which has no login page. */
  demoPassword: ExamplePassword | null;
  /** The admin user's password; null with OAUTH_DEV_LOGIN. */
  adminPassword: ExamplePassword | null;
  /** Roles by subject (`admin` → `admin`), asked at every authorization and refresh; change them at run time. */
  roles: Map<string, Set<string>>;
  /** Identity providers on the login page (AUTH0_*, OIDC_*), with the callback URL to register at each. */
  loginProviders: UpstreamLogin['callbacks'];
  /** Sign-in pages of token providers (FIREBASE_*, CLERK_*, SUPABASE_*): `/login/<id>`. */
  signInPages: { id: string; displayName: string; url: string }[];
  warnings: string[];
  /** Logs, metrics, probes, rate limits and proxies (see ops.ts). */
  operations: Operations;
  close(): Promise<void>;
}

/**
 * Clients configured in code: the confidential client of OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET (every grant,
 * every scope, and introspection of any token) and a public PKCE client for MCP clients that do not
 * register. Others register themselves (POST /oauth/register) or use a client ID metadata document URL as
 * their client_id.
 */
function staticClients(env: NodeJS.ProcessEnv, redirectUris: string[]): StaticClientOptions[] {
  // Not `trusted`: any program on the user's machine can pose as a public native client on a loopback port,
  // so the user is asked every time instead of being approved silently from an earlier consent.
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
      // The server's administrative client, e.g. for a resource server that checks tokens by introspection.
      introspection: 'all',
    });
  }
  return clients;
}

/** A whole number of seconds (or a count) from the environment, or a clear error at start. */
function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number, { min = 1, integer = true } = {}): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new ConfigError(`${name} must be ${integer ? 'a whole number' : 'a number'} ≥ ${min}, got "${raw}"`);
  }
  return value;
}

/** Browser-based MCP clients call /mcp cross-origin; they must be able to read the challenge and the session id. */
const mcpCORS: RequestHandler = (req, res, next) => {
  res.set({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id' });
  if (req.method !== 'OPTIONS') return next();
  res
    .status(204)
    .set({
      'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
      'access-control-allow-headers': 'Authorization, Content-Type, Mcp-Session-Id, MCP-Protocol-Version',
      'access-control-max-age': '86400',
    })
    .end();
};

/**
 * express.json() for /mcp, before the guard so `scopesFor` can read the JSON-RPC body. A body that is not
 * JSON is not answered here: the guard still runs first (an unauthenticated client gets its 401, not a parse
 * error), and {@link rejectUnparsedBody} answers it afterwards.
 */
function parseJSONBody(): RequestHandler {
  const parse = express.json({ limit: '1mb' });
  return (req, res, next) =>
    parse(req, res, (error?: unknown) => {
      if (error) res.locals.bodyError = error;
      next();
    });
}

const rejectUnparsedBody: RequestHandler = (_req, res, next) => {
  const error = res.locals.bodyError as { status?: number } | undefined;
  if (!error) return next();
  const status = error.status === 413 ? 413 : 400;
  res.status(status).json({ jsonrpc: '2.0', error: { code: -32700, message: status === 413 ? 'request body too large' : 'parse error' }, id: null });
};

/** The last word on anything unexpected: logged here, a generic JSON answer there, never a stack trace. */
const errorHandler: ErrorRequestHandler = (error: { status?: number; expose?: boolean; message?: string }, req, res, _next) => {
  const status = typeof error.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
  if (status === 500) console.error(`[example] ${req.method} ${req.path} failed:`, error);
  if (res.headersSent) return void res.end();
  res.status(status).json({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: status === 500 ? 'the server could not complete the request' : error.expose ? error.message : 'bad request' });
};

/**
 * Builds the example MCP server from environment variables (see README.md) without listening, so tests
 * and `server.ts` share it.
 */
export async function createApp(env: NodeJS.ProcessEnv = process.env): Promise<ExampleApp> {
  // The issuer is used exactly as given (MCP clients compare it byte for byte); only derived URLs drop a
  // trailing slash, as core does for its endpoints.
  const issuer = env.OAUTH_ISSUER || `http://localhost:${env.PORT || '3009'}`;
  if (!/^https?:\/\//.test(issuer) || !URL.canParse(issuer)) throw new ConfigError(`OAUTH_ISSUER must be an absolute http(s) URL such as https://mcp.example.com, got "${issuer}"`);
  const base = issuer.replace(/\/$/, '');
  const mcpURL = `${base}/mcp`;
  const redirectUris = (env.OAUTH_REDIRECT_URIS || DEFAULT_REDIRECT_URIS).split(',').map((uri) => uri.trim()).filter(Boolean);
  const warnings: string[] = [];
  const operations = operationsFromEnv(env, issuer, mcpURL, warnings);
  const sessionTimeout = numberFrom(env, 'OAUTH_SESSION_TIMEOUT', 3600);
  const registrationLimit = numberFrom(env, 'OAUTH_REGISTRATION_RATE_LIMIT', 20, { min: 0 });
  const reuseGrace = numberFrom(env, 'OAUTH_REFRESH_REUSE_GRACE_SECONDS', 2, { min: 0, integer: false });
  const documents: Exclude<AuthorizationServerOptions['clientIdMetadataDocuments'], false | undefined> = {};
  if (env.OAUTH_CIMD_ALLOW_PRIVATE_HOSTS) {
    documents.allowPrivateHosts = env.OAUTH_CIMD_ALLOW_PRIVATE_HOSTS.split(',').map((host) => host.trim()).filter(Boolean);
    warnings.push(`OAUTH_CIMD_ALLOW_PRIVATE_HOSTS: client ID metadata documents may be fetched from private addresses of ${documents.allowPrivateHosts.join(', ')} (development and testing only)`);
  }
  if (env.OAUTH_CIMD_CA_FILE) {
    try {
      documents.ca = readFileSync(env.OAUTH_CIMD_CA_FILE, 'utf8');
    } catch {
      throw new ConfigError(`OAUTH_CIMD_CA_FILE: cannot read ${env.OAUTH_CIMD_CA_FILE}`);
    }
    warnings.push(`OAUTH_CIMD_CA_FILE: client ID metadata documents are also trusted when signed by ${env.OAUTH_CIMD_CA_FILE} (development and testing only)`);
  }
  // Read before the store opens, so a half-configured provider fails at once.
  const upstream = upstreamLogin(env, base);

  const { store, description } = await createStore(env);
  const roles = exampleRoles();
  try {
    const options: AuthorizationServerOptions = {
      issuer,
      store: operations.serverStore(store),
      scopes: SCOPES,
      defaultScopes: ['mcp:tools'],
      // Scopes belong to users too: mcp:admin only for users with the admin role, whatever the client asks.
      // Asked before the consent page (which lists only what will be granted) and at every refresh.
      grantableScopes: ({ subject, scopes }) =>
        roles.get(subject)?.has(ADMIN_ROLE) ? scopes : scopes.filter((scope) => !ADMIN_SCOPES.includes(scope)),
      resources: [{ resource: mcpURL, resourceName: 'Keyward example MCP server', scopes: ADVERTISED_SCOPES }],
      clients: staticClients(env, redirectUris),
      redirectUriSchemes: REDIRECT_URI_SCHEMES,
      // Dynamic client registration is on by default. Self-registered clients (and metadata-document
      // clients) never get mcp:admin: administration needs a client configured here.
      registration: {
        rateLimit: registrationLimit ? { max: registrationLimit, windowSeconds: 60 } : false,
        allowedScopes: SELF_REGISTERED_SCOPES,
      },
      // The brief's `Authorization: Bearer <admin token>`: an access token with mcp:admin may introspect any token.
      introspection: { bearerScope: 'mcp:admin' },
      clientIdMetadataDocuments: documents,
      refreshTokenReuseGraceSeconds: reuseGrace,
      onError: (error, request) => console.error(`[keyward] ${request.method} ${new URL(request.url).pathname} failed:`, error),
      ...operations.serverOptions(),
    };
    let demoPassword: ExampleApp['demoPassword'] = null;
    let adminPassword: ExampleApp['adminPassword'] = null;
    let loginProviders: ExampleApp['loginProviders'] = [];
    let signInPages: TokenSignInPage[] = [];
    if (env.OAUTH_DEV_LOGIN) {
      const subject = env.OAUTH_DEV_LOGIN;
      options.devLogin = { subject, claims: subject === 'demo' ? DEMO_CLAIMS : subject === 'admin' ? ADMIN_CLAIMS : { preferred_username: subject } };
      // Roles still apply: only OAUTH_DEV_LOGIN=admin gets mcp:admin.
      warnings.push(`OAUTH_DEV_LOGIN: every authorization request of every client is approved as "${subject}" without a login page, so any program on this machine can get its tokens (development only)`);
      if (upstream.providers.length) warnings.push(`OAUTH_DEV_LOGIN: the identity providers (${upstream.callbacks.map((p) => p.displayName).join(', ')}) are not used: there is no login page`);
    } else {
      const accounts = exampleUsers(env);
      // Core's login and consent pages (/oauth/login, /oauth/consent): the example user's password form, and a
      // button per identity provider. Core refuses an encryption secret shorter than 32 characters.
      options.login = {
        users: accounts.users,
        sessionTimeout,
        providers: upstream.providers,
        ...(upstream.tokenPages.length > 0 && { pages: loginPagesWith(upstream.tokenPages, base) }),
        ...(upstream.encryptionSecret !== undefined && { encryptionSecret: upstream.encryptionSecret }),
      };
      demoPassword = accounts.demo;
      adminPassword = accounts.admin;
      loginProviders = upstream.callbacks;
      signInPages = upstream.tokenPages;
      warnings.push(...upstream.warnings);
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
    const app = express();
    app.disable('x-powered-by');
    mountOperations(app, operations);
    const { trustProxy } = operations.config;
    app.use(keyward(server, { trustProxy }));
    const guard = requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'], ...operations.guardOptions() }), { scopesFor: scopesForToolCall, trustProxy });
    // The body is parsed before the guard only so that scopesFor can see which tool is called.
    app.all(new URL(mcpURL).pathname, mcpCORS, parseJSONBody(), guard, rejectUnparsedBody, mcp.handle);
    mountSignInPages(app, signInPages, base);
    const open = openTestRoute(env, issuer, app, warnings);
    app.use(errorHandler);

    // Expired rows are already invisible; purging only frees the space. Once an hour is plenty, and one
    // instance doing it is enough (it is harmless when several do).
    const purge = setInterval(() => void store.purgeExpired().catch(() => undefined), 60 * 60 * 1000).unref();

    return {
      app,
      server,
      issuer,
      mcpURL,
      store: description,
      demoPassword,
      adminPassword,
      roles,
      loginProviders,
      signInPages: signInPages.map(({ id, displayName }) => ({ id, displayName, url: `${base}/login/${id}` })),
      warnings,
      operations,
      close: async () => {
        clearInterval(purge);
        await mcp.close();
        await open?.close();
        await store.close?.();
      },
    };
  } catch (error) {
    await store.close?.();
    throw error;
  }
}

// ---- Operations (logs, metrics, probes, rate limits, proxies): see ops.ts ----

/** Reads the operations variables; their notices join the start-up warnings. */
function operationsFromEnv(env: NodeJS.ProcessEnv, issuer: string, mcpURL: string, warnings: string[]): Operations {
  const config = operationsConfig(env, issuer);
  warnings.push(...config.notices);
  return createOperations(env, config, new URL(mcpURL).pathname);
}

/**
 * First in the app: the request log (one line per request, path without its query string, where codes and
 * tokens travel), /health, /ready and /metrics, and Express's own view of proxies (TRUST_PROXY), so `req.ip`
 * and `req.protocol` agree with Keyward's.
 */
function mountOperations(app: Express, operations: Operations): void {
  app.set('trust proxy', operations.config.trustProxy ?? false);
  app.use((req, res, next) => {
    const started = performance.now();
    res.once('close', () => operations.logRequest({ method: req.method, path: req.path, status: res.statusCode, durationMs: performance.now() - started }));
    next();
  });
  app.use((req, res, next) => {
    operations
      .handle(req.method, req.path, req.get('authorization'))
      .then((answer) => (answer ? void res.status(answer.status).set(answer.headers).send(answer.body) : next()), next);
  });
}

// ---- end of operations ----

// ---- Sign-in pages of token providers (Firebase, Clerk, Supabase): see sign-in.ts ----

/** `/login/<provider>`: the page that runs a token provider's browser SDK (see sign-in.ts). */
function mountSignInPages(app: Express, pages: TokenSignInPage[], base: string): void {
  for (const page of pages) {
    app.get(`/login/${page.id}`, (req, res) => {
      const { html, headers } = signInPage(page, base, req.query);
      res.status(200).set(headers).send(html);
    });
  }
}

// ---- end of sign-in pages ----

/** Who calls the unauthenticated test route: nobody in particular, with no scopes. */
const ANONYMOUS: AuthInfo = { token: '', clientId: 'anonymous', scopes: [], extra: { subject: 'anonymous', claims: {} } };

/**
 * MCP_UNAUTHENTICATED_TEST_ROUTE=/mcp-open serves the same MCP server without a token, for the MCP
 * conformance suite's `server` scenarios. Development only: refused unless the issuer is loopback http, and
 * guarded against DNS rebinding by accepting only localhost Host headers.
 */
function openTestRoute(env: NodeJS.ProcessEnv, issuer: string, app: Express, warnings: string[]): { close(): Promise<void> } | undefined {
  const path = env.MCP_UNAUTHENTICATED_TEST_ROUTE;
  if (!path) return undefined;
  if (!/^http:\/\/(localhost|127\.0\.0\.1|\[::1\])(:\d+)?(\/|$)/.test(issuer) || !path.startsWith('/')) {
    throw new ConfigError('MCP_UNAUTHENTICATED_TEST_ROUTE is for local testing only: it needs a loopback http OAUTH_ISSUER and a path');
  }
  const open = createMcpHandler();
  const anonymous: RequestHandler = (req, _res, next) => {
    req.auth = ANONYMOUS;
    next();
  };
  app.all(path, localhostHostValidation(), express.json({ limit: '1mb' }), anonymous, open.handle);
  warnings.push(`MCP_UNAUTHENTICATED_TEST_ROUTE: ${path} serves MCP without a token (local conformance testing only)`);
  return open;
}
