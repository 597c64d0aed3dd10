/** The attributes of a Bearer challenge. */
export interface BearerChallengeOptions {
  /** RFC 9728 §5.1: where the client finds the protected-resource metadata. */
  resourceMetadata?: string | undefined;
  /** Omitted when the request carried no credentials at all (RFC 6750 §3.1). */
  error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | undefined;
  errorDescription?: string | undefined;
  /** The scopes needed, space-separated. */
  scope?: string | undefined;
  realm?: string | undefined;
}

function quote(value: string): string {
  // quoted-string (RFC 9110 §5.6.4); OAuth values never need non-ASCII, so anything else is replaced.
  return `"${value.replace(/[^\x20-\x7e]/g, '?').replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Builds a `WWW-Authenticate: Bearer …` value. With no `error`, the challenge tells a client that sent no
 * credentials where to get some, which is what MCP clients need to start discovery.
 *
 * @example
 * ```ts
 * bearerChallenge({ resourceMetadata: 'https://mcp.example.com/.well-known/oauth-protected-resource/mcp' });
 * // Bearer resource_metadata="https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
 * ```
 * @see [RFC 6750 §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)
 */
export function bearerChallenge(options: BearerChallengeOptions): string {
  const parts: string[] = [];
  if (options.realm) parts.push(`realm=${quote(options.realm)}`);
  if (options.resourceMetadata) parts.push(`resource_metadata=${quote(options.resourceMetadata)}`);
  if (options.error) parts.push(`error=${quote(options.error)}`);
  if (options.errorDescription) parts.push(`error_description=${quote(options.errorDescription)}`);
  if (options.scope) parts.push(`scope=${quote(options.scope)}`);
  return parts.length ? `Bearer ${parts.join(', ')}` : 'Bearer';
}
