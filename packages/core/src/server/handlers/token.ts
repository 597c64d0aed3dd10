import { authenticateClient } from '../client-auth.js';
import type { ServerContext } from '../context.js';
import { revokeGrant } from '../grants.js';
import { randomToken, sha256 } from '../../protocol/crypto.js';
import { OAuthError } from '../../protocol/errors.js';
import { readBodyParams, type RequestParams } from '../../protocol/http.js';
import { jsonReply, type Reply } from '../../protocol/reply.js';
import { isValidPKCEValue, verifyPKCE } from '../../protocol/pkce.js';
import { checkResourceIndicator } from '../../protocol/resource.js';
import { formatScope, isScopeSubset, parseScope } from '../../protocol/scope.js';
import type { ClientRecord, GrantRecord, RefreshTokenRecord } from '../../store/store.js';
import { issueAccessToken, issueIDToken } from '../tokens.js';
import { claimsForScopes } from './userinfo.js';

/** The JSON members of a successful token response (OAuth 2.1 §3.2.3), in wire format. */
export interface TokenEndpointResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope?: string;
  refresh_token?: string;
  id_token?: string;
}

function invalidGrant(description: string): OAuthError {
  return new OAuthError('invalid_grant', { description });
}

/** RFC 8707 §2.2: the token request may narrow the resources of the grant, never widen them. */
function selectAudience(params: RequestParams, granted: string[]): string[] {
  const requested = params.getAll('resource');
  for (const resource of requested) {
    const problem = checkResourceIndicator(resource);
    if (problem) throw new OAuthError('invalid_target', { description: problem });
  }
  if (!requested.length) return granted;
  const outside = requested.filter((resource) => !granted.includes(resource));
  if (outside.length) throw new OAuthError('invalid_target', { description: `resource not granted: ${outside.join(' ')}` });
  return requested;
}

async function activeGrant(ctx: ServerContext, grantId: string): Promise<GrantRecord> {
  return assertActive(ctx, await ctx.store.getGrant(grantId));
}

function assertActive(ctx: ServerContext, grant: GrantRecord | null): GrantRecord {
  if (!grant || grant.revokedAt !== undefined || grant.expiresAt <= ctx.clock()) throw invalidGrant('the grant has been revoked or has expired');
  return grant;
}

async function newRefreshToken(ctx: ServerContext, from: Omit<RefreshTokenRecord, 'tokenHash' | 'createdAt' | 'expiresAt' | 'rotatedAt'>, grant: GrantRecord) {
  const token = randomToken();
  const now = ctx.clock();
  const record: RefreshTokenRecord = {
    ...from,
    tokenHash: await sha256(token),
    createdAt: now,
    expiresAt: Math.min(now + ctx.ttl.refreshToken * 1000, grant.expiresAt),
  };
  return { token, record };
}

async function tokenResponse(
  ctx: ServerContext,
  input: {
    client: ClientRecord;
    grant: GrantRecord;
    scopes: string[];
    audience: string[];
    requestedScopes?: string[] | undefined;
    refreshToken?: string | undefined;
    nonce?: string | undefined;
    withIDToken: boolean;
  },
): Promise<Reply> {
  const { client, grant, scopes, audience } = input;
  const access = await issueAccessToken(ctx, { subject: grant.subject, clientId: client.clientId, scopes, audience, grantId: grant.grantId });
  const body: TokenEndpointResponse = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn };
  // OAuth 2.1 §3.2.3: scope is required when it differs from the request; always sending it is simpler for clients.
  if (scopes.length) body.scope = formatScope(scopes);
  if (input.refreshToken) body.refresh_token = input.refreshToken;
  if (input.withIDToken && scopes.includes('openid')) {
    body.id_token = await issueIDToken(ctx, {
      subject: grant.subject,
      clientId: client.clientId,
      nonce: input.nonce,
      authTime: grant.authTime,
      claims: claimsForScopes(grant.claims, scopes),
      accessToken: access.token,
    });
  }
  return jsonReply(body);
}

