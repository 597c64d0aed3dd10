import { authenticateClient } from '../client-auth.js';
import type { ServerContext } from '../context.js';
import { sha256 } from '../../protocol/crypto.js';
import { OAuthError } from '../../protocol/errors.js';
import { readBodyParams } from '../../protocol/http.js';
import type { Reply } from '../../protocol/reply.js';
import { verifyOwnAccessToken } from '../tokens.js';
import { revokeGrant } from '../grants.js';
import { accessTokenRevocationKey } from '../../store/store.js';

/**
 * The revocation endpoint. Whatever the hint says, both token types are tried (RFC 7009 §2.1). Revoking a
 * refresh token revokes its whole grant, access tokens included; revoking an access token adds its `jti` to
 * the revocation list. A token of another client, or an unknown one, is left alone and still answered 200,
 * so the endpoint reveals nothing.
 *
 * @see [RFC 7009 §2](https://www.rfc-editor.org/rfc/rfc7009#section-2)
 */
export async function handleRevoke(ctx: ServerContext, request: Request): Promise<Reply> {
  if (request.method !== 'POST') {
    throw new OAuthError('invalid_request', { description: 'the revocation endpoint accepts POST only', status: 405, headers: { allow: 'POST' } });
  }
  const params = await readBodyParams(request);
  const { client } = await authenticateClient(ctx, request, params);
  const token = params.get('token');
  if (token === undefined) throw new OAuthError('invalid_request', { description: 'token is required' });
  params.get('token_type_hint');

  const payload = await verifyOwnAccessToken(ctx, token);
  if (payload) {
    if (payload.client_id === client.clientId) {
      const expiresAt = (payload.exp ?? 0) * 1000 + 60_000;
      await ctx.store.addRevocation({ key: accessTokenRevocationKey(String(payload.jti)), revokedAt: ctx.clock(), expiresAt });
      ctx.revocations.add(accessTokenRevocationKey(String(payload.jti)), expiresAt);
      ctx.emit?.({ type: 'token.revoked', tokenType: 'access_token', clientId: client.clientId, subject: payload.sub, grantId: typeof payload.grant_id === 'string' ? payload.grant_id : undefined }, request);
    }
  } else {
    const refresh = await ctx.store.getRefreshToken(await sha256(token));
    if (refresh && refresh.clientId === client.clientId) {
      await revokeGrant(ctx, refresh.grantId);
      ctx.emit?.({ type: 'token.revoked', tokenType: 'refresh_token', clientId: client.clientId, subject: refresh.subject, grantId: refresh.grantId }, request);
    }
  }
  return { status: 200, headers: { 'cache-control': 'no-store' }, body: null };
}
