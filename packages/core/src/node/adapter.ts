/**
 * The Node glue that the Express, Fastify and Hono (`@hono/node-server`) adapters share: reading a request
 * body within the limit the server itself applies, re-encoding a body a framework has already parsed,
 * turning a Node request into a Web `Request`, writing a Web `Response` or a precomputed answer to a Node
 * response, and finding the client's address behind trusted proxies. One implementation, so the adapters
 * cannot drift apart.
 *
 * @module
 */
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { OAuthError } from '../protocol/errors.js';
import { DRAIN_BYTES, MAX_BODY_BYTES, WEB_REQUEST } from '../protocol/http.js';
import { clientAddressFrom, trustedProxies, type TrustedProxies } from '../protocol/proxy.js';
import { ANSWER_PREREAD, isReply, toResponse, type Reply } from '../protocol/reply.js';
import type { AuthorizationServer, RequestContext, StaticResponse } from '../server/server.js';

const FORM = /^application\/x-www-form-urlencoded\b/i;
const FRAMING = /^(?:content-length|transfer-encoding)$/i;

/**
 * Options every Keyward adapter takes for the client's address: the per-address rate limits (registration,
 * sign-in, the bearer guard) count by it, and `enforceHTTPS` reads the scheme the same way.
 *
 * @example
 * ```ts
 * const options: ClientAddressOptions<IncomingMessage> = { trustProxy: ['loopback', '10.0.0.0/8'] };
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export interface ClientAddressOptions<R> {
  /**
   * The address of the peer that sent the request, for runtimes and setups where the socket does not tell
   * it. Default: the socket's remote address (on Express and Fastify without `trustProxy`, the framework's
   * own `req.ip`).
   */
  clientAddress?: (request: R) => string | undefined;
  /**
   * Addresses and CIDR ranges of your reverse proxies (or `loopback`, `linklocal`, `uniquelocal`).
   * X-Forwarded-For and X-Forwarded-Proto then count, but only when the peer is one of them; never trust
   * them from the open internet.
   */
  trustProxy?: readonly string[];
}

/**
 * Compiles `trustProxy` once, when an adapter is created, so a malformed entry fails at start-up.
 *
 * @example
 * ```ts
 * const trusted = compileTrustProxy(options.trustProxy); // undefined when none was given
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export function compileTrustProxy(entries: readonly string[] | undefined): TrustedProxies | undefined {
  return entries ? trustedProxies(entries) : undefined;
}

/** A header as one string: repeated fields joined with ",", as a list-valued field may be (RFC 9110 §5.3). */
function joined(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/**
 * The {@link RequestContext} of a Node request: the client's address and scheme, with X-Forwarded-For and
 * X-Forwarded-Proto believed only when `peer` is a trusted proxy. `peer` defaults to the socket's address.
 *
 * @example
 * ```ts
 * const context = nodeRequestContext(req, { trusted: compileTrustProxy(['loopback']) });
 * const response = await server.fetch(request, context);
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export function nodeRequestContext(req: IncomingMessage, options: { peer?: string | undefined; trusted?: TrustedProxies | undefined } = {}): RequestContext {
  const socket = req.socket as { remoteAddress?: string; encrypted?: boolean } | undefined;
  const peer = 'peer' in options ? options.peer : socket?.remoteAddress;
  const encrypted = socket?.encrypted === true;
  if (!options.trusted) return { clientAddress: peer, protocol: encrypted ? 'https' : 'http' };
  const { address, protocol } = clientAddressFrom(
    { peer, encrypted, forwardedFor: joined(req.headers['x-forwarded-for']), forwardedProto: joined(req.headers['x-forwarded-proto']) },
    options.trusted,
  );
  return { clientAddress: address, protocol };
}

/**
 * A header field as `Headers.get()` gives it, from Node's `rawHeaders`: repeated fields joined with ", ".
 * Node's `req.headers` keeps only the first `Authorization`, which would let a request with two pass where
 * the Web path refuses it. `name` must be lower-case.
 *
 * @example
 * ```ts
 * const result = await guard.authenticateHeader(headerField(req.rawHeaders, 'authorization'), { method: req.method });
 * ```
 * @see [RFC 9110 §5.3](https://www.rfc-editor.org/rfc/rfc9110#section-5.3)
 */
export function headerField(rawHeaders: readonly string[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const field = rawHeaders[i]!;
    if (field.length === name.length && field.toLowerCase() === name) value = value === null ? rawHeaders[i + 1]! : `${value}, ${rawHeaders[i + 1]!}`;
  }
  return value;
}

/**
 * The request's header fields as Web `Headers`, each repeated field kept apart as the client sent it. The
 * framing fields (Content-Length, Transfer-Encoding) and HTTP/2 pseudo-headers stay behind: the body handed
 * on is a complete copy whose length the `Request` computes.
 *
 * @example
 * ```ts
 * const request = new Request(url, { method: req.method, headers: webHeaders(req.rawHeaders), body });
 * ```
 * @see [RFC 9110 §6.4](https://www.rfc-editor.org/rfc/rfc9110#section-6.4)
 */
export function webHeaders(rawHeaders: readonly string[]): Headers {
  const headers = new Headers();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    if (!name.startsWith(':') && !FRAMING.test(name)) headers.append(name, rawHeaders[i + 1]!);
  }
  return headers;
}

