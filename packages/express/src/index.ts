import type { ServerResponse } from 'node:http';
import type { AuthInfo, AuthorizationServer, RequestContext, ResourceServerGuard } from '@keyward/core';
import { clientAddressFrom, trustedProxies, type TrustedProxies } from '@keyward/core/proxy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** Set by {@link requireBearerAuth}; the MCP SDK's transports read it from here as `extra.authInfo`. */
      auth?: AuthInfo;
    }
  }
}

// Token, revocation and introspection bodies are a few hundred bytes; this only bounds what an
// unauthenticated caller can make the process buffer (body-parser's own default is 100 kB).
const MAX_BODY_BYTES = 1024 * 1024;

const FORM = /^application\/x-www-form-urlencoded\b/i;
const FRAMING = /^(?:content-length|transfer-encoding)$/i;

function requestHost(req: Request): string {
  // Express 5's `req.host` rule, which Express 4 lacks (its `req.host` drops the port): X-Forwarded-Host
  // counts only when `trust proxy` trusts the peer, the same decision `req.protocol` makes.
  const trust = req.app.get('trust proxy fn') as ((address: string | undefined, hop: number) => boolean) | undefined;
  const forwarded = trust?.(req.socket.remoteAddress, 0) ? req.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  return forwarded || req.get('host') || 'localhost';
}

/** The absolute URL of the request as the client addressed it. */
function requestURL(req: Request): URL | null {
  // Absolute-form and `*` request targets never address an OAuth endpoint.
  if (!req.originalUrl.startsWith('/')) return null;
  try {
    return new URL(`${req.protocol}://${requestHost(req)}${req.originalUrl}`);
  } catch {
    return null;
  }
}

function requestHeaders(req: Request): Headers {
  const headers = new Headers();
  // rawHeaders keeps repeated fields apart, as the client sent them. The body handed on is a copy with its
  // own length, which the Request computes, so the framing fields stay behind.
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    if (!name.startsWith(':') && !FRAMING.test(name)) headers.append(name, req.rawHeaders[i + 1]!);
  }
  return headers;
}

function appendFormValue(form: URLSearchParams, name: string, value: unknown): void {
  // A repeated parameter must stay repeated: OAuth rejects `state=a&state=b`, which `String(['a','b'])` would hide.
  if (Array.isArray(value)) for (const item of value) appendFormValue(form, name, item);
  else if (value !== null && typeof value === 'object') {
    // `extended: true` (qs) turned `a[b]=c` into objects; put the brackets back.
    for (const [key, item] of Object.entries(value)) appendFormValue(form, `${name}[${key}]`, item);
  } else if (value !== undefined) form.append(name, String(value));
}

/** Re-encodes a body that a parser (express.json(), express.urlencoded(), …) has already read. */
function encodeParsedBody(body: unknown, contentType: string | undefined): BodyInit | null {
  if (body === undefined) return null;
  if (typeof body === 'string') return body;
  // The Request copies the bytes itself.
  if (Buffer.isBuffer(body)) return body as Uint8Array<ArrayBuffer>;
  if (FORM.test(contentType ?? '')) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(body as object)) appendFormValue(form, name, value);
    return form.toString();
  }
  return JSON.stringify(body);
}

async function readRawBody(req: Request): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    // Same shape as body-parser's error, so an app's error handler treats both alike.
    if (size > MAX_BODY_BYTES) throw Object.assign(new Error('request entity too large'), { status: 413, statusCode: 413, expose: true, type: 'entity.too.large' });
    chunks.push(chunk);
  }
  // The Request copies the bytes it is given, so the Buffer goes as it is rather than copied once more here.
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function hasBody(req: Request): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD';
}

function wasParsed(req: Request): boolean {
  // body-parser 1 (Express 4) marks `_body`; body-parser 2 leaves only a consumed stream behind.
  return req.readableEnded || Boolean((req as { _body?: unknown })._body);
}

/** The whole request for `server.fetch`: the raw body when the stream is unread, else the parsed one re-encoded. */
async function toWebRequest(req: Request, url: URL): Promise<globalThis.Request> {
  let body: BodyInit | null = null;
  if (hasBody(req)) body = wasParsed(req) ? encodeParsedBody(req.body, req.get('content-type')) : ((await readRawBody(req)) as Uint8Array<ArrayBuffer>);
  return new Request(url, { method: req.method, headers: requestHeaders(req), body });
}

