import type { ServerResponse } from 'node:http';
import type { AuthInfo, AuthorizationServer, RequestContext, ResourceServerGuard } from '@keyward/core';
import {
  answerNodeRequest,
  type ClientAddressOptions,
  compileTrustProxy,
  encodeParsedBody,
  formBodyHasToken,
  headerField,
  nodeRequestContext,
  pathNeedsParsing,
  PayloadTooLargeError,
  readNodeBody,
  requestPathname,
  writeAnswer,
  writeStaticResponse,
  writeWebResponse,
} from '@keyward/core/node';
import type { TrustedProxies } from '@keyward/core/proxy';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

declare global {
  namespace Express {
    interface Request {
      /** Set by {@link requireBearerAuth}; the MCP SDK's transports read it from here as `extra.authInfo`. */
      auth?: AuthInfo;
    }
  }
}

type TrustProxyFn = (address: string | undefined, hop: number) => boolean;

/**
 * Whether Express's `trust proxy` setting trusts the peer. Only then do X-Forwarded-For, -Proto and -Host
 * count in `req.ip`, `req.protocol` and `req.host`; otherwise those are the socket's address, its scheme
 * and the Host field, which this adapter reads directly instead of through Express's getters (`req.ip`
 * builds the list of forwarded addresses even when none counts).
 */
function expressTrustsPeer(req: Request): boolean {
  const trust = req.app.get('trust proxy fn') as TrustProxyFn | undefined;
  return trust !== undefined && trust(req.socket.remoteAddress, 0);
}

/** `req.protocol`, read from the socket when the peer is not trusted (Express's own rule then). */
function expressProtocol(req: Request, peerTrusted: boolean): 'http' | 'https' {
  if (peerTrusted) return req.protocol === 'https' ? 'https' : 'http';
  return (req.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
}

function requestHost(req: Request, peerTrusted: boolean): string {
  // Express 5's `req.host` rule, which Express 4 lacks (its `req.host` drops the port): X-Forwarded-Host
  // counts only when `trust proxy` trusts the peer, the same decision `req.protocol` makes.
  const forwarded = peerTrusted ? req.get('x-forwarded-host')?.split(',')[0]?.trim() : undefined;
  return forwarded || req.get('host') || 'localhost';
}

/** The absolute URL of the request as the client addressed it. */
function requestURL(req: Request, peerTrusted: boolean): URL | null {
  // Absolute-form and `*` request targets never address an OAuth endpoint.
  if (!req.originalUrl.startsWith('/')) return null;
  try {
    return new URL(`${expressProtocol(req, peerTrusted)}://${requestHost(req, peerTrusted)}${req.originalUrl}`);
  } catch {
    return null;
  }
}

function hasBody(req: Request): boolean {
  return req.method !== 'GET' && req.method !== 'HEAD';
}

function wasParsed(req: Request): boolean {
  // body-parser 1 (Express 4) marks `_body`; body-parser 2 leaves only a consumed stream behind.
  return req.readableEnded || Boolean((req as { _body?: unknown })._body);
}

/** The body for `server.fetch`: the raw bytes when the stream is unread (within the server's limit), else the parsed body re-encoded. */
async function requestBody(req: Request): Promise<string | Uint8Array | null> {
  if (!hasBody(req)) return null;
  return wasParsed(req) ? encodeParsedBody(req.body, req.get('content-type')) : readNodeBody(req);
}

/**
 * Options of {@link keyward}.
 *
 * @example
 * ```ts
 * app.use(keyward(server, { trustProxy: ['10.0.0.0/8'] }));
 * // or, where something in front has already worked out the client:
 * app.use(keyward(server, { clientAddress: (req) => req.get('cf-connecting-ip') }));
 * ```
 * @see [RFC 7239 §5.2](https://www.rfc-editor.org/rfc/rfc7239#section-5.2)
 */
export interface KeywardMiddlewareOptions extends ClientAddressOptions<Request> {}

/**
 * The client's address and scheme: by `trustProxy` when given (the peer being `clientAddress(req)` or the
 * socket), else `clientAddress(req)` or Express's own `trust proxy` decision (`req.ip`, `req.protocol`).
 */
function connectionOf(req: Request, options: ClientAddressOptions<Request>, trusted: TrustedProxies | undefined, peerTrusted = expressTrustsPeer(req)): RequestContext {
  if (trusted) return nodeRequestContext(req, { peer: options.clientAddress ? options.clientAddress(req) : req.socket.remoteAddress, trusted });
  const protocol = expressProtocol(req, peerTrusted);
  if (options.clientAddress) return { clientAddress: options.clientAddress(req), protocol };
  return { clientAddress: peerTrusted ? (req.ip ?? req.socket.remoteAddress) : req.socket.remoteAddress, protocol };
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
export function sendWebResponse(res: ServerResponse, response: globalThis.Response): Promise<void> {
  return writeWebResponse(res, response);
}

/** Answers the 413 of an oversized body; anything else goes to Express's error handling. */
function answerError(res: ServerResponse, next: NextFunction): (error: unknown) => void {
  return (error) => (error instanceof PayloadTooLargeError ? void writeWebResponse(res, error.toResponse()).catch(next) : next(error));
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
  const trusted = compileTrustProxy(options.trustProxy);
  return (req: Request, res: Response, next: NextFunction): void => {
    const pathname = requestPathname(req.originalUrl);
    // Most requests are for the app's own routes: those go on without a URL, a context or a Web Request.
    if (pathname === undefined || (!pathNeedsParsing(pathname) && !server.handles(pathname))) return next();
    // Metadata, JWKS and preflights: precomputed bytes, written without building a URL or a Web Request.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const peerTrusted = expressTrustsPeer(req);
    const context = connectionOf(req, options, trusted, peerTrusted);
    const answer = server.staticResponse(req.method, pathname, context);
    if (answer) return writeStaticResponse(res, answer);
    const url = requestURL(req, peerTrusted);
    if (!url || !server.handles(url.pathname)) return next();
    requestBody(req)
      .then((body) => answerNodeRequest(server, req, url, body, context))
      .then((answer) => writeAnswer(res, answer))
      .catch(answerError(res, next));
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
  trustProxy?: readonly string[];
  /** The peer's address, as for {@link keyward}. */
  clientAddress?: (req: Request) => string | undefined;
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
  const trusted = compileTrustProxy(options.trustProxy);
  const routeScopes = options.scopes ?? [];
  return (req: Request, res: Response, next: NextFunction): void => {
    const { clientAddress } = connectionOf(req, options, trusted);
    const authenticate = (extra?: readonly string[]) =>
      // The Authorization field alone, without a Web Request per guarded call.
      guard.authenticateHeader(headerField(req.rawHeaders, 'authorization'), {
        scopes: extra?.length ? [...routeScopes, ...extra] : routeScopes,
        // RFC 6750 §2.2: a form body some parser already read may carry the token too; the stream is never read here.
        bodyToken: hasBody(req) && wasParsed(req) && formBodyHasToken(req.get('content-type'), req.body),
        method: req.method,
        clientAddress,
      });
    // Without scopesFor there is nothing to wait for before the guard, which answers a cached token at once.
    (options.scopesFor ? Promise.resolve(req).then(options.scopesFor).then(authenticate) : authenticate())
      .then((result) => {
        if (!result.ok) return writeWebResponse(res, result.response);
        req.auth = result.auth;
        next();
      })
      .catch(next);
  };
}
