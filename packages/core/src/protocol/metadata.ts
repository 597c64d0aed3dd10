/** The endpoint URLs and capabilities a metadata document describes. */
export interface AuthorizationServerMetadataInput {
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  jwksUri: string;
  userinfoEndpoint?: string | undefined;
  registrationEndpoint?: string | undefined;
  revocationEndpoint?: string | undefined;
  introspectionEndpoint?: string | undefined;
  scopesSupported: string[];
  grantTypesSupported: string[];
  tokenEndpointAuthMethodsSupported: string[];
  clientIdMetadataDocumentSupported?: boolean | undefined;
}

/**
 * Builds RFC 8414 authorization-server metadata. Optional endpoints appear only when they are enabled, and
 * `code_challenge_methods_supported` is always present: MCP clients refuse a server without it.
 *
 * @example
 * ```ts
 * const metadata = authorizationServerMetadata({ issuer, authorizationEndpoint, tokenEndpoint, jwksUri, scopesSupported, grantTypesSupported, tokenEndpointAuthMethodsSupported });
 * ```
 * @see [RFC 8414 §2](https://www.rfc-editor.org/rfc/rfc8414#section-2)
 * @see [RFC 9207 §3](https://www.rfc-editor.org/rfc/rfc9207#section-3)
 */
export function authorizationServerMetadata(input: AuthorizationServerMetadataInput): Record<string, unknown> {
  const metadata: Record<string, unknown> = {
    issuer: input.issuer,
    authorization_endpoint: input.authorizationEndpoint,
    token_endpoint: input.tokenEndpoint,
    jwks_uri: input.jwksUri,
    ...(input.userinfoEndpoint && { userinfo_endpoint: input.userinfoEndpoint }),
    ...(input.registrationEndpoint && { registration_endpoint: input.registrationEndpoint }),
    ...(input.revocationEndpoint && {
      revocation_endpoint: input.revocationEndpoint,
      revocation_endpoint_auth_methods_supported: input.tokenEndpointAuthMethodsSupported,
    }),
    ...(input.introspectionEndpoint && {
      introspection_endpoint: input.introspectionEndpoint,
      introspection_endpoint_auth_methods_supported: input.tokenEndpointAuthMethodsSupported.filter((m) => m !== 'none'),
    }),
    scopes_supported: input.scopesSupported,
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: input.grantTypesSupported,
    token_endpoint_auth_methods_supported: input.tokenEndpointAuthMethodsSupported,
    code_challenge_methods_supported: ['S256'],
    authorization_response_iss_parameter_supported: true,
    ...(input.clientIdMetadataDocumentSupported && { client_id_metadata_document_supported: true }),
  };
  return metadata;
}

/**
 * Builds the OpenID Connect discovery document: the RFC 8414 members plus the OIDC-required ones.
 *
 * @example
 * ```ts
 * const discovery = openIDConfiguration(authorizationServerMetadata(input), ['ES256', 'RS256']);
 * ```
 * @see [OpenID Connect Discovery §3](https://openid.net/specs/openid-connect-discovery-1_0.html#ProviderMetadata)
 */
export function openIDConfiguration(asMetadata: Record<string, unknown>, accessTokenAlgorithms: string[]): Record<string, unknown> {
  return {
    ...asMetadata,
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'name', 'preferred_username', 'email', 'email_verified'],
    // RFC 9068 access tokens are signed with these.
    access_token_signing_alg_values_supported: accessTokenAlgorithms,
  };
}

/** What RFC 9728 metadata describes about one protected resource. */
export interface ProtectedResourceMetadataInput {
  resource: string;
  authorizationServers: string[];
  scopesSupported?: string[] | undefined;
  resourceName?: string | undefined;
  jwksUri?: string | undefined;
}

/**
 * Builds RFC 9728 protected-resource metadata; `resource` is the identifier byte for byte.
 *
 * @example
 * ```ts
 * protectedResourceMetadata({ resource: 'http://localhost:3009/mcp', authorizationServers: ['http://localhost:3009'] });
 * ```
 * @see [RFC 9728 §2, §3](https://www.rfc-editor.org/rfc/rfc9728#section-2)
 */
export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): Record<string, unknown> {
  return {
    resource: input.resource,
    authorization_servers: input.authorizationServers,
    bearer_methods_supported: ['header'],
    ...(input.scopesSupported?.length && { scopes_supported: input.scopesSupported }),
    ...(input.resourceName && { resource_name: input.resourceName }),
    ...(input.jwksUri && { jwks_uri: input.jwksUri }),
  };
}

/**
 * The well-known URL for an identifier with the well-known segment inserted before its path, as RFC 8414
 * §3.1 and RFC 9728 §3.1 define: `https://a/tenant` → `https://a/.well-known/<suffix>/tenant`.
 *
 * @example
 * ```ts
 * wellKnownURL('http://localhost:3009/mcp', 'oauth-protected-resource'); // http://localhost:3009/.well-known/oauth-protected-resource/mcp
 * ```
 * @see [RFC 8414 §3.1](https://www.rfc-editor.org/rfc/rfc8414#section-3.1)
 */
export function wellKnownURL(identifier: string, suffix: string): string {
  const url = new URL(identifier);
  const path = url.pathname === '/' ? '' : url.pathname.replace(/\/$/, '');
  return `${url.origin}/.well-known/${suffix}${path}`;
}