/**
 * A header field as `Headers.get()` gives it: repeated fields joined with ", ". Node's `req.headers` keeps
 * only the first `Authorization`, which would let a request with two pass where the Web path refuses it.
 */
function headerField(req: Request, name: string): string | null {
  let value: string | null = null;
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) value = value === null ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/**
 * Whether a form body some parser already read carries a non-empty `access_token` (RFC 6750 §2.2). The
 * stream is never read here, because the route after the guard needs it.
 */
function formBodyHasToken(req: Request): boolean {
  if (!hasBody(req) || !wasParsed(req) || !FORM.test(req.get('content-type') ?? '')) return false;
  const body = encodeParsedBody(req.body, req.get('content-type'));
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : '';
  return new URLSearchParams(text).getAll('access_token').some((value) => value !== '');
}

/**
 * Options of {@link keyward}.
 *
 * @example
 * ```ts
 * app.use(keyward(server, { trustProxy: ['10.0.0.0/8'] }));
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export interface KeywardMiddlewareOptions {
  /**
   * Addresses and CIDR ranges of your reverse proxies (or `loopback`, `uniquelocal`). X-Forwarded-For and
   * X-Forwarded-Proto then count, but only from those peers; otherwise the socket is the client. Without
   * it Express's own `trust proxy` setting decides (`req.ip`, `req.protocol`).
   */
  trustProxy?: string[];
}

/** The client's address and scheme: by `trustProxy` when given, else by Express's `trust proxy`. */
function connectionOf(req: Request, trusted: TrustedProxies | undefined): RequestContext {
  if (!trusted) return { clientAddress: req.ip ?? req.socket.remoteAddress, protocol: req.protocol === 'https' ? 'https' : 'http' };
  const { address, protocol } = clientAddressFrom(
    { peer: req.socket.remoteAddress, encrypted: (req.socket as { encrypted?: boolean }).encrypted === true, forwardedFor: req.get('x-forwarded-for'), forwardedProto: req.get('x-forwarded-proto') },
    trusted,
  );
  return { clientAddress: address, protocol };
}

/**
 * Writes a Web `Response` to a Node/Express response: status, every header (each `Set-Cookie` kept apart)
 * and the body bytes. Use it to send what `server.completeInteraction()` or `server.denyInteraction()`
 * returns from your own login route.
 *
 * @example
 * ```ts
 * app.post('/login', express.urlencoded({ extended: false }), async (req, res) => {
 *   const user = await checkPassword(req.body.username, req.body.password);
 *   sendWebResponse(res, await server.completeInteraction(req.body.interaction, { subject: user.id }));
 * });
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function sendWebResponse(res: ServerResponse, response: globalThis.Response): Promise<void> {
  res.statusCode = response.status;
  for (const [name, value] of response.headers) {
    // Headers joins repeated fields with ", ", which is only wrong for Set-Cookie (RFC 6265 §3).
    if (name !== 'set-cookie') res.setHeader(name, value);
  }
  const cookies = response.headers.getSetCookie();
  if (cookies.length) res.setHeader('set-cookie', cookies);
  res.end(response.body ? Buffer.from(await response.arrayBuffer()) : undefined);
}

/**
 * Mounts a Keyward {@link AuthorizationServer} in an Express app (4 or 5) with one line. Requests for the
 * server's endpoints (and CORS preflights for them) go to `server.fetch`; everything else falls through to
 * your routes. Body parsers may run before or after it: an unread body is read raw, a parsed one re-encoded.
 *
 * The client's address is passed as `clientAddress` (registration and sign-in rate limits count per
 * address): it is `req.ip`, so behind a reverse proxy set `app.set('trust proxy', …)` to the proxies you
 * run, or every client shares the proxy's address; never trust `X-Forwarded-For` from the open internet.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3009', store: new MemoryStore() });
 * const app = express();
 * app.set('trust proxy', 'loopback'); // only when a proxy on this machine sets X-Forwarded-*
 * app.use(keyward(server));
 * ```
 * @see [OAuth 2.1 §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3)
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 * @see [Express behind proxies](https://expressjs.com/en/guide/behind-proxies.html)
 */
