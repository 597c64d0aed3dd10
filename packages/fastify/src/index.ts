import type { IncomingMessage } from 'node:http';
import { KeywardConfigError, type AuthInfo, type AuthorizationServer, type RequestContext, type ResourceServerGuard } from '@keyward/core';
import {
  answerNodeRequest,
  answerParts,
  type ClientAddressOptions,
  compileTrustProxy,
  encodeParsedBody,
  formBodyHasToken,
  headerField,
  nodeRequestContext,
  PayloadTooLargeError,
  readNodeBody,
  requestPathname,
  responseParts,
} from '@keyward/core/node';
import type { TrustedProxies } from '@keyward/core/proxy';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, HTTPMethods, preHandlerAsyncHookHandler } from 'fastify';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by {@link requireBearerAuth}: the verified access token. */
    auth?: AuthInfo;
  }
}

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** The absolute URL of the request as the client addressed it (`trustProxy` decides about X-Forwarded-*). */
function requestURL(request: FastifyRequest): URL | null {
  try {
    return new URL(`${request.protocol}://${request.host}${request.url}`);
  } catch {
    return null;
  }
}

/** The bytes this plugin's parser read, by request: kept even when a hook replaces `request.body` later. */
const rawBodies = new WeakMap<FastifyRequest, Buffer | PayloadTooLargeError>();

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
  const { status, headers, body } = await responseParts(response);
  return reply.code(status).headers(headers).send(body);
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
export interface KeywardPluginOptions extends ClientAddressOptions<FastifyRequest> {
  server: AuthorizationServer;
}

/**
 * The client's address and scheme: by `trustProxy` when given (the peer being `clientAddress(request)` or
 * the socket), else `clientAddress(request)` or Fastify's own `trustProxy` (`request.ip`, `request.protocol`).
 */
function connectionOf(request: FastifyRequest, options: ClientAddressOptions<FastifyRequest>, trusted: TrustedProxies | undefined): RequestContext {
  if (!trusted) return { clientAddress: options.clientAddress ? options.clientAddress(request) : request.ip, protocol: request.protocol };
  return nodeRequestContext(request.raw, { peer: options.clientAddress ? options.clientAddress(request) : request.raw.socket.remoteAddress, trusted });
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
 * gets the exact bytes whether or not the app registered `@fastify/formbody`, even when a hook later
 * replaced `request.body`. Bodies are limited to the server's 64 KiB: a larger one is read to its end and
 * answered with an RFC-shaped 413.
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
export const keyward: FastifyPluginAsync<KeywardPluginOptions> = async (fastify, options) => {
  const { server } = options;
  const trusted = compileTrustProxy(options.trustProxy);
  if (fastify.prefix) throw new KeywardConfigError(`register keyward without a prefix (got ${fastify.prefix}); its paths come from the issuer`);
  // This plugin is encapsulated, so the parser below serves its routes only and the app's parsers stay as they are.
  fastify.removeAllContentTypeParsers();
  // The server's own limit (64 KiB), not Fastify's 1 MiB; an oversized body is read to its end before the 413.
  fastify.addContentTypeParser('*', (request, payload, done) => {
    readNodeBody(payload).then(
      (bytes) => (rawBodies.set(request, bytes), done(null, bytes)),
      (error: unknown) => (error instanceof PayloadTooLargeError ? (rawBodies.set(request, error), done(null, undefined)) : done(error as Error)),
    );
  });

  // Not an async function: a static answer is sent before the handler returns, with no promise for Fastify to wait on.
  const handler = (request: FastifyRequest, reply: FastifyReply): FastifyReply | Promise<FastifyReply> => {
    // Metadata, JWKS and preflights: precomputed bytes, sent without building a URL or a Web Request.
    // The connection goes along so that enforceHTTPS still refuses them over plain http.
    const context = connectionOf(request, options, trusted);
    const answer = server.staticResponse(request.method, requestPathname(request.url) ?? '', context);
    if (answer) return reply.code(answer.status).headers(answer.headers).send(answer.body ?? undefined);
    return answerRequest(request, reply, context);
  };

  const answerRequest = async (request: FastifyRequest, reply: FastifyReply, context: RequestContext): Promise<FastifyReply> => {
    const raw = rawBodies.get(request);
    if (raw instanceof PayloadTooLargeError) return sendWebResponse(reply, raw.toResponse());
    const url = requestURL(request);
    // A route pattern can match more than the server answers (a `/` inside a client id, say).
    if (!url || !server.handles(url.pathname)) {
      reply.callNotFound();
      return reply;
    }
    // The exact bytes this plugin read; a body some hook replaced with an object is encoded back otherwise.
    const body = raw ?? encodeParsedBody(request.body, request.headers['content-type']);
    const { status, headers, body: sent } = await answerParts(await answerNodeRequest(server, request.raw, url, body, context));
    return reply.code(status).headers(headers).send(sent);
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
  trustProxy?: readonly string[];
  /** The peer's address, as for {@link keyward}. */
  clientAddress?: (request: FastifyRequest) => string | undefined;
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
  const trusted = compileTrustProxy(options.trustProxy);
  const routeScopes = options.scopes ?? [];
  return async (request, reply) => {
    // RFC 6750 §2.2: the guard looks for a token in a form body too, so one sent twice is refused.
    const bodyToken = formBodyHasToken(request.headers['content-type'], request.body);
    // Without scopesFor nothing is awaited before the guard, which answers a cached token at once.
    const scopes = options.scopesFor ? [...routeScopes, ...((await options.scopesFor(request)) ?? [])] : routeScopes;
    // The Authorization field alone, without a Web Request per guarded call.
    const result = await guard.authenticateHeader(headerField(request.raw.rawHeaders, 'authorization'), {
      scopes,
      bodyToken,
      method: request.method,
      clientAddress: connectionOf(request, options, trusted).clientAddress,
    });
    if (!result.ok) return sendWebResponse(reply, result.response);
    request.auth = result.auth;
    (request.raw as IncomingMessage & { auth?: AuthInfo }).auth = result.auth;
  };
}
