import { z } from 'zod';
import { OAuthError } from './errors.js';
import { checkRedirectUriForRegistration } from './redirect-uri.js';
import { parseScope } from './scope.js';

/** How a client authenticates at the token endpoint (RFC 7591 §2). */
export type TokenEndpointAuthMethod = 'none' | 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';

/** Grant types a client can be registered for. */
export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;

// RFC 7591 §2, §5: logo_uri, client_uri, policy_uri and tos_uri are shown to the end user, and jwks_uri is
// fetched by the server; a javascript:, data: or file: URL (or plain http to another host) is never one of
// them. https only, or http on a loopback host for development.
const httpsOrLoopbackURL = z
  .string()
  .refine((value) => URL.canParse(value), 'must be an absolute URL')
  .refine((value) => {
    const url = URL.canParse(value) ? new URL(value) : null;
    return !url || url.protocol === 'https:' || (url.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname));
  }, 'must be an https URL');

/**
 * RFC 7591 §2 client metadata. Members Keyward does not know are dropped (RFC 7591 §2: "ignore"), never
 * refused; `client_id` and `client_secret` sent by the client are ignored because the server assigns them.
 */
const clientMetadataSchema = z.object({
  redirect_uris: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.enum(['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt']).default('client_secret_basic'),
  grant_types: z.array(z.string()).default(['authorization_code']),
  response_types: z.array(z.string()).default(['code']),
  application_type: z.enum(['web', 'native']).optional(),
  client_name: z.string().max(200).optional(),
  client_uri: httpsOrLoopbackURL.optional(),
  logo_uri: httpsOrLoopbackURL.optional(),
  tos_uri: httpsOrLoopbackURL.optional(),
  policy_uri: httpsOrLoopbackURL.optional(),
  scope: z.string().optional(),
  contacts: z.array(z.string()).optional(),
  jwks_uri: httpsOrLoopbackURL.optional(),
  jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
  software_id: z.string().optional(),
  software_version: z.string().optional(),
});

/** Validated client metadata in wire format, with server defaults filled in. */
export type ClientMetadata = z.output<typeof clientMetadataSchema>;

/** What decides whether metadata is acceptable on this server. */
export interface ClientMetadataPolicy {
  scopesSupported: readonly string[];
  allowedSchemes: readonly string[];
  /** Client ID metadata documents may not use shared secrets (CIMD §4.1). */
  forbidSharedSecrets?: boolean;
}

function metadataError(field: string, message: string, code: 'invalid_client_metadata' | 'invalid_redirect_uri' = 'invalid_client_metadata'): OAuthError {
  return new OAuthError(code, { description: `${field}: ${message}` });
}

/**
 * Validates RFC 7591 client metadata and returns it with defaults filled in. Every problem becomes
 * `invalid_client_metadata` or `invalid_redirect_uri` with a description that names the field.
 *
 * @example
 * ```ts
 * const metadata = parseClientMetadata(await request.json(), { scopesSupported: ['mcp:tools'], allowedSchemes: [] });
 * ```
 * @see [RFC 7591 §2, §3.2.2](https://www.rfc-editor.org/rfc/rfc7591#section-2)
 */
export function parseClientMetadata(input: unknown, policy: ClientMetadataPolicy): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new OAuthError('invalid_client_metadata', { description: 'client metadata must be a JSON object' });
  }
  const parsed = clientMetadataSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.join('.') || '(body)';
    throw metadataError(field, issue.message, issue.path[0] === 'redirect_uris' ? 'invalid_redirect_uri' : 'invalid_client_metadata');
  }
  const metadata = parsed.data;

  // Real clients publish grant types this server does not offer; drop them instead of failing.
  metadata.grant_types = [...new Set(metadata.grant_types.filter((grant) => (SUPPORTED_GRANT_TYPES as readonly string[]).includes(grant)))];
  if (!metadata.grant_types.length) throw metadataError('grant_types', `must include one of ${SUPPORTED_GRANT_TYPES.join(', ')}`);
  metadata.response_types = [...new Set(metadata.response_types)];
  const wantsCode = metadata.grant_types.includes('authorization_code');
  if (metadata.response_types.some((type) => type !== 'code')) throw metadataError('response_types', 'only "code" is supported');
  // RFC 7591 §2.1: grant_types and response_types must agree.
  if (wantsCode && !metadata.response_types.includes('code')) throw metadataError('response_types', 'authorization_code needs response type "code"');
  if (!wantsCode && metadata.response_types.length) {
    // The default ["code"] only applies to clients that use the code grant.
    if (!('response_types' in input)) metadata.response_types = [];
    else throw metadataError('response_types', '"code" needs the authorization_code grant type');
  }

  if (policy.forbidSharedSecrets && ['client_secret_basic', 'client_secret_post'].includes(metadata.token_endpoint_auth_method)) {
    throw metadataError('token_endpoint_auth_method', 'shared-secret methods are not allowed for this client');
  }
  if (metadata.token_endpoint_auth_method === 'none' && metadata.grant_types.includes('client_credentials')) {
    throw metadataError('grant_types', 'client_credentials needs a confidential client');
  }
  if (metadata.token_endpoint_auth_method === 'private_key_jwt' && !metadata.jwks && !metadata.jwks_uri) {
    throw metadataError('jwks', 'private_key_jwt needs jwks or jwks_uri');
  }
  if (metadata.jwks && metadata.jwks_uri) throw metadataError('jwks', 'jwks and jwks_uri are mutually exclusive');
  if (metadata.jwks?.keys.some((key) => 'd' in key || 'k' in key)) throw metadataError('jwks', 'must contain public keys only');

  const redirectUris = metadata.redirect_uris ?? [];
  if (wantsCode && !redirectUris.length) throw metadataError('redirect_uris', 'required for the authorization_code grant', 'invalid_redirect_uri');
  for (const uri of redirectUris) {
    const problem = checkRedirectUriForRegistration(uri, { applicationType: metadata.application_type, allowedSchemes: policy.allowedSchemes });
    if (problem) throw metadataError('redirect_uris', `${uri}: ${problem}`, 'invalid_redirect_uri');
  }

  if (metadata.scope !== undefined) {
    const scopes = parseScope(metadata.scope);
    if (scopes === null) throw metadataError('scope', 'is malformed');
    const unknown = scopes.filter((scope) => !policy.scopesSupported.includes(scope));
    if (unknown.length) throw metadataError('scope', `unsupported scope ${unknown.join(' ')}`);
  }
  return metadata;
}

/** Whether the method authenticates with a shared secret the server must issue. */
export function usesClientSecret(method: TokenEndpointAuthMethod): boolean {
  return method === 'client_secret_basic' || method === 'client_secret_post';
}
