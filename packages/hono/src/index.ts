import type { AuthInfo, AuthorizationServer, RequestContext, ResourceServerGuard } from '@keyward/core';
import { clientAddressFrom, trustedProxies, type TrustedProxies } from '@keyward/core/proxy';
import type { Context, MiddlewareHandler } from 'hono';

const FORM = /^application\/x-www-form-urlencoded\b/i;

/**
 * The body a middleware already read through `c.req.parseBody()`, `json()`, `text()` or `formData()`,
 * from Hono's cache of it.
 */
async function cachedBody(c: Context): Promise<BodyInit> {
  const { bodyCache } = c.req;
  // parseBody() keeps the bytes it read and json()/text() the text: both exactly what the client sent.
  if (bodyCache.arrayBuffer) return bodyCache.arrayBuffer;
  if (bodyCache.text) return bodyCache.text;
  if (bodyCache.formData && FORM.test(c.req.header('content-type') ?? '')) {
    // Hono would turn a cached FormData into multipart; a urlencoded form goes back as urlencoded, repeats kept.
    const form = new URLSearchParams();
    for (const [name, value] of await bodyCache.formData) if (typeof value === 'string') form.append(name, value);
    return form;
  }
  return c.req.arrayBuffer();
}

/** `c.req.raw`, or, when a middleware has consumed its body, a copy rebuilt from Hono's body cache. */
async function replayableRequest(c: Context): Promise<Request> {
  const raw = c.req.raw;
  if (!raw.bodyUsed) return raw;
  return new Request(raw.url, { method: raw.method, headers: raw.headers, body: await cachedBody(c), signal: raw.signal });
}

/**
 * The path of an absolute URL string exactly as sent, without a URL parse. A path that is not in normal
 * form simply finds no precomputed answer and takes the `fetch` path, which normalises it.
 */
function rawPathname(url: string): string {
  const start = url.indexOf('/', url.indexOf('://') + 3);
  if (start < 0) return '/';
  const query = url.indexOf('?', start);
  return query < 0 ? url.slice(start) : url.slice(start, query);
}

/** @hono/node-server keeps the Node request in `c.env.incoming` (its `HttpBindings`). */
function nodeSocketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/** The client's address and scheme; forwarded headers count only from a trusted peer. */
function connectionOf(c: Context, peerOf: (c: Context) => string | undefined, trusted: TrustedProxies | undefined): RequestContext {
  const peer = peerOf(c);
  // A Request's URL is serialised with a lower-case scheme, so no parse is needed to read it.
  const encrypted = c.req.url.startsWith('https:');
  if (!trusted) return { clientAddress: peer, protocol: encrypted ? 'https' : 'http' };
  const { address, protocol } = clientAddressFrom({ peer, encrypted, forwardedFor: c.req.header('x-forwarded-for'), forwardedProto: c.req.header('x-forwarded-proto') }, trusted);
  return { clientAddress: address, protocol };
}

/**
 * Options of {@link keyward}.
 *
 * @example
 * ```ts
 * import { getConnInfo } from 'hono/bun';
 * app.use(keyward(server, { clientAddress: (c) => getConnInfo(c).remote.address }));
 * ```
 * @see [Hono ConnInfo helper](https://hono.dev/docs/helpers/conninfo)
 */
export interface KeywardOptions {
  /**
   * The client's network address, for the server's per-source rate limits. Default: the socket address
   * under `@hono/node-server`; on other runtimes pass their `getConnInfo(c).remote.address`.
   */
  clientAddress?: (c: Context) => string | undefined;
  /**
   * Addresses and CIDR ranges of your reverse proxies (or `loopback`, `uniquelocal`). X-Forwarded-For and
   * X-Forwarded-Proto then count, but only when the peer ({@link clientAddress}) is one of them.
   */
  trustProxy?: string[];
}

