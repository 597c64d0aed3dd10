import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AuthorizationServer, keyEncryptionFromSecret, type AuthorizationServerOptions, type StaticClientOptions } from '@keyward/core';
import { randomToken } from '@keyward/core/protocol';
import { keyward, requireBearerAuth } from '@keyward/fastify';
import { localUsers } from '@keyward/upstream';
import { createMcpHandler, scopesForMessage } from './mcp.js';
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
const DEFAULT_PORT = '3010';
const DEFAULT_REDIRECT_URIS = 'http://localhost:8080/callback,http://127.0.0.1/callback,http://localhost:6274/oauth/callback';
/** Private-use redirect URI schemes of desktop MCP clients: Cursor (`cursor://…`) and VS Code (`vscode://…`). */
const REDIRECT_URI_SCHEMES = ['cursor', 'vscode'];

/** The running example: the Fastify app, its authorization server, and what `server.ts` prints at start. */
export interface ExampleApp {
  app: FastifyInstance;
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
  /** Closes the app: MCP sessions first (their open streams would hold the listener), then the store. */
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
const MCP_CORS = { 'access-control-allow-origin': '*', 'access-control-expose-headers': 'WWW-Authenticate, Mcp-Session-Id' };
const MCP_PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, Mcp-Session-Id, MCP-Protocol-Version',
  'access-control-max-age': '86400',
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
      resources: [{ resource: mcpURL, resourceName: 'Keyward Fastify example MCP server', scopes: ADVERTISED_SCOPES }],
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
    const { trustProxy } = operations.config;
    // Fastify's own view of proxies (request.ip, request.protocol) agrees with Keyward's.
    const app = Fastify({ trustProxy: trustProxy ?? false });
    mountOperations(app, operations);
    await app.register(keyward, { server, trustProxy });

    const mcpPath = new URL(mcpURL).pathname;
    // On the Node response, so the headers also go out with the replies the MCP transport writes itself.
    const mcpCORS = async (_request: FastifyRequest, reply: FastifyReply) => {
      for (const [name, value] of Object.entries(MCP_CORS)) reply.raw.setHeader(name, value);
    };
    app.options(mcpPath, { onRequest: mcpCORS }, (_request, reply) => reply.code(204).headers(MCP_PREFLIGHT).send());
    app.route({
      method: ['GET', 'POST', 'DELETE'],
      url: mcpPath,
      onRequest: mcpCORS,
      // Fastify has parsed the JSON-RPC body by now, so scopesFor can see which tool is called.
      preHandler: requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'], ...operations.guardOptions() }), {
        scopesFor: (request) => scopesForMessage(request.body),
        trustProxy,
      }),
      handler: mcp.handle,
    });
    // Streams of server-sent events stay open until their session closes, and would hold app.close().
    app.addHook('preClose', () => mcp.close());

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
        await app.close();
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
 * tokens travel) and /health, /ready, /metrics. The log hangs on the Node response, so it also sees the
 * replies the MCP transport writes itself.
 */
function mountOperations(app: FastifyInstance, operations: Operations): void {
  app.addHook('onRequest', async (request, reply) => {
    const started = performance.now();
    reply.raw.once('close', () =>
      operations.logRequest({ method: request.method, path: request.url.split('?')[0]!, status: reply.raw.statusCode, durationMs: performance.now() - started }),
    );
  });
  for (const url of ['/health', '/ready', '/metrics']) {
    app.get(url, async (request, reply) => {
      const answer = await operations.handle(request.method, url, request.headers.authorization);
      if (!answer) return reply.callNotFound();
      return reply.code(answer.status).headers(answer.headers).send(answer.body);
    });
  }
}
