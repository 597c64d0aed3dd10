import { serve } from '@hono/node-server';
import { createApp } from './app.js';

const env = process.env;
const port = Number(env.PORT || 3011);
// Loopback by default: set HOST=0.0.0.0 (and an https OAUTH_ISSUER behind a proxy) to serve other machines.
const host = env.HOST || '127.0.0.1';

const example = await createApp(env);
const listener = serve({ fetch: example.app.fetch, port, hostname: host }, () => {
  const base = example.issuer.replace(/\/$/, '');
  console.log(`Keyward Hono example MCP server listening on http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  console.log(`  issuer                ${example.issuer}`);
  console.log(`  MCP endpoint          ${example.mcpURL}`);
  console.log(`  AS metadata           ${base}/.well-known/oauth-authorization-server`);
  console.log(`  resource metadata     ${base}/.well-known/oauth-protected-resource/mcp`);
  console.log(`  store                 ${example.store}`);
  console.log(`  public client         mcp-public-client (PKCE, no secret)`);
  if (env.OAUTH_CLIENT_ID) console.log(`  confidential client   ${env.OAUTH_CLIENT_ID} (client_secret_basic or client_secret_post)`);
  if (example.demoPassword) {
    const note = example.demoPassword.generated ? ' (generated for this run; set OAUTH_DEMO_PASSWORD to choose one)' : '';
    console.log(`  login                 demo / ${example.demoPassword.value}${note}`);
  }
  for (const warning of example.warnings) console.warn(`warning: ${warning}`);
});

async function shutdown(): Promise<void> {
  listener.close();
  // Ends keep-alive connections too; the MCP sessions' event streams end when example.close() closes them.
  if ('closeAllConnections' in listener) listener.closeAllConnections();
  await example.close();
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
