import { OAuthError } from './errors.js';
import { NO_STORE_HEADERS } from './reply.js';

/**
 * The parameters of an OAuth request, from a query string, a form body or (a documented Keyward extension,
 * because many clients and curl examples send it) a flat JSON object. An empty value counts as absent
 * (OAuth 2.1 §3.1), and a single-valued parameter sent twice is `invalid_request`.
 *
 * @example
 * ```ts
 * const params = RequestParams.fromSearch(new URL(request.url).searchParams);
 * const state = params.get('state');
 * ```
 * @see [OAuth 2.1 §3.1, §3.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3.1)
 */
export class RequestParams {
  readonly #values = new Map<string, string[]>();

  private constructor(entries: Iterable<[string, string]>) {
    for (const [name, value] of entries) {
      if (value === '') continue;
      const list = this.#values.get(name);
      if (list) list.push(value);
      else this.#values.set(name, [value]);
    }
  }

  /** From URL query parameters or a parsed form body. */
  static fromSearch(search: URLSearchParams): RequestParams {
    return new RequestParams(search);
  }

  /** From a JSON object whose members are strings (or arrays of strings, for repeatable parameters). */
  static fromJSON(body: unknown): RequestParams {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw new OAuthError('invalid_request', { description: 'request body must be a JSON object' });
    }
    const entries: [string, string][] = [];
    for (const [name, value] of Object.entries(body)) {
      const values = Array.isArray(value) ? value : [value];
      for (const item of values) {
        if (item === null || item === undefined) continue;
        if (typeof item !== 'string' && typeof item !== 'number' && typeof item !== 'boolean') {
          throw new OAuthError('invalid_request', { description: `parameter ${name} must be a string` });
        }
        entries.push([name, String(item)]);
      }
    }
    return new RequestParams(entries);
  }

  /** The single value of `name`, or undefined; throws `invalid_request` when it was sent more than once. */
  get(name: string): string | undefined {
    const list = this.#values.get(name);
    if (!list) return undefined;
    if (list.length > 1) throw new OAuthError('invalid_request', { description: `parameter ${name} must not be repeated` });
    return list[0];
  }

  /** Every value of a repeatable parameter such as `resource` (RFC 8707 §2). */
  getAll(name: string): string[] {
    return this.#values.get(name) ?? [];
  }

  has(name: string): boolean {
    return this.#values.has(name);
  }
}

/**
 * The first member name that appears twice in one object of `text`, which must already be valid JSON, or
 * undefined. Names are compared after unescaping, so `"a"` and `"\u0061"` are the same member; each
 * object, however deeply nested in objects or arrays, has its own names.
 */
function repeatedMember(text: string): string | undefined {
  // One entry per open object or array; an object records its names and whether a name comes next.
  const stack: Array<{ names: Set<string>; expectName: boolean } | null> = [];
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '{') stack.push({ names: new Set(), expectName: true });
    else if (char === '[') stack.push(null);
    else if (char === '}' || char === ']') stack.pop();
    else if (char === ',') {
      const top = stack[stack.length - 1];
      if (top) top.expectName = true;
    } else if (char === '"') {
      let end = index + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const top = stack[stack.length - 1];
      if (top?.expectName) {
        const name = JSON.parse(text.slice(index, end + 1)) as string;
        if (top.names.has(name)) return name;
        top.names.add(name);
        top.expectName = false;
      }
      index = end;
    }
  }
  return undefined;
}

/**
 * Parses a JSON request body, refusing one in which an object repeats a member name. `JSON.parse` keeps
 * the last of them silently, so two parsers (a proxy, a WAF, this server) could each see another value;
 * repeated form parameters are refused for the same reason (OAuth 2.1 §3.1, RFC 8259 §4).
 *
 * @example
 * ```ts
 * parseJSONBody('{"a":1,"\\u0061":2}'); // throws: member a appears twice
 * ```
 * @see [RFC 8259 §4](https://www.rfc-editor.org/rfc/rfc8259#section-4)
 */
export function parseJSONBody(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const repeated = repeatedMember(text);
  if (repeated !== undefined) throw new SyntaxError(`member ${repeated} appears twice in one object`);
  return value;
}

/**
 * The largest request body an endpoint reads; OAuth requests are a few hundred bytes.
 *
 * @example
 * ```ts
 * const text = await readBodyText(request, MAX_BODY_BYTES);
 * ```
 */