async function authorizationCodeGrant(ctx: ServerContext, params: RequestParams, client: ClientRecord, request: Request): Promise<Reply> {
  const code = params.get('code');
  if (code === undefined) throw new OAuthError('invalid_request', { description: 'code is required' });
  const verifier = params.get('code_verifier');
  const redirectUri = params.get('redirect_uri');

  const codeHash = await sha256(code);
  const record = await ctx.store.getAuthorizationCode(codeHash);
  if (!record) throw invalidGrant('the authorization code is invalid or has expired');
  // Everything the caller sent is checked before the code is spent: a failed attempt (wrong verifier,
  // another client) must neither burn the code nor revoke the grant (OAuth 2.1 §7.5.2, a denial of service).
  if (record.clientId !== client.clientId) throw invalidGrant('the authorization code was issued to another client');
  if (record.expiresAt <= ctx.clock()) throw invalidGrant('the authorization code has expired');
  if (redirectUri !== undefined && redirectUri !== record.redirectUri) throw invalidGrant('redirect_uri does not match the authorization request');
  if (record.codeChallenge === undefined) {
    // RFC 9700 §4.8.2: a verifier for a code issued without a challenge is a downgrade attempt.
    if (verifier !== undefined) throw new OAuthError('invalid_request', { description: 'code_verifier sent for a code issued without PKCE' });
  } else {
    if (verifier === undefined) throw invalidGrant('code_verifier is required');
    if (!isValidPKCEValue(verifier)) throw new OAuthError('invalid_request', { description: 'code_verifier must be 43-128 characters of [A-Za-z0-9-._~]' });
    if (!(await verifyPKCE(verifier, record.codeChallenge))) throw invalidGrant('code_verifier does not match the code_challenge');
  }

  // The grant is read before the code is spent, leaving as little as possible to fail between spending it
  // and answering: a retry after such a failure would count as a replay. It is also read before any
  // concurrent replay can revoke it, so of N parallel redemptions exactly one succeeds; that
  // replay then revokes the winner's tokens too (RFC 9700 §4.2.4).
  const grantAtConsume = await ctx.store.getGrant(record.grantId);
  const consumed = await ctx.store.consumeAuthorizationCode(codeHash);
  if (!consumed) throw invalidGrant('the authorization code is invalid or has expired');
  if (!consumed.firstUse) {
    // RFC 9700 §4.2.4: a valid second redemption means the code leaked; everything issued from it goes.
    await revokeGrant(ctx, record.grantId);
    ctx.emit?.({ type: 'code.replayed', clientId: client.clientId, subject: record.subject, grantId: record.grantId }, request);
    throw invalidGrant('the authorization code has already been used');
  }
  const grant = assertActive(ctx, grantAtConsume);
  const audience = selectAudience(params, record.resources);

  let refreshToken: string | undefined;
  if (client.grantTypes.includes('refresh_token')) {
    const issued = await newRefreshToken(
      ctx,
      { grantId: grant.grantId, clientId: client.clientId, subject: grant.subject, scopes: record.scopes, resources: record.resources },
      grant,
    );
    await ctx.store.saveRefreshToken(issued.record);
    refreshToken = issued.token;
  }
  const response = await tokenResponse(ctx, { client, grant, scopes: record.scopes, audience, refreshToken, nonce: record.nonce, withIDToken: true });
  ctx.emit?.({ type: 'token.issued', grantType: 'authorization_code', clientId: client.clientId, subject: grant.subject, grantId: grant.grantId, scopes: record.scopes }, request);
  return response;
}

async function refreshTokenGrant(ctx: ServerContext, params: RequestParams, client: ClientRecord, request: Request): Promise<Reply> {
  if (!client.grantTypes.includes('refresh_token')) {
    throw new OAuthError('unauthorized_client', { description: 'this client is not allowed the refresh_token grant' });
  }
  const presented = params.get('refresh_token');
  if (presented === undefined) throw new OAuthError('invalid_request', { description: 'refresh_token is required' });
  const presentedHash = await sha256(presented);
  const current = await ctx.store.getRefreshToken(presentedHash);
  if (!current || current.expiresAt <= ctx.clock()) throw invalidGrant('the refresh token is invalid or has expired');
  if (current.clientId !== client.clientId) throw invalidGrant('the refresh token was issued to another client');
  const grant = await activeGrant(ctx, current.grantId);

  const requested = parseScope(params.get('scope'));
  if (requested === null) throw new OAuthError('invalid_scope', { description: 'scope is malformed' });
  // OAuth 2.1 §4.3.1: never wider than the grant; omitted means the original scope.
  if (!isScopeSubset(requested, current.scopes)) throw new OAuthError('invalid_scope', { description: 'scope exceeds the original grant' });
  const audience = selectAudience(params, current.resources);
  // The user's entitlements are asked again before anything is rotated (a failing lookup burns nothing): a
  // scope the user has lost since is dropped, like at the authorization endpoint.
  const entitled = await ctx.grantableScopes({
    client,
    subject: grant.subject,
    claims: grant.claims,
    scopes: current.scopes,
    resources: current.resources,
    stage: 'refresh',
  });
  const scopes = (requested.length ? requested : current.scopes).filter((scope) => entitled.includes(scope));
  if (current.scopes.length && !scopes.length) throw new OAuthError('invalid_scope', { description: 'none of these scopes can be granted by this user any more' });

  // The successor keeps every scope the user is still entitled to and the resources, even when this access
  // token is narrowed. A lost scope is gone for good: a refresh never widens (it takes a new authorization).
  const successor = await newRefreshToken(
    ctx,
    { grantId: current.grantId, clientId: current.clientId, subject: current.subject, scopes: entitled, resources: current.resources },
    grant,
  );
  const rotation = await ctx.store.rotateRefreshToken(presentedHash, successor.record);
  if (rotation.status === 'not_found') throw invalidGrant('the refresh token is invalid or has expired');
  if (rotation.status === 'reused') {
    const rotatedAt = rotation.previous.rotatedAt ?? 0;
    // A concurrent retry of the same token (within the grace period) loses quietly; a later reuse means the
    // token leaked, so the whole family goes (RFC 9700 §4.14.2).
    const revoke = ctx.clock() - rotatedAt >= ctx.refreshReuseGraceMs;
    if (revoke) await revokeGrant(ctx, current.grantId);
    ctx.emit?.({ type: 'refresh.reused', grantRevoked: revoke, clientId: client.clientId, subject: current.subject, grantId: current.grantId }, request);
    throw invalidGrant('the refresh token has already been used');
  }
  const response = await tokenResponse(ctx, { client, grant, scopes, audience, refreshToken: successor.token, withIDToken: true });
  ctx.emit?.({ type: 'refresh.rotated', clientId: client.clientId, subject: grant.subject, grantId: grant.grantId }, request);
  ctx.emit?.({ type: 'token.issued', grantType: 'refresh_token', clientId: client.clientId, subject: grant.subject, grantId: grant.grantId, scopes }, request);
  return response;
}

