/**
 * A bare framework server answering one JSON route, the baseline each adapter's guarded MCP request is
 * compared with: `bare-server.ts <express|fastify|hono> <port>`.
 */
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';

const [framework, portText] = process.argv.slice(2);
const port = Number(portText);
const body = { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'hello' }] } };

if (framework === 'express') {
  const app = express();
  app.post('/bare', express.json(), (_req, res) => void res.json(body));
  app.listen(port, '127.0.0.1', () => console.log('ready'));
} else if (framework === 'fastify') {
  const app = Fastify();
  app.post('/bare', async () => body);
  await app.listen({ port, host: '127.0.0.1' });
  console.log('ready');
} else if (framework === 'hono') {
  const app = new Hono();
  app.post('/bare', async (c) => c.json(body));
  serve({ fetch: app.fetch, port, hostname: '127.0.0.1' }, () => console.log('ready'));
} else {
  throw new Error(`unknown framework ${framework}`);
}
