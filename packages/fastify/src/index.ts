import type { IncomingMessage } from 'node:http';
import { KeywardConfigError, type AuthInfo, type AuthorizationServer, type RequestContext, type ResourceServerGuard } from '@keyward/core';
import { clientAddressFrom, trustedProxies, type TrustedProxies } from '@keyward/core/proxy';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods, preHandlerAsyncHookHandler } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireBearerAuth}: the verified access token. */
    auth?: AuthInfo;
  }
}

const FORM = /^application\/x-www-form-urlencoded\b/i;
const FRAMING = /^(?:content-length|transfer-encoding)$/i;
const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The absolute URL of the request as the client addressed it (`trustProxy` decides about X-Forwarded-*). */
function requestURL(request: FastifyRequest): URL | null {
  try {
    return new URL(`${request.protocol}://${request.host}${request.url}`);
  } catch {
    return null;
  }
}

function requestHeaders(request: FastifyRequest): Headers {
  const headers = new Headers();
  // rawHeaders keeps repeated fields apart, as the client sent them; HTTP/2 pseudo-headers are not fields.
  // The body handed on is a copy with its own length, which the Request computes, so the framing fields stay behind.
  const raw = request.raw.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) if (!raw[i]!.startsWith(':') && !FRAMING.test(raw[i]!)) headers.append(raw[i]!, raw[i + 1]!);
  return headers;
}

/**
 * The body bytes for a Web Request. This plugin's own parser keeps them as a Buffer; an object means a
 * parser or hook outside it got there first, so it is encoded back by content type.
 */
function encodeBody(body: unknown, contentType: string | undefined): BodyInit | null {
  if (body === undefined || body === null) return null;
  if (typeof body === 'string') return body;
  // The Request copies the bytes itself.
  if (Buffer.isBuffer(body)) return body as Uint8Array<ArrayBuffer>;
  if (!FORM.test(contentType ?? '')) return JSON.stringify(body);
  const form = new URLSearchParams();
  // @fastify/formbody turns `scope=a&scope=b` into an array; it must stay repeated, since OAuth rejects it.
  for (const [name, value] of Object.entries(body)) for (const item of [value].flat()) form.append(name, String(item));
  return form.toString();
}

/**
 * A header field as `Headers.get()` gives it: repeated fields joined with ", ". Node's `headers` object keeps
 * only the first `Authorization`, which would let a request with two pass where the Web path refuses it.
 */
function headerField(raw: string[], name: string): string | null {
  let value: string | null = null;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (raw[i]!.length === name.length && raw[i]!.toLowerCase() === name) value = value === null ? raw[i + 1]! : `${value}, ${raw[i + 1]!}`;
  }
  return value;
}

/** Whether form bytes carry a non-empty `access_token`, as the guard's own check of a Web Request decides. */
function formHasToken(body: BodyInit | null): boolean {
  const text = typeof body === 'string' ? body : body instanceof Uint8Array ? Buffer.from(body).toString('utf8') : '';
  return new URLSearchParams(text).getAll('access_token').some((value) => value !== '');
}

function toWebRequest(request: FastifyRequest, url: URL, body: BodyInit | null): Request {
  return new Request(url, { method: request.method, headers: requestHeaders(request), body });
}

/**
 * Writes a Web `Response` with a Fastify reply: status, every header (each `Set-Cookie` kept apart) and
 * the body bytes. Use it to send what `server.completeInteraction()` returns from your own login route.
 *
 * @example
 * ```ts
 * fastify.post('/login', async (request, reply) => {
 *   const { interaction, username, password } = request.body as Record<string, string>;
 *   const user = await checkPassword(username, password);
 *   return sendWebResponse(reply, await server.completeInteraction(interaction, { subject: user.id }));
 * });
 * ```
 * @see [RFC 9110 §15](https://www.rfc-editor.org/rfc/rfc9110#section-15)
 */
