import type { ServerContext } from '../context.js';
import { jsonResponse } from '../../protocol/http.js';
import type { ResourceServerGuard } from '../../resource-server/guard.js';

// OIDC Core §5.4: which standard claims each scope releases.
const SCOPE_CLAIMS: Record<string, readonly string[]> = {
  profile: ['name', 'family_name', 'given_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'],
  email: ['email', 'email_verified'],
  address: ['address'],
  phone: ['phone_number', 'phone_number_verified'],
};

/**
 * The user's claims that the granted scopes release (OIDC Core §5.4); `sub` is never taken from here.
 *
 * @example
 * ```ts
 * claimsForScopes({ name: 'Demo', email: 'd@example.com' }, ['openid', 'email']); // { email: 'd@example.com' }
 * ```
 * @see [OIDC Core §5.4](https://openid.net/specs/openid-connect-core-1_0.html#ScopeClaims)
 */
export function claimsForScopes(claims: Record<string, unknown> | undefined, scopes: readonly string[]): Record<string, unknown> {
  const released: Record<string, unknown> = {};
  if (!claims) return released;
  for (const scope of scopes) {
    for (const name of SCOPE_CLAIMS[scope] ?? []) if (claims[name] !== undefined) released[name] = claims[name];
  }
  return released;
}

/**
 * The UserInfo endpoint: GET or POST with a bearer access token of this server; answers `sub` plus the
 * claims the token's scopes release. Errors are RFC 6750 challenges.
 *
 * @see [OIDC Core §5.3](https://openid.net/specs/openid-connect-core-1_0.html#UserInfo)
 */
export async function handleUserinfo(ctx: ServerContext, request: Request, guard: ResourceServerGuard): Promise<Response> {
  if (request.method !== 'GET' && request.method !== 'POST') {
    return new Response(null, { status: 405, headers: { allow: 'GET, POST' } });
  }
  const result = await guard.authenticate(request, { scopes: ['openid'] });
  if (!result.ok) return result.response;
  const { subject, grantId } = result.auth.extra!;
  const grant = grantId ? await ctx.store.getGrant(grantId) : null;
  return jsonResponse({ ...claimsForScopes(grant?.claims, result.auth.scopes), sub: subject });
}
