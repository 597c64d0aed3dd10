import { authenticateClient } from '../client-auth.js';
import type { ServerContext } from '../context.js';
import type { IntrospectionOptions } from '../options.js';
import { sha256 } from '../../protocol/crypto.js';
import { OAuthError } from '../../protocol/errors.js';
import { readBodyParams } from '../../protocol/http.js';
import { jsonReply, type Reply } from '../../protocol/reply.js';
import { parseScope } from '../../protocol/scope.js';
import { verifyOwnAccessToken } from '../tokens.js';
import { bearerChallenge } from '../../protocol/www-authenticate.js';

const INACTIVE = '{"active":false}';

function inactive(): Reply {
  return { status: 200, headers: { 'content-type': 'application/json', 'cache-control': 'no-store' }, body: INACTIVE };
}

/**
 * Who is asking and what it may see: `all` every token; otherwise the tokens issued to `clientId`, and the
 * access tokens whose audience is one of `audiences` (a resource server's own resources).
 */
type Caller = { all: true } | { all: false; clientId: string; audiences: ReadonlySet<string> };

const NO_AUDIENCES: ReadonlySet<string> = new Set();

/**
 * A confidential client sees its own tokens, a configured resource server also the access tokens for its
 * resources, an administrative client or an administrator's bearer token everything.
 */
async function authenticateCaller(ctx: ServerContext, options: IntrospectionOptions, request: Request, params: Awaited<ReturnType<typeof readBodyParams>>): Promise<Caller> {
  const bearer = /^bearer +(\S+)$/i.exec(request.headers.get('authorization') ?? '');
  if (bearer && options.bearerScope) {
    const payload = await verifyOwnAccessToken(ctx, bearer[1]!);
    const scopes = typeof payload?.scope === 'string' ? (parseScope(payload.scope) ?? []) : [];
    const revoked = payload && (await ctx.revocations.isRevoked(String(payload.jti), typeof payload.grant_id === 'string' ? payload.grant_id : undefined, String(payload.client_id)));
    if (!payload || revoked) {
      throw new OAuthError('invalid_token', {
        description: `introspection needs a valid access token with scope ${options.bearerScope}`,
        headers: { 'www-authenticate': bearerChallenge({ error: 'invalid_token', scope: options.bearerScope }) },
      });
    }
    // RFC 6750 §3.1: a valid token that lacks the scope is insufficient_scope (403), not invalid_token.
    if (!scopes.includes(options.bearerScope)) {
      throw new OAuthError('insufficient_scope', {
        description: `introspection needs scope ${options.bearerScope}`,
        headers: { 'www-authenticate': bearerChallenge({ error: 'insufficient_scope', scope: options.bearerScope }) },
      });
    }
    return { all: true };
  }
  const { client, method } = await authenticateClient(ctx, request, params);
  // RFC 7662 §2.1: the caller must be authorised, or the endpoint becomes a token-scanning oracle.
  if (method === 'none') {
    throw new OAuthError('invalid_client', { description: 'introspection requires an authenticated (confidential) client', headers: { 'www-authenticate': `Basic realm="${ctx.issuer}"` } });
  }
  const access = ctx.introspectionAccess(client.clientId);
  return access === 'all' ? { all: true } : { all: false, clientId: client.clientId, audiences: access ?? NO_AUDIENCES };
}

function audiences(aud: unknown): string[] {
  if (typeof aud === 'string') return [aud];
  return Array.isArray(aud) ? aud.filter((value): value is string => typeof value === 'string') : [];
}

/**
 * The introspection endpoint. An active token yields its claims; anything else, including a token the
 * caller may not see, yields exactly `{"active":false}`.
 *
 * @see [RFC 7662 §2](https://www.rfc-editor.org/rfc/rfc7662#section-2)
 */
export async function handleIntrospect(ctx: ServerContext, options: IntrospectionOptions, request: Request): Promise<Reply> {
  if (request.method !== 'POST') {
    throw new OAuthError('invalid_request', { description: 'the introspection endpoint accepts POST only', status: 405, headers: { allow: 'POST' } });
  }
  const params = await readBodyParams(request);
  const caller = await authenticateCaller(ctx, options, request, params);
  const token = params.get('token');
  if (token === undefined) throw new OAuthError('invalid_request', { description: 'token is required' });
  params.get('token_type_hint');
  // Refresh tokens never reach a resource server, so only their client (or an administrator) sees them.
  const visible = (clientId: unknown, aud?: unknown) =>
    caller.all || caller.clientId === clientId || (aud !== undefined && audiences(aud).some((audience) => caller.audiences.has(audience)));

  const payload = await verifyOwnAccessToken(ctx, token);
  if (payload) {
    const grantId = typeof payload.grant_id === 'string' ? payload.grant_id : undefined;
    if (!visible(payload.client_id, payload.aud) || (await ctx.revocations.isRevoked(String(payload.jti), grantId, String(payload.client_id)))) return inactive();
    const grant = grantId ? await ctx.store.getGrant(grantId) : null;
    if (grantId && (!grant || grant.revokedAt !== undefined)) return inactive();
    const { scope, client_id, sub, aud, iss, exp, iat, jti } = payload;
    return jsonReply({ active: true, scope, client_id, sub, aud, iss, exp, iat, jti, token_type: 'Bearer' });
  }

  const refresh = await ctx.store.getRefreshToken(await sha256(token));
  if (!refresh || refresh.rotatedAt !== undefined || refresh.expiresAt <= ctx.clock() || !visible(refresh.clientId)) return inactive();
  const grant = await ctx.store.getGrant(refresh.grantId);
  if (!grant || grant.revokedAt !== undefined) return inactive();
  return jsonReply({
    active: true,
    scope: refresh.scopes.join(' '),
    client_id: refresh.clientId,
    sub: refresh.subject,
    aud: refresh.resources.length === 1 ? refresh.resources[0] : refresh.resources,
    iss: ctx.issuer,
    exp: Math.floor(refresh.expiresAt / 1000),
    iat: Math.floor(refresh.createdAt / 1000),
    token_type: 'refresh_token',
  });
}