export async function sendWebResponse(reply: FastifyReply, response: Response): Promise<FastifyReply> {
  reply.code(response.status);
  // Headers yields every Set-Cookie on its own, and reply.header() appends Set-Cookie values (RFC 6265 §3).
  for (const [name, value] of response.headers) reply.header(name, value);
  return reply.send(response.body ? Buffer.from(await response.arrayBuffer()) : undefined);
}

/**
 * Options of the {@link keyward} plugin.
 *
 * @example
 * ```ts
 * const options: KeywardPluginOptions = { server: new AuthorizationServer({ issuer, store }) };
 * ```
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export interface KeywardPluginOptions {
  server: AuthorizationServer;
  /**
   * Addresses and CIDR ranges of your reverse proxies (or `loopback`, `uniquelocal`). X-Forwarded-For and
   * X-Forwarded-Proto then count, but only from those peers; otherwise the socket is the client. Without
   * it Fastify's own `trustProxy` decides (`request.ip`, `request.protocol`).
   */
  trustProxy?: string[];
}

/** The client's address and scheme: by `trustProxy` when given, else by Fastify's `trustProxy`. */
function connectionOf(request: FastifyRequest, trusted: TrustedProxies | undefined): RequestContext {
  if (!trusted) return { clientAddress: request.ip, protocol: request.protocol };
  const header = (name: string) => [request.headers[name] ?? ''].flat().join(',');
  const socket = request.raw.socket as { remoteAddress?: string; encrypted?: boolean };
  const { address, protocol } = clientAddressFrom({ peer: socket.remoteAddress, encrypted: socket.encrypted === true, forwardedFor: header('x-forwarded-for'), forwardedProto: header('x-forwarded-proto') }, trusted);
  return { clientAddress: address, protocol };
}

function routePaths(server: AuthorizationServer): string[] {
  // find-my-way reads `:` as the start of a parameter; `::` is a literal colon.
  const paths = server.paths.map((path) => path.replaceAll(':', '::'));
  // RFC 7592: each registered client's configuration endpoint is the registration endpoint plus its id.
  const registration = new URL(server.endpoints.registration).pathname;
  if (server.handles(registration)) paths.push(`${registration.replaceAll(':', '::')}/:clientId`);
  return paths;
}

/**
 * A Fastify plugin that serves a Keyward {@link AuthorizationServer}: one route per endpoint (metadata,
 * authorize, token, JWKS, userinfo, registration, revocation, introspection, login pages), each handed to
 * `server.fetch` with `request.ip` as the client address. Register it at the root: its paths come from the
 * server's issuer, so a `prefix` is refused. Its routes read bodies with their own parser, so the server
 * gets the exact bytes whether or not the app registered `@fastify/formbody`; a body some hook already
 * turned into an object is encoded back.
 *
 * @example
 * ```ts
 * const server = new AuthorizationServer({ issuer: 'http://localhost:3010', store: new MemoryStore() });
 * const fastify = Fastify();
 * await fastify.register(keyward, { server });
 * ```
 * @see [OAuth 2.1 §3](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3)
 * @see [RFC 8414 §3](https://www.rfc-editor.org/rfc/rfc8414#section-3)
 */
export const keyward: FastifyPluginAsync<KeywardPluginOptions> = async (fastify, { server, trustProxy }) => {
  const trusted = trustProxy && trustedProxies(trustProxy);
  if (fastify.prefix) throw new KeywardConfigError(`register keyward without a prefix (got ${fastify.prefix}); its paths come from the issuer`);
  // This plugin is encapsulated, so the parser below serves its routes only and the app's parsers stay as they are.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // Metadata, JWKS and preflights: precomputed bytes, sent without building a URL or a Web Request.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const context = connectionOf(request, trusted);
    const query = request.url.indexOf('?');
    const answer = server.staticResponse(request.method, query < 0 ? request.url : request.url.slice(0, query), context);
    if (answer) return reply.code(answer.status).headers(answer.headers).send(answer.body ?? undefined);
    const url = requestURL(request);
    // A route pattern can match more than the server answers (a `/` inside a client id, say).
    if (!url || !server.handles(url.pathname)) {
      reply.callNotFound();
      return reply;
    }
    const body = encodeBody(request.body, request.headers['content-type']);
    return sendWebResponse(reply, await server.fetch(toWebRequest(request, url, body), context));
  };
  for (const url of routePaths(server)) fastify.route({ method: METHODS, url, exposeHeadRoute: false, handler });
};
Object.assign(keyward, { [Symbol.for('fastify.display-name')]: '@keyward/fastify' });

