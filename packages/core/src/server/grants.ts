/**
 * Grants: what a user approved for a client, and its end. Every way to approve an authorization (login
 * pages, `devLogin`, a custom interaction hook's `completeInteraction`) mints its grant and code here, and
 * every revocation (refresh-token reuse, RFC 7009, `server.revokeGrant`) ends it here.
 *
 * @module
 */
import { randomToken, sha256 } from '../protocol/crypto.js';
import { KeywardConfigError, OAuthError } from '../protocol/errors.js';
import { isScopeSubset } from '../protocol/scope.js';
import { grantRevocationKey, type InteractionRecord } from '../store/store.js';
import type { InteractionResult, ServerContext } from './context.js';
import { redirectError, redirectResponse, targetFromInteraction } from './handlers/authorize.js';

/** What revoking a grant needs: the Store, the clock, the access-token lifetime and the revocation list. */
export type RevocationContext = Pick<ServerContext, 'store' | 'clock' | 'ttl' | 'revocations'>;

/** What approving an authorization needs (the redirect helpers take the issuer from it). */
export type ApprovalContext = Pick<ServerContext, 'issuer' | 'store' | 'clock' | 'ttl' | 'grantableScopes' | 'emit'>;

/**
 * Revokes a grant everywhere: the store refuses its refresh tokens, the guard its access tokens.
 *
 * @see [RFC 7009 §2.1](https://www.rfc-editor.org/rfc/rfc7009#section-2.1)
 */
export async function revokeGrant(ctx: RevocationContext, grantId: string): Promise<void> {
  const now = ctx.clock();
  // Access tokens of the grant stay verifiable until they expire, so the revocation must outlive them.
  const expiresAt = now + ctx.ttl.accessToken * 1000 + 60_000;
  await ctx.store.revokeGrant(grantId, now);
  await ctx.store.addRevocation({ key: grantRevocationKey(grantId), revokedAt: now, expiresAt });
  ctx.revocations.add(grantRevocationKey(grantId), expiresAt);
}

/**
 * Turns an approved interaction into a grant, an authorization code and the redirect that carries it,
 * after the user's own entitlements (`grantableScopes`) have narrowed the approved scopes.
 *
 * @see [OAuth 2.1 §4.1.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-4.1.2)
 */
export async function approveInteraction(ctx: ApprovalContext, interaction: InteractionRecord, result: InteractionResult, method: string): Promise<Response> {
  const target = targetFromInteraction(interaction);
  const approved = result.scopes ?? interaction.scopes;
  if (!isScopeSubset(approved, interaction.scopes)) throw new KeywardConfigError('approved scopes must be a subset of the requested ones');
  // Every way to approve (login pages, devLogin, a custom interaction hook) passes here, so the user's own
  // entitlements hold whichever one it was.
  const scopes = await ctx.grantableScopes({
    client: interaction.clientId,
    subject: result.subject,
    claims: result.claims,
    scopes: approved,
    resources: interaction.resources,
    stage: 'authorization',
  });
  if (approved.length && !scopes.length) {
    return redirectError(ctx, target, new OAuthError('invalid_scope', { description: 'none of the requested scopes can be granted by this user' }), method);
  }
  const now = ctx.clock();
  const grantId = randomToken(16);
  await ctx.store.saveGrant({
    grantId,
    clientId: interaction.clientId,
    subject: result.subject,
    scopes,
    resources: interaction.resources,
    authTime: result.authTime ?? now,
    claims: result.claims,
    upstreamTokens: result.upstreamTokens,
    createdAt: now,
    expiresAt: now + ctx.ttl.refreshToken * 1000,
  });
  const code = randomToken();
  await ctx.store.saveAuthorizationCode({
    codeHash: await sha256(code),
    grantId,
    clientId: interaction.clientId,
    subject: result.subject,
    redirectUri: interaction.redirectUri,
    codeChallenge: interaction.codeChallenge,
    codeChallengeMethod: interaction.codeChallengeMethod,
    scopes,
    resources: interaction.resources,
    nonce: interaction.nonce,
    authTime: result.authTime ?? now,
    createdAt: now,
    expiresAt: now + ctx.ttl.authorizationCode * 1000,
  });
  ctx.emit?.({ type: 'code.issued', clientId: interaction.clientId, subject: result.subject, grantId, scopes, endpoint: 'authorize' });
  return redirectResponse(ctx, target, { code }, method);
}
