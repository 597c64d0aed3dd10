import { createApp } from './app.js';

const env = process.env;
const port = Number(env.PORT || 3009);
// Loopback by default: set HOST=0.0.0.0 (and an https OAUTH_ISSUER behind a proxy) to serve other machines.
const host = env.HOST || '127.0.0.1';

const example = await createApp(env);
const listener = example.app.listen(port, host, () => {
  const base = example.issuer.replace(/\/$/, '');
  console.log(`Keyward example MCP server listening on http://${host.includes(':') ? `[${host}]` : host}:${port}`);
  console.log(`  issuer                ${example.issuer}`);
  console.log(`  MCP endpoint          ${example.mcpURL}`);
  console.log(`  AS metadata           ${base}/.well-known/oauth-authorization-server`);
  console.log(`  resource metadata     ${base}/.well-known/oauth-protected-resource/mcp`);
  console.log(`  registration          ${base}/oauth/register (RFC 7591)`);
  console.log(`  store                 ${example.store}`);
  console.log(`  public client         mcp-public-client (PKCE, no secret)`);
  if (env.OAUTH_CLIENT_ID) console.log(`  confidential client   ${env.OAUTH_CLIENT_ID} (client_secret_basic or client_secret_post)`);
  if (example.demoPassword) {
    const note = example.demoPassword.generated ? ' (generated for this run; set OAUTH_DEMO_PASSWORD to choose one)' : '';
    console.log(`  login                 demo / ${example.demoPassword.value}${note}`);
  }
  if (example.adminPassword) {
    const note = example.adminPassword.generated ? ' (generated for this run; set OAUTH_ADMIN_PASSWORD to choose one)' : '';
    console.log(`  login (admin role)    admin / ${example.adminPassword.value}${note}`);
  }
  for (const provider of example.loginProviders) {
    console.log(`  sign in with          ${provider.displayName}, callback ${provider.callbackUrl} (register it at the provider)`);
  }
  for (const warning of example.warnings) console.warn(`warning: ${warning}`);
});

let stopping = false;
/** Stops accepting connections, ends open MCP sessions, closes the store (its pool or file), then exits. */
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  listener.close();
  listener.closeAllConnections();
  try {
    await example.close();
  } catch (error) {
    console.error('error while closing the store:', error);
    process.exitCode = 1;
  }
  process.exit();
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