/**
 * Options of {@link requireBearerAuth}.
 *
 * @example
 * ```ts
 * const options: RequireBearerAuthOptions = { scopesFor: (request) => (isAdminCall(request.body) ? ['mcp:admin'] : []) };
 * ```
 * @see [RFC 6750 §3.1](https://www.rfc-editor.org/rfc/rfc6750#section-3.1)
 */
export interface RequireBearerAuthOptions {
  /** Scopes this route needs beyond the guard's own. */
  scopes?: readonly string[];
  /**
   * Scopes one request needs, decided from it (its parsed body, say): step-up for a tool that needs more.
   * An exception goes to Fastify's error handler.
   */
  scopesFor?: (request: FastifyRequest) => readonly string[] | Promise<readonly string[]>;
  /** Your reverse proxies, as for {@link keyward}: the guard's rate limit counts per client address. */
  trustProxy?: string[];
}

/**
 * A `preHandler` that protects routes with RFC 6750 bearer tokens verified by a {@link ResourceServerGuard}
 * (typically `server.createGuard()`). On success `request.auth` holds the token's {@link AuthInfo}, and so
 * does `request.raw.auth`, where the MCP SDK's `StreamableHTTPServerTransport` reads it; otherwise the
 * guard's 401/403 challenge is sent, with `resource_metadata` pointing MCP clients at discovery. A 403
 * `insufficient_scope` names every scope needed, those of `scopesFor` included.
 *
 * @example
 * ```ts
 * const adminTool = (request: FastifyRequest) => ((request.body as { params?: { name?: string } })?.params?.name === 'admin_stats' ? ['mcp:admin'] : []);
 * fastify.post('/mcp', { preHandler: requireBearerAuth(server.createGuard({ scopes: ['mcp:tools'] }), { scopesFor: adminTool }) }, async (request, reply) => {
 *   reply.hijack();
 *   await transport.handleRequest(request.raw, reply.raw, request.body); // tools receive request.auth as extra.authInfo
 * });
 * ```
 * @see [RFC 6750 §2.1, §3](https://www.rfc-editor.org/rfc/rfc6750#section-3)
 * @see [RFC 9728 §5.1](https://www.rfc-editor.org/rfc/rfc9728#section-5.1)
 */
export function requireBearerAuth(guard: ResourceServerGuard, options: RequireBearerAuthOptions = {}): preHandlerAsyncHookHandler {
  const trusted = options.trustProxy && trustedProxies(options.trustProxy);
  return async (request, reply) => {
    const contentType = request.headers['content-type'];
    // RFC 6750 §2.2: the guard looks for a token in a form body too, so one sent twice is refused.
    const bodyToken = FORM.test(contentType ?? '') && formHasToken(encodeBody(request.body, contentType));
    const scopes = [...(options.scopes ?? []), ...((await options.scopesFor?.(request)) ?? [])];
    // The Authorization field alone, without a Web Request per guarded call.
    const result = await guard.authenticateHeader(headerField(request.raw.rawHeaders, 'authorization'), {
      scopes,
      bodyToken,
      method: request.method,
      clientAddress: connectionOf(request, trusted).clientAddress,
    });
    if (!result.ok) return sendWebResponse(reply, result.response);
    request.auth = result.auth;
    (request.raw as IncomingMessage & { auth?: AuthInfo }).auth = result.auth;
  };
}