function appendFormValue(form: URLSearchParams, name: string, value: unknown): void {
  // A repeated parameter must stay repeated: OAuth rejects `state=a&state=b`, which `String(['a','b'])` would hide.
  if (Array.isArray(value)) for (const item of value) appendFormValue(form, name, item);
  else if (value !== null && typeof value === 'object') {
    // qs (`express.urlencoded({ extended: true })`) turned `a[b]=c` into objects; the brackets go back.
    for (const [key, item] of Object.entries(value)) appendFormValue(form, `${name}[${key}]`, item);
  } else if (value !== undefined) form.append(name, String(value));
}

/**
 * The bytes of a body that a framework's parser (express.json(), express.urlencoded(), @fastify/formbody,
 * a hook) has already turned into a value: a string or Buffer as it is, an object by its content type
 * (form-urlencoded with repeated and bracketed names kept, else JSON). `undefined` and `null` mean no body.
 *
 * @example
 * ```ts
 * encodeParsedBody({ scope: ['a', 'b'], claims: { name: 'x' } }, 'application/x-www-form-urlencoded');
 * // 'scope=a&scope=b&claims%5Bname%5D=x'
 * ```
 * @see [RFC 6749 Appendix B](https://www.rfc-editor.org/rfc/rfc6749#appendix-B)
 */
export function encodeParsedBody(body: unknown, contentType: string | undefined): string | Uint8Array<ArrayBuffer> | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return body as Uint8Array<ArrayBuffer>;
  if (!FORM.test(contentType ?? '')) return JSON.stringify(body);
  const form = new URLSearchParams();
  for (const [name, value] of Object.entries(body as object)) appendFormValue(form, name, value);
  return form.toString();
}

/**
 * Whether a form-urlencoded body carries a non-empty `access_token` (RFC 6750 §2.2), which the bearer
 * guard must know so that a token sent both in the header and in the body is refused. `body` is the bytes,
 * a string, or the value a framework's parser made of them; any other content type carries none, and is
 * not looked at.
 *
 * @example
 * ```ts
 * const bodyToken = formBodyHasToken(req.headers['content-type'], req.body);
 * ```
 * @see [RFC 6750 §2.2](https://www.rfc-editor.org/rfc/rfc6750#section-2.2)
 */
export function formBodyHasToken(contentType: string | undefined, body: unknown): boolean {
  if (body === undefined || body === null || !FORM.test(contentType ?? '')) return false;
  const bytes = encodeParsedBody(body, contentType)!;
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  if (!text.includes('access_token')) return false;
  return new URLSearchParams(text).getAll('access_token').some((value) => value !== '');
}

/**
 * Thrown by {@link readNodeBody} when a body exceeds the limit. The body has been read to its end (within
 * a generous bound) before this is thrown, so the client receives the answer and no EPIPE or reset.
 *
 * @example
 * ```ts
 * try { body = await readNodeBody(req); } catch (error) { if (error instanceof PayloadTooLargeError) return writeWebResponse(res, error.toResponse()); throw error; }
 * ```
 * @see [RFC 9110 §15.5.14](https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14)
 */
