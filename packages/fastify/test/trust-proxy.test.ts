import Fastify from 'fastify';
import { proxyScenarios } from '../../core/test/proxy-scenarios.js';
import { keyward, requireBearerAuth } from '../src/index.js';

proxyScenarios('fastify', async (server, guard, trustProxy) => {
  const fastify = Fastify();
  await fastify.register(keyward, { server, trustProxy });
  fastify.post('/mcp', { preHandler: requireBearerAuth(guard, { trustProxy }) }, async () => 'ok');
  const base = await fastify.listen({ port: 0, host: '127.0.0.1' });
  return { base, close: () => fastify.close() };
});
