import express, { type Express, type RequestHandler } from 'express';
import { AuthorizationServer, type AuthorizationServerOptions, type StaticClientOptions } from '@keyward/core';
import { keyward, requireBearerAuth } from '@keyward/express';
import { createDemoUser, DEMO_CLAIMS, loginRoutes } from './login.js';
import { createMcpHandler } from './mcp.js';
import { createStore } from './store.js';

export const SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin', 'openid', 'profile', 'email', 'offline_access'];
export const MCP_SCOPES = ['mcp:tools', 'mcp:resources', 'mcp:admin'];
export const PUBLIC_CLIENT_ID = 'mcp-public-client';
const DEFAULT_REDIRECT_URIS = 'http://localhost:8080/callback,http://127.0.0.1/callback,http://localhost:6274/oauth/callback';

/** The running example: the Express app, its authorization server, and what `server.ts` prints at start. */
export interface ExampleApp {
  app: Express;
  server: AuthorizationServer;
  issuer: string;
  mcpURL: string;
  demoPassword: { value: string; generated: boolean };
  warnings: string[];
  close(): Promise<void>;
}

/**
 * Clients configured in code, since dynamic registration is not there yet: the confidential client of
 * OAUTH_CLIENT_ID/OAUTH_CLIENT_SECRET (every grant, every scope) and a public PKCE client for MCP clients.
 */
function staticClients(env: NodeJS.ProcessEnv, redirectUris: string[]): StaticClientOptions[] {
  const clients: StaticClientOptions[] = [{ clientId: PUBLIC_CLIENT_ID, clientName: 'MCP public client', tokenEndpointAuthMethod: 'none', redirectUris }];
  const { OAUTH_CLIENT_ID: clientId, OAUTH_CLIENT_SECRET: clientSecret } = env;
  if (Boolean(clientId) !== Boolean(clientSecret)) throw new Error('set both OAUTH_CLIENT_ID and OAUTH_CLIENT_SECRET, or neither');
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
 * Builds the example MCP server from environment variables (see README.md) without listening, so tests
 * and `server.ts` share it.
 */
export async function createApp(env: NodeJS.ProcessEnv = process.env): Promise<ExampleApp> {
  // The issuer is used exactly as given (MCP clients compare it byte for byte); only derived URLs drop a
  // trailing slash, as core does for its endpoints.
  const issuer = env.OAUTH_ISSUER || `http://localhost:${env.PORT || '3009'}`;
  const base = issuer.replace(/\/$/, '');
  const mcpURL = `${base}/mcp`;
  const loginURL = `${base}/login`;
  const redirectUris = (env.OAUTH_REDIRECT_URIS || DEFAULT_REDIRECT_URIS).split(',').map((uri) => uri.trim()).filter(Boolean);
  const warnings: string[] = [];
  const demo = await createDemoUser(env);
  const store = await createStore(env);

  const options: AuthorizationServerOptions = {
    issuer,
    store,
    scopes: SCOPES,
    defaultScopes: ['mcp:tools'],
    resources: [{ resource: mcpURL, resourceName: 'Keyward example MCP server', scopes: MCP_SCOPES }],
    clients: staticClients(env, redirectUris),
    interaction: ({ interactionId }) =>
      new Response(null, { status: 303, headers: { location: `${loginURL}?interaction=${encodeURIComponent(interactionId)}`, 'cache-control': 'no-store' } }),
    onError: (error, request) => console.error(`[keyward] ${request.method} ${new URL(request.url).pathname} failed:`, error),
  };
  if (env.OAUTH_DEV_LOGIN) {
    const subject = env.OAUTH_DEV_LOGIN;
    options.devLogin = { subject, claims: subject === demo.user.username ? DEMO_CLAIMS : { preferred_username: subject } };
    warnings.push(`OAUTH_DEV_LOGIN: every authorization request is approved as "${subject}" without a login page`);
  }
  if (env.JWT_SECRET) {
    options.signing = { hmacSecret: env.JWT_SECRET };
    warnings.push('JWT_SECRET: access tokens are signed with HS256, so only this server can verify them; asymmetric keys (ES256, published at the JWKS endpoint) are the default and recommended');
  }
  const server = new AuthorizationServer(options);
  await server.ready();

  const mcp = createMcpHandler();
  const app = express();
  app.disable('x-powered-by');
  app.use(keyward(server));
  app.use(loginRoutes(server, demo.user, new URL(loginURL).pathname));
  const mcpPath = new URL(mcpURL).pathname;
  app.all(mcpPath, mcpCORS, requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] })), express.json({ limit: '1mb' }), mcp.handle);

  return {
    app,
    server,
    issuer,
    mcpURL,
    demoPassword: { value: demo.password, generated: demo.generated },
    warnings,
    close: async () => {
      await mcp.close();
      await store.close?.();
    },
  };
}