async function clientCredentialsGrant(ctx: ServerContext, params: RequestParams, client: ClientRecord, request: Request): Promise<Reply> {
  if (client.tokenEndpointAuthMethod === 'none' || !client.grantTypes.includes('client_credentials')) {
    throw new OAuthError('unauthorized_client', { description: 'this client is not allowed the client_credentials grant' });
  }
  const requested = parseScope(params.get('scope'));
  if (requested === null) throw new OAuthError('invalid_scope', { description: 'scope is malformed' });
  const allowed = client.scopes ?? ctx.scopesSupported;
  const scopes = requested.length ? requested : ctx.defaultScopes.filter((scope) => allowed.includes(scope));
  const refused = scopes.filter((scope) => !allowed.includes(scope) || !ctx.scopesSupported.includes(scope));
  if (refused.length) throw new OAuthError('invalid_scope', { description: `scope not allowed: ${refused.join(' ')}` });
  const audience = selectAudience(params, [...ctx.resources.keys()]);
  // No grant is stored: a client_credentials token has nothing to refresh and no user consent behind it,
  // and everything that ends it works without one (RFC 7009 revocation by its jti, deleting the client by
  // client_id). Storing a grant per token would grow the store by one record per request.
  const resources = params.getAll('resource').length ? audience : [ctx.defaultResource];
  const access = await issueAccessToken(ctx, { subject: client.clientId, clientId: client.clientId, scopes, audience: resources });
  const body: TokenEndpointResponse = { access_token: access.token, token_type: 'Bearer', expires_in: access.expiresIn };
  if (scopes.length) body.scope = formatScope(scopes);
  ctx.emit?.({ type: 'token.issued', grantType: 'client_credentials', clientId: client.clientId, subject: client.clientId, scopes }, request);
  return jsonReply(body);
}

type GrantHandler = (ctx: ServerContext, params: RequestParams, client: ClientRecord, request: Request) => Promise<Reply>;

// A Map, not an object literal: `grant_type=constructor` must not find Object.prototype members.
const GRANT_HANDLERS = new Map<string, GrantHandler>([
  ['authorization_code', authorizationCodeGrant],
  ['refresh_token', refreshTokenGrant],
  ['client_credentials', clientCredentialsGrant],
]);

/**
 * The token endpoint: client authentication, then the authorization_code (PKCE), refresh_token (rotation
 * with reuse detection) and client_credentials grants.
 *
 * @see [OAuth 2.1 §3.2, §4.1.3, §4.2, §4.3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3.2)
 */
export async function handleToken(ctx: ServerContext, request: Request): Promise<Reply> {
  if (request.method !== 'POST') {
    throw new OAuthError('invalid_request', { description: 'the token endpoint accepts POST only', status: 405, headers: { allow: 'POST' } });
  }
  const params = await readBodyParams(request);
  const grantType = params.get('grant_type');
  if (grantType === undefined) throw new OAuthError('invalid_request', { description: 'grant_type is required' });
  const handler = GRANT_HANDLERS.get(grantType);
  if (!handler) throw new OAuthError('unsupported_grant_type', { description: `grant_type ${grantType} is not supported` });
  const { client, method } = await authenticateClient(ctx, request, params);
  ctx.log?.('oauth:token', 'client authenticated', { grantType, clientId: client.clientId, authMethod: method });
  if (!client.grantTypes.includes(grantType)) {
    throw new OAuthError('unauthorized_client', { description: `this client is not allowed the ${grantType} grant` });
  }
  const response = await handler(ctx, params, client, request);
  await ctx.touchClient(client);
  return response;
}
