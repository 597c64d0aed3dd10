import type { AuthInfo, AuthorizationServer, RequestContext, ResourceServerGuard } from '@keyward/core';
import type { IncomingMessage } from 'node:http';
import {
  answerNodeRequest,
  type ClientAddressOptions,
  compileTrustProxy,
  formBodyHasToken,
  headerField,
  nodeRequestContext,
  pathNeedsParsing,
  PayloadTooLargeError,
  readNodeBody,
  toWebResponse,
} from '@keyward/core/node';
import { clientAddressFrom, type TrustedProxies } from '@keyward/core/proxy';
import { type Context, Hono, type MiddlewareHandler } from 'hono';

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

/**
 * Whether a form body carries an `access_token` too (RFC 6750 §2.2), so a token sent two ways is refused.
 * The route still gets the body: it is read from a copy, or from Hono's cache when a middleware read it.
 * Synchronous for the usual request without a form body.
 */
function formBodyToken(c: Context): boolean | Promise<boolean> {
  const contentType = header(c, 'content-type');
  if (!FORM.test(contentType ?? '') || c.req.method === 'GET' || c.req.method === 'HEAD') return false;
  return readFormBodyToken(c, contentType);
}

async function readFormBodyToken(c: Context, contentType: string | undefined): Promise<boolean> {
  const raw = c.req.raw;
  const text = raw.bodyUsed ? await new Response(await cachedBody(c)).text() : await raw.clone().text();
  return formBodyHasToken(contentType, text);
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

/** Under `@hono/node-server` the Node request, which it keeps in `c.env.incoming` (its `HttpBindings`). */
function nodeIncoming(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: IncomingMessage } | undefined)?.incoming;
  return incoming && Array.isArray(incoming.rawHeaders) ? incoming : undefined;
}

/**
 * True when no one has begun to read the Node request's body: neither a middleware through `c.req` (Hono's
 * body cache) nor the Web `Request` @hono/node-server builds on first use, which starts the stream flowing.
 */
function bodyUntouched(c: Context, incoming: IncomingMessage): boolean {
  return incoming.readableFlowing === null && !incoming.readableDidRead && !incoming.readableEnded && Object.keys(c.req.bodyCache).length === 0;
}

/** A request header, from Node's raw headers when there are some (no Web `Headers` built per call). */
function header(c: Context, name: string): string | undefined {
  const incoming = nodeIncoming(c);
  return (incoming ? headerField(incoming.rawHeaders, name) : c.req.raw.headers.get(name)) ?? undefined;
}

/**
 * The client's address and scheme; forwarded headers count only from a trusted peer. The peer is
 * `clientAddress(c)` when given, else the socket's address under `@hono/node-server`.
 */
