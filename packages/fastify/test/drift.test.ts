import Fastify from 'fastify';
import { adapterDriftScenarios } from '../../core/test/adapter-drift.js';
import * as adapter from '../src/index.js';

/** `a[b]=c` into { a: { b: 'c' } }, as qs-style parsers (and hooks built on them) do. */
function nestedForm(text: string): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  for (const [name, value] of new URLSearchParams(text)) {
    const match = /^([^[]+)\[([^\]]*)\]$/.exec(name);
    if (match) result[match[1]!] = { ...(result[match[1]!] as object), [match[2]!]: value };
    else result[name] = value;
  }
  return result;
}

adapterDriftScenarios({
  name: 'fastify',
  exports: adapter,
  start: async (server, guard, { trustProxy, clientAddress, preParse }) => {
    const fastify = Fastify();
    // An app-wide hook that turns form bodies into nested objects before any route sees them.
    if (preParse) {
      fastify.addHook('preValidation', async (request) => {
        if (Buffer.isBuffer(request.body) && request.headers['content-type']?.startsWith('application/x-www-form-urlencoded')) request.body = nestedForm(request.body.toString());
      });
    }
    const address = clientAddress === undefined ? {} : { clientAddress: () => clientAddress };
    await fastify.register(adapter.keyward, { server, trustProxy, ...address });
    fastify.post('/mcp', { preHandler: adapter.requireBearerAuth(guard, { trustProxy, ...address }) }, async () => 'ok');
    const base = await fastify.listen({ port: 0, host: '127.0.0.1' });
    return { base, close: () => fastify.close() };
  },
});