export const MAX_BODY_BYTES = 64 * 1024;

/**
 * @internal How much of an oversized body is read and thrown away so that the client, still sending,
 * receives the 413 rather than a reset connection (RFC 9112 §9.6). Beyond it the answer closes the connection.
 */
// 8 MiB: as much as MCP servers commonly accept on their own routes; draining costs bandwidth only.
export const DRAIN_BYTES = 8 * 1024 * 1024;

// Not fatal: malformed UTF-8 becomes U+FFFD, as it did with Node's Buffer.
const utf8 = new TextDecoder();

// Bodies an adapter had already read from the connection, by the bodiless Request made for them: reading
// them again through a Web stream would cost more than the rest of a token request's plumbing.
const prereadBodies = new WeakMap<Request, { text: string; size: number }>();

/**
 * @internal Hands the server a request whose body was already read (by the Node glue): `text` is the body,
 * `size` its length in bytes. {@link readBodyText} answers from it, and `request` itself carries no body.
 */
export function attachPrereadBody(request: Request, text: string, size: number): Request {
  prereadBodies.set(request, { text, size });
  return request;
}

/** @internal The method of a request view (the Node glue's) that builds the real Web `Request` behind it. */
export const WEB_REQUEST = Symbol.for('keyward.webRequest');

/**
 * @internal What application code is handed for a request: the real Web `Request` behind a request view,
 * or the request itself. A view answers every member a Request has, but `new Request(view)` cannot read
 * it, and application code may do that.
 */
export function webRequest(request: Request): Request {
  const build = (request as Request & { [WEB_REQUEST]?: () => Request })[WEB_REQUEST];
  return build ? build.call(request) : request;
}

/** @internal The body attached by {@link attachPrereadBody}, if any. */
export function prereadBody(request: Request): string | undefined {
  return prereadBodies.get(request)?.text;
}

/**
 * Reads a request body as text, refusing more than `limit` bytes (413) before buffering it, so an
 * unauthenticated POST cannot make the server hold an arbitrary amount of memory. The rest of an oversized
 * body is read and dropped first (up to {@link DRAIN_BYTES}), so that a client still sending receives the
 * 413 rather than a reset.
 *
 * @example
 * ```ts
 * const text = await readBodyText(request);
 * ```
 */
export async function readBodyText(request: Request, limit = MAX_BODY_BYTES): Promise<string> {
  const tooLarge = (drained: boolean) =>
    new OAuthError('invalid_request', { description: `request body exceeds ${limit} bytes`, status: 413, headers: drained ? {} : { connection: 'close' } });
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) throw tooLarge(declared <= DRAIN_BYTES && request.body !== null && (await discardRest(request.body.getReader(), 0)));
  const preread = prereadBodies.get(request);
  if (preread) {
    if (preread.size > limit) throw tooLarge(true);
    return preread.text;
  }
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) throw tooLarge(await discardRest(reader, size));
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return utf8.decode(bytes);
}

/**
 * Reads what is left of an oversized body and drops it, so that the 413 reaches a client that is still
 * sending instead of a reset; true when it ended within {@link DRAIN_BYTES}, false when it was cut off there.
 */
async function discardRest(reader: ReadableStreamDefaultReader<Uint8Array>, alreadyRead: number): Promise<boolean> {
  let size = alreadyRead;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return true;
    size += value.byteLength;
    if (size > DRAIN_BYTES) {
      await reader.cancel();
      return false;
    }
  }
}

/**
 * Reads the body of a POST to the token, revocation or introspection endpoint: form-urlencoded per the
 * RFCs, or JSON (a Keyward extension). Any other media type is `invalid_request`.
 *
 * @example
 * ```ts
 * const params = await readBodyParams(request);
 * ```
 * @see [OAuth 2.1 §3.2.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3.2.2)
 */
export async function readBodyParams(request: Request): Promise<RequestParams> {
  const type = (request.headers.get('content-type') ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') {
    return RequestParams.fromSearch(new URLSearchParams(await readBodyText(request)));
  }
  if (type === 'application/json') {
    const text = await readBodyText(request);
    let body: unknown;
    try {
      body = parseJSONBody(text);
    } catch (error) {
      throw new OAuthError('invalid_request', { description: `request body is not valid JSON${duplicateNote(error)}` });
    }
    return RequestParams.fromJSON(body);
  }
  throw new OAuthError('invalid_request', {
    description: 'request body must be application/x-www-form-urlencoded (or application/json)',
  });
}