export class PayloadTooLargeError extends OAuthError {
  /** True when the rest of the body was not read: the connection should close after the answer. */
  readonly closeConnection: boolean;

  constructor(limit: number, closeConnection: boolean) {
    // The same code and text as the server's own refusal (readBodyText).
    super('invalid_request', { description: `request body exceeds ${limit} bytes`, status: 413, headers: closeConnection ? { connection: 'close' } : {} });
    this.closeConnection = closeConnection;
  }

  /** The RFC-shaped 413 with the headers every Keyward answer carries. */
  override toResponse(extraHeaders?: Record<string, string>): Response {
    return super.toResponse({ 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer', ...extraHeaders });
  }
}

/**
 * Reads a Node request body, refusing more than `limit` bytes (default the server's {@link MAX_BODY_BYTES})
 * with a {@link PayloadTooLargeError}. An oversized body is still read to its end and thrown away, so the
 * client gets the 413 instead of a broken pipe; only a body beyond 16 times the limit is cut off.
 *
 * @example
 * ```ts
 * const bytes = await readNodeBody(req); // Buffer, at most 64 KiB
 * ```
 * @see [RFC 9110 §15.5.14](https://www.rfc-editor.org/rfc/rfc9110#section-15.5.14)
 */
export function readNodeBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  // A body announced beyond the drain bound is not read at all; the answer closes the connection.
  if (Number(req.headers['content-length'] ?? '0') > DRAIN_BYTES) return Promise.reject(new PayloadTooLargeError(limit, true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
      else if (size > DRAIN_BYTES) {
        // Listeners go, the stream pauses: a for-await or destroy() here would reset the socket before the 413 is written.
        cleanup();
        req.pause();
        reject(new PayloadTooLargeError(limit, true));
      }
    };
    const onEnd = (): void => {
      cleanup();
      if (size > limit) reject(new PayloadTooLargeError(limit, false));
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    };
    const onError = (error: Error): void => {
      cleanup();
      reject(error);
    };
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/**
 * A Web `Request` for `server.fetch` from a Node request whose body the caller has in hand: the bytes read
 * by {@link readNodeBody}, or those {@link encodeParsedBody} rebuilt. GET and HEAD carry none.
 *
 * @example
 * ```ts
 * const request = toWebRequest(req, new URL(req.url!, issuer), await readNodeBody(req));
 * sendResponse(res, await server.fetch(request, nodeRequestContext(req)));
 * ```
 * @see [RFC 9110 §9.3](https://www.rfc-editor.org/rfc/rfc9110#section-9.3)
 */
export function toWebRequest(req: IncomingMessage, url: URL | string, body: string | Uint8Array | null): Request {
  const method = req.method ?? 'GET';
  return new Request(url, { method, headers: webHeaders(req.rawHeaders), body: method === 'GET' || method === 'HEAD' ? null : (body as BodyInit | null) });
}

/**
 * What {@link answerNodeRequest} gives: a Web `Response` (pages, redirects) or, from the token, revocation,
 * introspection and registration endpoints, the status, header fields (lower-case names) and body text
 * as plain values. Write it with {@link writeAnswer}, {@link answerParts} or {@link toWebResponse}.
 *
 * @example
 * ```ts
 * const answer: NodeAnswer = await answerNodeRequest(server, req, url, body, context);
 * ```
 */
export type NodeAnswer = Response | Reply;

const utf8 = new TextDecoder();

/**
 * The header fields of a Node request as `Headers`: `get` and `has` read Node's raw header list directly,
 * every other member a real `Headers` built from it on first use. Framing fields and pseudo-headers are
 * hidden, as in {@link webHeaders}.
 */
class RawHeaders {
  readonly #raw: readonly string[];
  #headers: Headers | undefined;

  constructor(raw: readonly string[]) {
    this.#raw = raw;
  }

  get(name: string): string | null {
    if (this.#headers) return this.#headers.get(name);
    const lower = name.toLowerCase();
    return lower.startsWith(':') || FRAMING.test(lower) ? null : headerField(this.#raw, lower);
  }

  has(name: string): boolean {
    return this.get(name) !== null;
  }

  [WEB_REQUEST](): Headers {
    return (this.#headers ??= webHeaders(this.#raw));
  }
}

/**
 * A Web `Request` over a Node request whose body the glue has already read: `method`, `url` and `headers`
 * come straight from the Node request, and any other member (`signal`, `clone()`, …) from a real bodiless
 * `Request` built on first use. The API endpoints read only the first three, so a token request builds no
 * `Request`, no `Headers` and no `AbortSignal`. `instanceof Request` holds, and code that reads other
 * members gets what the real `Request` gives; application hooks are handed the real one.
 */
class NodeRequestView {
  readonly method: string;
  readonly url: string;
  readonly headers: RawHeaders;
  #request: Request | undefined;

  constructor(method: string, url: string, rawHeaders: readonly string[]) {
    this.method = method;
    this.url = url;
    this.headers = new RawHeaders(rawHeaders);
  }

  [WEB_REQUEST](): Request {
    return (this.#request ??= new Request(this.url, { method: this.method, headers: this.headers[WEB_REQUEST]() }));
  }
}

type View = { [WEB_REQUEST](): object };

/** Every other member of `proto` on `view`, read from or called on the real object the view builds. */
function delegateTo(view: { prototype: object }, proto: object): void {
  for (const name of Reflect.ownKeys(proto)) {
    if (name === 'constructor' || Object.hasOwn(view.prototype, name)) continue;
    const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
    if (descriptor.get) {
      const get = descriptor.get;
      Object.defineProperty(view.prototype, name, { configurable: true, get(this: View) { return get.call(this[WEB_REQUEST]()); } });
    } else if (typeof descriptor.value === 'function') {
      const method = descriptor.value as (...args: unknown[]) => unknown;
      Object.defineProperty(view.prototype, name, { configurable: true, writable: true, value(this: View, ...args: unknown[]) { return method.apply(this[WEB_REQUEST](), args); } });
    }
  }
  Object.setPrototypeOf(view.prototype, proto);
}
delegateTo(RawHeaders, Headers.prototype);
delegateTo(NodeRequestView, Request.prototype);

/**
 * Answers a request for one of `server`'s endpoints whose body the adapter has already read (`body`; null
 * for none). The server receives a Web `Request` without a body stream and reads the body given here, and
 * the API endpoints answer with plain values, so a token request makes neither a Web body stream nor a Web
 * `Response`. `server.fetch` gives the same answers; this is the cheaper path for Node adapters.
 *
 * @example
 * ```ts
 * const body = req.method === 'GET' ? null : await readNodeBody(req);
 * await writeAnswer(res, await answerNodeRequest(server, req, url, body, nodeRequestContext(req)));
 * ```
 * @see [RFC 9110 §9.3.3](https://www.rfc-editor.org/rfc/rfc9110#section-9.3.3)
 */
export function answerNodeRequest(server: AuthorizationServer, req: IncomingMessage, url: URL, body: string | Uint8Array | null, context: RequestContext): Promise<NodeAnswer> {
  const method = req.method ?? 'GET';
  const request = new NodeRequestView(method, url.href, req.rawHeaders) as unknown as Request;
  if (body === null || method === 'GET' || method === 'HEAD') return server[ANSWER_PREREAD](request, context, url.pathname, null, 0);
  const text = typeof body === 'string' ? body : utf8.decode(body);
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  return server[ANSWER_PREREAD](request, context, url.pathname, text, size);
}

/**
 * Writes an answer of {@link answerNodeRequest} to a Node response. Resolves when it has been handed to
 * the socket.
 *
 * @example
 * ```ts
 * await writeAnswer(res, await answerNodeRequest(server, req, url, body, context));
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function writeAnswer(res: ServerResponse, answer: NodeAnswer): Promise<void> {
  if (!isReply(answer)) return writeWebResponse(res, answer);
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body ?? undefined);
}

/**
 * The status, header fields and body of an answer of {@link answerNodeRequest} as plain values, for
 * frameworks that send through their own reply object (Fastify's `reply.code().headers().send()`).
 *
 * @example
 * ```ts
 * const { status, headers, body } = await answerParts(await answerNodeRequest(server, request.raw, url, body, context));
 * return reply.code(status).headers(headers).send(body);
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function answerParts(answer: NodeAnswer): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer | undefined }> {
  if (!isReply(answer)) return responseParts(answer);
  // Bytes, not a string: a framework may append a charset to the media type of a string body.
  return { status: answer.status, headers: answer.headers, body: answer.body === null ? undefined : Buffer.from(answer.body) };
}

/**
 * An answer of {@link answerNodeRequest} as a Web `Response`, for frameworks whose handlers return one
 * (Hono).
 *
 * @example
 * ```ts
 * return toWebResponse(await answerNodeRequest(server, incoming, url, body, context));
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export function toWebResponse(answer: NodeAnswer): Response {
  return toResponse(answer);
}

/** The header fields of `response` for `writeHead`, each Set-Cookie its own value. */
function headersOf(response: Response): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  // Headers joins repeated fields with ", ", which is only wrong for Set-Cookie (RFC 6265 §3).
  for (const [name, value] of response.headers) if (name !== 'set-cookie') headers[name] = value;
  const cookies = response.headers.getSetCookie();
  if (cookies.length) headers['set-cookie'] = cookies;
  return headers;
}

/**
 * Writes a Web `Response` to a Node `ServerResponse`: status, every header (each `Set-Cookie` kept apart)
 * and the body bytes. Resolves when the response has been handed to the socket.
 *
 * @example
 * ```ts
 * await writeWebResponse(res, await server.completeInteraction(interaction, { subject: user.id }));
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function writeWebResponse(res: ServerResponse, response: Response): Promise<void> {
  const body = response.body ? new Uint8Array(await response.arrayBuffer()) : undefined;
  res.writeHead(response.status, headersOf(response));
  res.end(body);
}

/**
 * The status, headers and body bytes of a Web `Response` as plain values, for frameworks that send
 * through their own reply object (Fastify's `reply.code().headers().send()`).
 *
 * @example
 * ```ts
 * const { status, headers, body } = await responseParts(response);
 * return reply.code(status).headers(headers).send(body);
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function responseParts(response: Response): Promise<{ status: number; headers: Record<string, string | string[]>; body: Buffer | undefined }> {
  const body = response.body ? Buffer.from(await response.arrayBuffer()) : undefined;
  return { status: response.status, headers: headersOf(response), body };
}

/**
 * Writes an answer from `server.staticResponse()` (metadata, JWKS, preflight) to a Node response: the
 * precomputed bytes as they are, with no Web `Response` in between.
 *
 * @example
 * ```ts
 * const answer = server.staticResponse(req.method, pathname, nodeRequestContext(req));
 * if (answer) return writeStaticResponse(res, answer);
 * ```
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export function writeStaticResponse(res: ServerResponse, answer: StaticResponse): void {
  res.writeHead(answer.status, answer.headers as IncomingHttpHeaders as Record<string, string>);
  res.end(answer.body ?? undefined);
}

/**
 * The path of a request target exactly as sent (without the query), as `staticResponse` and `handles`
 * expect it. A target that is not origin-form (`*`, absolute-form) gives `undefined`.
 *
 * @example
 * ```ts
 * const pathname = requestPathname(req.url ?? '/'); // '/.well-known/oauth-authorization-server'
 * ```
 * @see [RFC 9112 §3.2](https://www.rfc-editor.org/rfc/rfc9112#section-3.2)
 */
export function requestPathname(target: string): string | undefined {
  if (!target.startsWith('/')) return undefined;
  const query = target.indexOf('?');
  return query < 0 ? target : target.slice(0, query);
}

/** Percent-escapes, backslashes, dot segments, the path percent-encode set and non-ASCII: what a URL parser rewrites. */
const NEEDS_PARSE = /[%\\"#<>`{}\x00-\x20\x7f-\uffff]|\/\.\.?(?:\/|$)/;

/**
 * True when a request path may differ from the pathname a URL parser makes of it (percent-escapes, dot
 * segments, backslashes, bytes outside printable ASCII). Any other path is already the one the server
 * routes by, so an adapter can pass a request for another route on without building a URL.
 *
 * @example
 * ```ts
 * if (!pathNeedsParsing(pathname) && !server.handles(pathname)) return next();
 * ```
 * @see [RFC 3986 §5.2.4, §6.2.2](https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2)
 */
export function pathNeedsParsing(pathname: string): boolean {
  return NEEDS_PARSE.test(pathname);
}
