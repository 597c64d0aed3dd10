import type { AuthorizationServer, RequestContext } from '../src/index.js';
import { ANSWER_PREREAD } from '../src/protocol/reply.js';

/**
 * Calls `observe` with every request that reaches the server's request handling and the context it came
 * with, whichever entry the adapter used: `fetch`, or the Node glue's path for a body it already read.
 * Static answers (metadata, JWKS, preflights) reach neither.
 */
export function observeRequests(server: AuthorizationServer, observe: (request: Request, context: RequestContext) => void): void {
  const fetch = server.fetch.bind(server);
  server.fetch = (request, context) => (observe(request, context ?? {}), fetch(request, context));
  const answer = server[ANSWER_PREREAD].bind(server);
  server[ANSWER_PREREAD] = (request, context, ...rest) => (observe(request, context), answer(request, context, ...rest));
}
