/**
 * Checks an RFC 8707 resource indicator: an absolute URI with no fragment. Returns why it is refused, or
 * `null`. A query is discouraged by the RFC but not forbidden, so it is accepted.
 *
 * @example
 * ```ts
 * checkResourceIndicator('/mcp'); // 'resource must be an absolute URI'
 * checkResourceIndicator('https://mcp.example.com/mcp'); // null
 * ```
 * @see [RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)
 */
export function checkResourceIndicator(value: string): string | null {
  if (value.includes('#')) return 'resource must not contain a fragment';
  if (!URL.canParse(value)) return 'resource must be an absolute URI';
  return null;
}