/** `: member x appears twice…` for a repeated member, nothing for a plain syntax error. */
export function duplicateNote(error: unknown): string {
  const message = (error as Error).message ?? '';
  return message.startsWith('member ') ? `: ${message}` : '';
}



/**
 * A JSON response. Token-bearing answers must not be cached (OAuth 2.1 §3.2.3), so `no-store` is the
 * default; pass `cache` for public documents such as metadata.
 *
 * @example
 * ```ts
 * return jsonResponse({ active: false });
 * ```
 */
export function jsonResponse(
  body: unknown,
  init: { status?: number; headers?: Record<string, string>; cache?: string } = {},
): Response {
  return rawJSONResponse(JSON.stringify(body), init);
}

/** Like {@link jsonResponse} for a body that is already serialised (cached metadata, JWKS). */
export function rawJSONResponse(
  json: string,
  init: { status?: number; headers?: Record<string, string>; cache?: string } = {},
): Response {
  const cache = init.cache ? { 'cache-control': init.cache } : NO_STORE_HEADERS;
  return new Response(json, {
    status: init.status ?? 200,
    headers: { 'content-type': 'application/json', ...cache, ...init.headers },
  });
}

/**
 * CORS headers for endpoints that browser-based MCP clients call directly: metadata, token, JWKS,
 * registration, revocation. Never for the authorization endpoint, which is a top-level navigation
 * (RFC 9700 §2.6). No credentials are allowed, so `*` is safe.
 *
 * @example
 * ```ts
 * if (request.method === 'OPTIONS') return new Response(null, { status: 204, headers: CORS_HEADERS });
 * ```
 * @see [OAuth 2.1 §3.1](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3.1)
 */
export const CORS_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': '*',
  'access-control-allow-methods': 'GET, POST, PUT, DELETE, OPTIONS',
  'access-control-allow-headers': 'Authorization, Content-Type, MCP-Protocol-Version, DPoP',
  'access-control-expose-headers': 'WWW-Authenticate, DPoP-Nonce, Retry-After, RateLimit, RateLimit-Policy',
  'access-control-max-age': '86400',
};

/**
 * The CORS fields of an actual (not preflight) response: any origin may read it, and these fields of it.
 * The method, header and max-age fields mean something only on a preflight answer (Fetch standard §3.2.3),
 * so the answers themselves go without them.
 *
 * @example
 * ```ts
 * return withHeaders(jsonResponse(metadata), CORS_RESPONSE_HEADERS);
 * ```
 * @see [Fetch standard §3.2.3](https://fetch.spec.whatwg.org/#http-responses)
 */
export const CORS_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  'access-control-allow-origin': CORS_HEADERS['access-control-allow-origin']!,
  'access-control-expose-headers': CORS_HEADERS['access-control-expose-headers']!,
};

/** Copies `headers` onto a response (responses from `fetch` may have immutable headers). */
export function withHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Escapes text for HTML element content and quoted attributes.
 *
 * @example
 * ```ts
 * `<p>${escapeHTML(client.clientName)}</p>`; // '<script>' becomes '&lt;script&gt;'
 * ```
 */
export function escapeHTML(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]!);
}

/**
 * Headers for every HTML page the server renders: no framing (clickjacking, RFC 9700 §4.16), no
 * third-party resources, no referrer leaking the authorization request.
 *
 * @example
 * ```ts
 * new Response(html, { headers: { 'content-type': 'text/html', ...PAGE_SECURITY_HEADERS } });
 * ```
 * @see [RFC 9700 §4.16](https://www.rfc-editor.org/rfc/rfc9700#section-4.16)
 */
export const PAGE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  // No form-action: Chrome and Safari apply it to the redirect a form POST answers with, which for the
  // consent form is the client's redirect URI on another origin.
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
};

/**
 * An HTML response with {@link PAGE_SECURITY_HEADERS}; for pages and for errors that must not redirect.
 *
 * @example
 * ```ts
 * return htmlResponse(`<p>${escapeHTML(message)}</p>`, 400);
 * ```
 * @see [RFC 9700 §4.16](https://www.rfc-editor.org/rfc/rfc9700#section-4.16)
 */
export function htmlResponse(html: string, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(html, {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', ...PAGE_SECURITY_HEADERS, ...headers },
  });
}