export function keyward(server: AuthorizationServer, options: KeywardMiddlewareOptions = {}): RequestHandler {
  const trusted = options.trustProxy && trustedProxies(options.trustProxy);
  return (req: Request, res: Response, next: NextFunction): void => {
    // Metadata, JWKS and preflights: precomputed bytes, written without building a URL or a Web Request.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const context = connectionOf(req, trusted);
    const query = req.originalUrl.indexOf('?');
    const answer = server.staticResponse(req.method, query < 0 ? req.originalUrl : req.originalUrl.slice(0, query), context);
    if (answer) {
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body ?? undefined);
      return;
    }
    const url = requestURL(req);
    if (!url || !server.handles(url.pathname)) return next();
    toWebRequest(req, url)
      .then((request) => server.fetch(request, context))
      .then((response) => sendWebResponse(res, response))
      .catch(next);
  };
}

/**
 * Options of {@link requireBearerAuth}.
 *
 * @example
 * ```ts
 * const options: RequireBearerAuthOptions = { scopes: ['mcp:tools'], scopesFor: (req) => (isAdminCall(req.body) ? ['mcp:admin'] : []) };
 * ```
 */
export interface RequireBearerAuthOptions {
  /** Scopes this route needs beyond the guard's own. */
  scopes?: readonly string[];
  /**
   * Scopes one request needs, decided from the request itself (its parsed JSON-RPC body, say): step-up for
   * a tool that needs more. A body is only there if a parser ran before the guard. An exception (or a
   * rejected promise) goes to Express's error handling.
   */
  scopesFor?: (req: Request) => readonly string[] | Promise<readonly string[]>;
  /** Your reverse proxies, as for {@link keyward}: the guard's rate limit counts per client address. */
  trustProxy?: string[];
}

/**
 * Protects routes with RFC 6750 bearer tokens verified by a {@link ResourceServerGuard} (typically
 * `server.createGuard()`). On success `req.auth` holds the token's {@link AuthInfo}, where the MCP SDK's
 * `StreamableHTTPServerTransport` finds it; otherwise the guard's 401/403 challenge is sent, with
 * `resource_metadata` pointing MCP clients at discovery. A 403 `insufficient_scope` names every scope the
 * request needs (the guard's, `options.scopes` and `options.scopesFor(req)`) together with those the token
 * already has, so the client can ask for all of them at once. The body stream is never read, so the route's
 * own parser still sees it; a form body already parsed is passed on, so a token sent in both the header and
 * the body is refused.
 *
 * @example
 * ```ts
 * const guard = server.createGuard({ scopes: ['mcp:tools'] });
 * app.post('/mcp', express.json(), requireBearerAuth(guard, {
 *   // tools/call of admin_stats needs mcp:admin as well: 403 insufficient_scope, scope="mcp:tools mcp:admin"
 *   scopesFor: (req) => (req.body?.method === 'tools/call' && req.body.params?.name === 'admin_stats' ? ['mcp:admin'] : []),
 * }), (req, res) => {
 *   transport.handleRequest(req, res, req.body); // tools receive req.auth as extra.authInfo
 * });
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)
 * @see [MCP authorization: scope challenge handling](https://modelcontextprotocol.io/specification/2025-11-25/basic/authorization#scope-challenge-handling)
 */
export function requireBearerAuth(guard: ResourceServerGuard, options: RequireBearerAuthOptions = {}): RequestHandler {
  const trusted = options.trustProxy && trustedProxies(options.trustProxy);
  return (req: Request, res: Response, next: NextFunction): void => {
    const { clientAddress } = connectionOf(req, trusted);
    Promise.resolve()
      .then(() => options.scopesFor?.(req))
      // The Authorization field alone, without a Web Request per guarded call.
      .then((extra) =>
        guard.authenticateHeader(headerField(req, 'authorization'), {
          scopes: [...(options.scopes ?? []), ...(extra ?? [])],
          bodyToken: formBodyHasToken(req),
          method: req.method,
          clientAddress,
        }),
      )
      .then((result) => {
        if (!result.ok) return sendWebResponse(res, result.response);
        req.auth = result.auth;
        next();
      })
      .catch(next);
  };
}