function connectionOf(c: Context, options: ClientAddressOptions<Context>, trusted: TrustedProxies | undefined): RequestContext {
  const incoming = nodeIncoming(c);
  if (incoming) return nodeRequestContext(incoming, { peer: options.clientAddress ? options.clientAddress(c) : incoming.socket?.remoteAddress, trusted });
  const peer = options.clientAddress?.(c);
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
export interface KeywardOptions extends ClientAddressOptions<Context> {}

/**
 * Middleware that serves a Keyward {@link AuthorizationServer} in a Hono app: requests for the server's
 * endpoints (and CORS preflights for them) go to `server.fetch(c.req.raw)`; everything else goes on to
 * your routes. A body an earlier middleware already read is rebuilt from Hono's body cache. Under
 * `@hono/node-server` the client's address is the socket's (or `clientAddress(c)`), and an unread body is
 * read from the Node request as the Express and Fastify adapters read it: at most 64 KiB, a larger one
 * drained and answered with an RFC-shaped 413. On other runtimes pass `clientAddress`
 * (`getConnInfo(c).remote.address`).
 *
 * Every request of the app passes through this middleware. {@link keywardRoutes} serves the same endpoints
 * as Hono routes instead, so the app's other requests (your MCP endpoint's among them) never meet it.
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
  const trusted = compileTrustProxy(options.trustProxy);
  return async (c, next) => {
    const pathname = rawPathname(c.req.url);
    // Most requests are for the app's own routes: those go on without a URL parse or a context.
    if (!pathNeedsParsing(pathname) && !server.handles(pathname)) return next();
    // Metadata, JWKS and preflights: precomputed bytes, answered without parsing the URL or reading the body.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const context = connectionOf(c, options, trusted);
    const answer = server.staticResponse(c.req.method, pathname, context);
    // A copy: @hono/node-server's Response keeps the object and adds Content-Length to it.
    if (answer) return new Response(answer.body, { status: answer.status, headers: { ...answer.headers } });
    // c.req.path may be percent-decoded; the server routes by the URL's pathname, exactly as sent.
    const url = new URL(c.req.url);
    if (!server.handles(url.pathname)) return next();
    const incoming = nodeIncoming(c);
    if (!incoming || !bodyUntouched(c, incoming)) return server.fetch(await replayableRequest(c), context);
    let body: Buffer | null = null;
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      try {
        body = await readNodeBody(incoming);
      } catch (error) {
        if (error instanceof PayloadTooLargeError) return error.toResponse();
        throw error;
      }
    }
    return toWebResponse(await answerNodeRequest(server, incoming, url, body, context));
  };
}

/** A segment Hono's router would read as a pattern (`:id`, `*`, `{…}`) or match decoded (`%xx`). */
const PATTERN_SEGMENT = /[%:*?{}()+]/;

/**
 * Hono route paths covering the server's endpoints: each endpoint path, with any segment Hono would not
 * match literally widened to `*`, and the RFC 7592 client configuration paths under the registration
 * endpoint. A wider route only brings the request to the handler, which still asks the server.
 */
function routePaths(server: AuthorizationServer): Set<string> {
  const literal = (path: string) => path.split('/').map((segment) => (PATTERN_SEGMENT.test(segment) ? '*' : segment)).join('/');
  const paths = new Set(server.paths.map(literal));
  const registration = new URL(server.endpoints.registration).pathname;
  if (server.handles(registration)) paths.add(`${literal(registration)}/*`);
  return paths;
}

/**
 * The Keyward {@link AuthorizationServer}'s endpoints as a Hono app of routes, to mount at the root with
 * `app.route('/', keywardRoutes(server))`. It answers exactly what {@link keyward} answers, with the same
 * options, but as routes: a request for any other path (your MCP endpoint, say) is routed straight to its
 * own handler and never passes through Keyward. Mount it at `/`: the server's paths already include the
 * issuer's path, if it has one. Routes registered before it for the same paths take precedence.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3011', store: new MemoryStore() });
 * const app = new Hono();
 * app.route('/', keywardRoutes(server));
 * app.post('/mcp', requireBearerAuth(server.createGuard()), (c) => transport.handleRequest(c.req.raw, { authInfo: c.get('auth') }));
 * ```
 * @see [OAuth 2.1 §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3)
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export function keywardRoutes(server: AuthorizationServer, options: KeywardOptions = {}): Hono {
  const answer = keyward(server, options);
  const routes = new Hono();
  for (const path of routePaths(server)) routes.all(path, answer);
  return routes;
}

/**
 * The Hono environment {@link requireBearerAuth} sets: `c.get('auth')` is the verified token.
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
 * Options of {@link requireBearerAuth}.
 *
 * @example
 * ```ts
 * const options: RequireBearerAuthOptions = { scopesFor: async (c) => (isAdminCall(await c.req.json()) ? ['mcp:admin'] : []) };
 * ```
 * @see [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)
 */
export interface RequireBearerAuthOptions {
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
  trustProxy?: readonly string[];
}

/**
 * The former name of {@link RequireBearerAuthOptions}.
 *
 * @deprecated Use {@link RequireBearerAuthOptions}; this name goes in the next major version.
 * @example
 * ```ts
 * const options: RequireBearerAuthOptions = { scopes: ['mcp:tools'] };
 * ```
 */
export type BearerAuthOptions = RequireBearerAuthOptions;

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
 * app.post('/mcp', requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), { scopesFor: adminTool }), async (c) =>
 *   transport.handleRequest(c.req.raw, { authInfo: c.get('auth'), parsedBody: await c.req.json() }),
 * );
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)
 */
export function requireBearerAuth(guard: ResourceServerGuard, options: RequireBearerAuthOptions = {}): MiddlewareHandler<BearerAuthEnv> {
  const trusted = compileTrustProxy(options.trustProxy);
  return async (c, next) => {
    const scopes = options.scopesFor ? [...(options.scopes ?? []), ...(await options.scopesFor(c))] : options.scopes;
    // The Authorization field alone, without a Web Request (or, under @hono/node-server, Web Headers) per call.
    const bodyToken = formBodyToken(c);
    const result = await guard.authenticateHeader(header(c, 'authorization'), {
      scopes,
      bodyToken: typeof bodyToken === 'boolean' ? bodyToken : await bodyToken,
      method: c.req.method,
      clientAddress: connectionOf(c, options, trusted).clientAddress,
    });
    if (!result.ok) return result.response;
    c.set('auth', result.auth);
    await next();
  };
}

/**
 * The former name of {@link requireBearerAuth}, which Hono's own `hono/bearer-auth` middleware shares.
 *
 * @deprecated Use {@link requireBearerAuth}, the name the Express and Fastify adapters use too; this one
 * goes in the next major version.
 * @example
 * ```ts
 * app.post('/mcp', requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] })), (c) => c.text('ok'));
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 */
export const bearerAuth: typeof requireBearerAuth = requireBearerAuth;
