/**
 * The MCP SDK (v1) authorization server on Express, configured as its documentation shows: `mcpAuthRouter`
 * with a minimal in-memory `OAuthServerProvider` that approves every authorization request at once (as
 * Keyward's development login does) and issues ES256 JWT access tokens with jose, plus `requireBearerAuth`
 * on `GET /guarded` with a jose verifier. The router's rate limits are off, as Keyward's registration limit
 * is in its bench server: both are measured without them. `mcp-sdk.ts express <port>`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import express, { type RequestHandler, type Response } from 'express';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import type { OAuthRegisteredClientsStore } from '@modelcontextprotocol/sdk/server/auth/clients.js';
import type { AuthorizationParams, OAuthServerProvider } from '@modelcontextprotocol/sdk/server/auth/provider.js';
import { getOAuthProtectedResourceMetadataUrl, mcpAuthRouter } from '@modelcontextprotocol/sdk/server/auth/router.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import type { OAuthClientInformationFull, OAuthTokens } from '@modelcontextprotocol/sdk/shared/auth.js';
import { announceReady, HELLO, PUBLIC_CLIENT_ID, REDIRECT_URI, SCOPE, serverArgs } from './common.js';

// Loaded by a computed name so its types stay out of the workspace typecheck: the SDK declares its own
// `req.auth` on Express's Request, which collides with the one @keyward/express declares.
const bearerAuthModule = '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
const { requireBearerAuth } = (await import(bearerAuthModule)) as {
  requireBearerAuth: (options: { verifier: OAuthServerProvider; requiredScopes?: string[]; resourceMetadataUrl?: string }) => RequestHandler;
};

const { port, issuer, resource } = serverArgs();
const { privateKey, publicKey } = await generateKeyPair('ES256');
const kid = (await exportJWK(publicKey)).x!.slice(0, 8);
const ACCESS_TOKEN_SECONDS = 3600;
const CODE_MS = 15 * 60_000;

class Clients implements OAuthRegisteredClientsStore {
  readonly #clients = new Map<string, OAuthClientInformationFull>();
  getClient(clientId: string) {
    return this.#clients.get(clientId);
  }
  registerClient(client: OAuthClientInformationFull) {
    this.#clients.set(client.client_id, client);
    return client;
  }
}

interface PendingCode {
  clientId: string;
  params: AuthorizationParams;
  expiresAt: number;
}

class BenchProvider implements OAuthServerProvider {
  readonly clientsStore = new Clients();
  readonly #codes = new Map<string, PendingCode>();
  readonly #refreshTokens = new Map<string, { clientId: string; scopes: string[]; resource?: string }>();

  async authorize(client: OAuthClientInformationFull, params: AuthorizationParams, res: Response): Promise<void> {
    const code = randomBytes(32).toString('base64url');
    this.#codes.set(code, { clientId: client.client_id, params, expiresAt: Date.now() + CODE_MS });
    const target = new URL(params.redirectUri);
    target.searchParams.set('code', code);
    if (params.state !== undefined) target.searchParams.set('state', params.state);
    res.redirect(302, target.href);
  }

  async challengeForAuthorizationCode(client: OAuthClientInformationFull, code: string): Promise<string> {
    const pending = this.#codes.get(code);
    if (!pending || pending.clientId !== client.client_id) throw new Error('invalid authorization code');
    return pending.params.codeChallenge;
  }

  async exchangeAuthorizationCode(client: OAuthClientInformationFull, code: string, _verifier?: string, redirectUri?: string): Promise<OAuthTokens> {
    const pending = this.#codes.get(code);
    this.#codes.delete(code);
    if (!pending || pending.clientId !== client.client_id || pending.expiresAt < Date.now()) throw new Error('invalid authorization code');
    if (redirectUri !== undefined && redirectUri !== pending.params.redirectUri) throw new Error('redirect_uri mismatch');
    const scopes = pending.params.scopes?.length ? pending.params.scopes : [SCOPE];
    const audience = pending.params.resource?.href ?? resource;
    const tokens: OAuthTokens = { access_token: await this.#sign(client.client_id, 'bench-user', scopes, audience), token_type: 'Bearer', expires_in: ACCESS_TOKEN_SECONDS, scope: scopes.join(' ') };
    // Keyward issues a refresh token to a client allowed the refresh_token grant; so does this provider.
    if (client.grant_types?.includes('refresh_token')) {
      tokens.refresh_token = randomBytes(32).toString('base64url');
      this.#refreshTokens.set(tokens.refresh_token, { clientId: client.client_id, scopes, resource: audience });
    }
    return tokens;
  }

  async exchangeRefreshToken(): Promise<OAuthTokens> {
    throw new Error('not measured');
  }

  async verifyAccessToken(token: string): Promise<AuthInfo> {
    const { payload } = await jwtVerify(token, publicKey, { issuer, audience: resource, algorithms: ['ES256'], typ: 'at+jwt' });
    return {
      token,
      clientId: String(payload.client_id),
      scopes: typeof payload.scope === 'string' ? payload.scope.split(' ') : [],
      expiresAt: payload.exp!,
      resource: new URL(resource),
    };
  }

  #sign(clientId: string, subject: string, scopes: string[], audience: string): Promise<string> {
    return new SignJWT({ client_id: clientId, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${ACCESS_TOKEN_SECONDS}s`)
      .setJti(randomUUID())
      .sign(privateKey);
  }
}

const provider = new BenchProvider();
provider.clientsStore.registerClient({
  client_id: PUBLIC_CLIENT_ID,
  client_id_issued_at: Math.floor(Date.now() / 1000),
  redirect_uris: [REDIRECT_URI],
  token_endpoint_auth_method: 'none',
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
});

const app = express();
app.use(
  mcpAuthRouter({
    provider,
    issuerUrl: new URL(issuer),
    scopesSupported: [SCOPE],
    resourceServerUrl: new URL(resource),
    authorizationOptions: { rateLimit: false },
    tokenOptions: { rateLimit: false },
    clientRegistrationOptions: { rateLimit: false },
    revocationOptions: { rateLimit: false },
  }),
);
app.get('/guarded', requireBearerAuth({ verifier: provider, requiredScopes: [SCOPE], resourceMetadataUrl: getOAuthProtectedResourceMetadataUrl(new URL(resource)) }), (_req, res) => void res.json(HELLO));
await new Promise<void>((resolve) => app.listen(port, '127.0.0.1', () => resolve()));
announceReady();
