import { createApp } from './app.js';
import { listenError, loadDotEnv, portFrom, startupFailure } from './ops.js';

const env = process.env;

/** Prints why the example cannot start, in one line a person can act on, and exits 1. */
function fail(error: unknown): never {
  console.error(`error: ${startupFailure(error)}`);
  // The stack is for debugging the example itself, not for configuring it.
  if (env.DEBUG && error instanceof Error) console.error(error.stack);
  process.exit(1);
}

let example: Awaited<ReturnType<typeof createApp>>;
let port: number;
let host: string;
try {
  // .env in the example's folder (or ENV_FILE); variables already set in the environment win.
  loadDotEnv(new URL('..', import.meta.url), env);
  port = portFrom(env, 'PORT', 3010);
  // Loopback by default: set HOST=0.0.0.0 (and an https OAUTH_ISSUER behind a proxy) to serve other machines.
  host = env.HOST || '127.0.0.1';
  example = await createApp(env);
} catch (error) {
  fail(error);
}

const metricsListener = await Promise.all([
  example.app.listen({ port, host }).catch((error: unknown) => Promise.reject(listenError(error, port, host))),
  example.operations.listenMetrics(host),
]).then(
  ([, metrics]) => metrics,
  async (error: unknown) => {
    await example.close().catch(() => undefined);
    fail(error);
  },
);

const base = example.issuer.replace(/\/$/, '');
console.log(`Keyward Fastify example MCP server listening on http://${host.includes(':') ? `[${host}]` : host}:${port}`);
console.log(`  issuer                ${example.issuer}`);
console.log(`  MCP endpoint          ${example.mcpURL}`);
console.log(`  AS metadata           ${base}/.well-known/oauth-authorization-server`);
console.log(`  resource metadata     ${base}/.well-known/oauth-protected-resource/mcp`);
console.log(`  store                 ${example.store}`);
console.log(`  public client         mcp-public-client (PKCE, no secret)`);
if (env.OAUTH_CLIENT_ID) console.log(`  confidential client   ${env.OAUTH_CLIENT_ID} (client_secret_basic or client_secret_post)`);
if (example.demoPassword) {
  // A password someone chose stays out of the output (and so out of log files); a generated one must be shown.
  const shown = example.demoPassword.generated ? `${example.demoPassword.value} (generated for this run; set OAUTH_DEMO_PASSWORD to choose one)` : 'the password in OAUTH_DEMO_PASSWORD';
  console.log(`  login                 demo / ${shown}`);
}
const { config } = example.operations;
console.log(`  probes                ${base}/health, ${base}/ready`);
if (metricsListener) console.log(`  metrics               http://${host.includes(':') ? `[${host}]` : host}:${config.metricsPort}/metrics`);
else if (config.metricsOpen || config.metricsToken) console.log(`  metrics               ${base}/metrics${config.metricsOpen ? '' : ' (Authorization: Bearer $METRICS_TOKEN)'}`);
const oauthLimits = config.rateLimit ? `${config.rateLimit.max} requests per ${config.rateLimit.windowMs} ms` : "Keyward's defaults";
console.log(`  rate limits           per address: ${oauthLimits} on each OAuth endpoint, ${config.mcpRateLimit.max} per ${config.mcpRateLimit.windowMs} ms on /mcp`);
for (const warning of example.warnings) console.warn(`warning: ${warning}`);

async function shutdown(): Promise<void> {
  metricsListener?.close();
  await example.close();
  process.exit(0);
}
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());