/**
 * Middleware that serves a Keyward {@link AuthorizationServer} in a Hono app: requests for the server's
 * endpoints (and CORS preflights for them) go to `server.fetch(c.req.raw)`; everything else goes on to
 * your routes. A body an earlier middleware already read is rebuilt from Hono's body cache.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3011', store: new MemoryStore() });
 * const app = new Hono();
 * app.use(keyward(server));
 * ```
 * @see [OAuth 2.1 §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3)
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export function keyward(server: AuthorizationServer, options: KeywardOptions = {}): MiddlewareHandler {
  const clientAddress = options.clientAddress ?? nodeSocketAddress;
  const trusted = options.trustProxy && trustedProxies(options.trustProxy);
  return async (c, next) => {
    // Metadata, JWKS and preflights: precomputed bytes, answered without parsing the URL or reading the body.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const context = connectionOf(c, clientAddress, trusted);
    const answer = server.staticResponse(c.req.method, rawPathname(c.req.url), context);
    // A copy: @hono/node-server's Response keeps the object and adds Content-Length to it.
    if (answer) return new Response(answer.body, { status: answer.status, headers: { ...answer.headers } });
    // c.req.path may be percent-decoded; the server routes by the URL's pathname, exactly as sent.
    if (!server.handles(new URL(c.req.url).pathname)) return next();
    return server.fetch(await replayableRequest(c), context);
  };
}

/**
 * The Hono environment {@link bearerAuth} sets: `c.get('auth')` is the verified token.
 *
 * @example
 * ```ts
 * const mcpHandler = (c: Context<BearerAuthEnv>) => c.json({ subject: c.get('auth').extra?.subject });
 * ```
 * @see [RFC 9068 §2.2](https://www.rfc-editor.org/rfc/rfc9068#section-2.2)
 */
export interface BearerAuthEnv {
  Variables: { auth: AuthInfo };
}

/**
 * Options of {@link bearerAuth}.
 *
 * @example
 * ```ts
 * const options: BearerAuthOptions = { scopesFor: async (c) => (isAdminCall(await c.req.json()) ? ['mcp:admin'] : []) };
 * ```
 * @see [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)
 */
export interface BearerAuthOptions {
  /** Scopes this route needs beyond the guard's own. */
  scopes?: readonly string[];
  /**
   * Scopes one request needs, decided from it (its body, say): step-up for a tool that needs more. Read the
   * body through `c.req` (`json()`, `parseBody()`), which caches it for the route. An exception goes to
   * `app.onError`.
   */
  scopesFor?: (c: Context) => readonly string[] | Promise<readonly string[]>;
  /** The client's network address, as for {@link keyward}; the guard's rate limit counts per address. */
  clientAddress?: (c: Context) => string | undefined;
  /** Your reverse proxies, as for {@link keyward}. */
  trustProxy?: string[];
}

/**
 * Protects routes with RFC 6750 bearer tokens verified by a {@link ResourceServerGuard} (typically
 * `server.createGuard()`). On success `c.get('auth')` is the token's {@link AuthInfo}, which the MCP SDK's
 * `WebStandardStreamableHTTPServerTransport` takes as `authInfo`; otherwise the guard's 401/403 challenge
 * is the response, with `resource_metadata` pointing MCP clients at discovery. A 403 `insufficient_scope`
 * names every scope needed, those of `scopesFor` included. The body stays readable for the route.
 *
 * @example
 * ```ts
 * const adminTool = async (c: Context) => ((await c.req.json()).params?.name === 'admin_stats' ? ['mcp:admin'] : []);
 * app.post('/mcp', bearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), { scopesFor: adminTool }), async (c) =>
 *   transport.handleRequest(c.req.raw, { authInfo: c.get('auth'), parsedBody: await c.req.json() }),
 * );
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)
 */
export function bearerAuth(guard: ResourceServerGuard, options: BearerAuthOptions = {}): MiddlewareHandler<BearerAuthEnv> {
  const peerOf = options.clientAddress ?? nodeSocketAddress;
  const trusted = options.trustProxy && trustedProxies(options.trustProxy);
  return async (c, next) => {
    const scopes = [...(options.scopes ?? []), ...((await options.scopesFor?.(c)) ?? [])];
    const { clientAddress } = connectionOf(c, peerOf, trusted);
    // RFC 6750 §2.2: the guard also looks for a token in a form body (reading a clone), so one sent twice is refused.
    const result = await guard.authenticate(await replayableRequest(c), { scopes, clientAddress });
    if (!result.ok) return result.response;
    c.set('auth', result.auth);
    await next();
  };
}
